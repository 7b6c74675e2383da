"""`phasefold reconstruct IN_DIR -o OUT_DIR [--jobs N] [--overwrite]`: every audio and .npz file of a folder
tree (engine.inputs.resolve_inputs) into OUT_DIR/<the same relative path>.wav, the tree kept.

Each file runs exactly as a single-file `phasefold reconstruct` does: the command hands over its own
``prepare`` and ``reconstruct_one`` (phasefold.commands.reconstruct), run with the same options and seed.
A file whose output exists is skipped (counted; ``--overwrite`` redoes it). A file that fails is named at
the end, one line each, and the run exits 1; the other files are still written. With ``--jobs N``
(limits.MAX_JOBS), N worker processes (started by 'spawn', one thread each) share the files; the outputs
are the same bytes as with one.

One progress bar on stderr, only where stderr is a terminal: tqdm where it is installed, else a count.
Ctrl-C, SIGTERM and SIGHUP (phasefold.exit_signals) end the run with no ``.part`` file left: the main
process stops the workers with SIGTERM, and a worker's handler unwinds the file it is writing (its
temporary file is deleted: engine.outputs.atomic_output) before the worker exits.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from phasefold.engine.errors import InputError

#: environment of a worker: every thread pool it may start has one thread
ONE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def plan(in_dir: Path, out_dir: Path, overwrite: bool) -> tuple[list[tuple[Path, Path]], int]:
    """(source, output) of every file to reconstruct, in order, and how many were skipped (their output
    exists). The files under ``out_dir`` (an output folder inside the input folder) are not inputs. One
    InputError line where two sources would give the same output (a.flac and a.npz) or none is left."""
    from phasefold.engine.inputs import resolve_inputs

    out_resolved = out_dir.resolve()
    if out_resolved == in_dir.resolve():
        raise InputError(f"{out_dir}: is the input folder; give another output folder")
    sources = [p for p in resolve_inputs([str(in_dir)]) if not p.resolve().is_relative_to(out_resolved)]
    if not sources:
        raise InputError(f"{in_dir}: no audio or .npz files in this folder (outside the output folder)")
    todo, skipped, seen = [], 0, {}
    for source in sources:
        output = out_dir / source.relative_to(in_dir).with_suffix(".wav")
        if output in seen:
            raise InputError(f"{seen[output]} and {source} would both be written to {output}")
        seen[output] = source
        if output.exists() and not overwrite:
            skipped += 1
        else:
            todo.append((source, output))
    return todo, skipped


def check_output_folder(in_dir: Path, out_dir: Path | None) -> Path:
    """``out_dir`` as an output folder, one that exists or can be made in a folder that does
    (``make_output_folder`` makes it once the files are known), else one InputError line."""
    if out_dir is None:
        raise InputError(f"{in_dir}: is a folder; give the output folder with -o OUT_DIR")
    if out_dir.suffix.lower() == ".wav" or (out_dir.exists() and not out_dir.is_dir()):
        raise InputError(f"{in_dir}: is a folder; -o must name an output folder, not the file {out_dir}")
    where = out_dir if out_dir.is_dir() else out_dir.parent
    if not where.is_dir():
        raise InputError(f"{out_dir}: the folder {where} does not exist")
    if not os.access(where, os.W_OK | os.X_OK):
        raise InputError(f"{out_dir}: cannot write there (the folder {where} is not writable)")
    return out_dir


def make_output_folder(out_dir: Path) -> None:
    """Make the output folder checked by ``check_output_folder`` (one InputError line where it fails)."""
    try:
        out_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot make the output folder ({exc.strerror or exc})") from None


class Progress:
    """One progress bar over the files on stderr, shown only where stderr is a terminal: tqdm where it is
    installed, else a count rewritten in place; gone when done."""

    def __init__(self, total: int) -> None:
        self.total, self.count = total, 0
        self.shown = sys.stderr.isatty()
        try:
            from tqdm import tqdm
        except ModuleNotFoundError:
            self._bar = None
        else:
            self._bar = tqdm(total=total, disable=not self.shown, leave=False, file=sys.stderr, unit="file")
        self._draw()

    def update(self) -> None:
        self.count += 1
        if self._bar is not None:
            self._bar.update()
        self._draw()

    def _draw(self) -> None:
        if self.shown and self._bar is None:
            print(f"\r{self.count}/{self.total} files", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


# -- the work of one file, in this process or a worker ---------------------------------------------------

#: a worker's options, prepared method and per-file function
_worker: tuple[argparse.Namespace, object, Callable] | None = None
_in_file = False  # a worker is writing a file: a signal unwinds it (its .part is deleted)
_stopping = False  # a worker got an exit signal


def _one(args: argparse.Namespace, prepared, run_one: Callable, source: Path, output: Path) -> str | None:
    """Reconstruct one file; None, or the one line saying why it failed (any error of this file: one file
    must not end the others). Notes are dropped (a run of many files prints none)."""
    from phasefold.engine.errors import PhasefoldError
    from phasefold.engine.evaluation import one_line

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        run_one(args, prepared, source, output, lambda text: None)
    except PhasefoldError as exc:
        return one_line(exc)
    except OSError as exc:
        return f"{output}: {exc.strerror or exc}"
    except Exception as exc:  # noqa: BLE001 - named at the end with its kind, as every other failure
        return f"{type(exc).__name__}: {one_line(exc)}"
    return None


def _worker_signal(signum: int, frame) -> None:
    """A worker's exit signals: the first unwinds the file being written (or leaves at once where there is
    none); later ones (the main process's SIGTERM after a Ctrl-C) are ignored, so the cleanup finishes."""
    from phasefold.exit_signals import interruption

    global _stopping
    if _stopping:
        return
    _stopping = True
    if not _in_file:
        os._exit(128 + signum)  # nothing half-written: leave at once
    raise interruption(signum)


def _start_worker(args: argparse.Namespace, prepare: Callable, run_one: Callable) -> None:
    """A worker's initializer: one thread, the signals that unwind its file, the method built once."""
    from phasefold.exit_signals import EXIT_SIGNALS
    from threadpoolctl import threadpool_limits

    global _worker
    threadpool_limits(limits=1)
    for sig in EXIT_SIGNALS:  # one the run was started with ignored (nohup) stays ignored
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _worker_signal)
    _worker = (args, prepare(args), run_one)


def _work(source: Path, output: Path) -> str | None:
    """A worker's task: ``_one``; a signal while writing deletes the temporary file, then ends the worker."""
    global _in_file
    args, prepared, run_one = _worker
    _in_file = True
    try:
        return _one(args, prepared, run_one, source, output)
    except KeyboardInterrupt:  # the signal unwound the file being written (atomic_output deleted it)
        os._exit(130)
    finally:
        _in_file = False


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (POSIX) with SIGHUP ignored: a closed terminal hangs up the
    whole process group, and a tracker ended by it is relaunched and prints tracebacks (it ignores SIGINT
    and SIGTERM itself; it ends when this process does)."""
    if not hasattr(signal, "SIGHUP"):
        return
    from multiprocessing import resource_tracker

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        resource_tracker.ensure_running()
    finally:
        signal.signal(signal.SIGHUP, previous)


def _in_workers(
    args: argparse.Namespace,
    todo: list[tuple[Path, Path]],
    progress: Progress,
    prepare: Callable,
    run_one: Callable,
) -> dict:
    """source -> failure line (or None) of every file, by ``args.jobs`` worker processes (each prepares
    the method once: ``prepare``, and runs ``run_one`` per file)."""
    _start_resource_tracker()
    env = {name: os.environ.get(name) for name in ONE_THREAD_ENV}
    os.environ.update(dict.fromkeys(ONE_THREAD_ENV, "1"))  # inherited by the spawned workers
    try:
        pool = ProcessPoolExecutor(
            args.jobs,
            multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(args, prepare, run_one),
        )
    finally:
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    results: dict[Path, str | None] = {}
    try:
        running: dict[Future, Path] = {pool.submit(_work, s, o): s for s, o in todo}
        pending = set(running)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                results[running[future]] = future.result()
                progress.update()
    except BaseException as exc:  # a signal, a lost worker: stop the others, no file half-written
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker deletes its .part and exits
        for process in processes:
            process.join(10)
        if isinstance(exc, BrokenProcessPool):
            raise InputError(f"a worker process ended without finishing its file ({exc})") from None
        raise
    pool.shutdown()
    return results


def run_folder(args: argparse.Namespace, prepare: Callable, run_one: Callable) -> int:
    """Reconstruct the folder ``args.input`` into the folder ``args.output``; 1 where a file failed.
    ``prepare(args)`` checks the options and builds the method (once per process), ``run_one(args,
    prepared, source, output, note)`` reconstructs one file (phasefold.commands.reconstruct)."""
    in_dir = args.input
    out_dir = check_output_folder(in_dir, args.output)
    prepared = prepare(args)  # the options checked and the method built before any file
    todo, skipped = plan(in_dir, out_dir, args.overwrite)
    make_output_folder(out_dir)
    progress = Progress(len(todo))
    try:
        if args.jobs == 1 or len(todo) <= 1:
            results = {}
            for source, output in todo:
                results[source] = _one(args, prepared, run_one, source, output)
                progress.update()
        else:
            results = _in_workers(args, todo, progress, prepare, run_one)
    finally:
        progress.close()
    failures = [(source, results[source]) for source, _ in todo if results[source] is not None]
    written = len(todo) - len(failures)
    skip = f", {skipped} skipped (their output exists; --overwrite redoes them)" if skipped else ""
    fail = f", {len(failures)} failed" if failures else ""
    print(f"wrote {written} files under {out_dir}{skip}{fail}")
    for source, reason in failures:  # the file named once: most reasons begin with it
        named = reason if reason.startswith(f"{source}: ") else f"{source}: {reason}"
        print(f"phasefold reconstruct: failed: {named}", file=sys.stderr)
    return 1 if failures else 0

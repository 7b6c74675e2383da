"""THE evaluation of phasefold (docs/results.md): the scores, the protocol, and methods scored over files.

- Scores (docs/architecture.md): SC, STOI, ESTOI, PESQ wide-band, each comparing an estimate with the clean
  reference at the same length and alignment; real-time factors timed on one thread: ``one_thread()`` caps
  the BLAS/OpenMP pools through threadpoolctl (numpy's FFT, pocketfft, is single-threaded already) and
  ``Stopwatch`` records wall and process CPU time, so a caller can check that CPU time / wall time stays
  near 1.
- The protocol (``EvaluationProtocol``): one condition (exact magnitudes at a hop, or modified magnitudes at
  an SNR) over a list of files: file i is measured at the condition's hop (modified: white noise at the SNR
  with noise seed 1000 + i, then the oracle Wiener mask: engine.inputs.measure), an offline method starts
  it from random phase seed i, SC is measured against those measurements and STOI / ESTOI / PESQ against
  the clean signal. ``seed`` shifts both seeds (0 gives the protocol of the model cards).
- ``evaluate``: methods scored over files under the protocol, with their one-thread real-time factors (what
  `phasefold evaluate`, the benchmarks, model selection and the model cards' metrics run); ``format_table``.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import soxr
from phasefold.engine.analysis import analysis_config
from phasefold.engine.blocks import Framer
from phasefold.engine.dataset import split_files
from phasefold.engine.errors import InputError, PhasefoldError
from phasefold.engine.inputs import (
    check_audible,
    is_magnitude_file,
    load_audio,
    load_measurements,
    measure,
)
from phasefold.engine.mel import MelConfig, linear_mel, melspectrogram
from phasefold.engine.mel_methods import run_mel
from phasefold.engine.methods import reconstruct
from phasefold.engine.runners import Method
from phasefold.engine.stft import HOP, MAGNITUDE_BLOCK_FRAMES, N_FFT, SAMPLE_RATE, StftConfig, magnitude

# -- the scores -----------------------------------------------------------------------------------------
PESQ_RATE = 16000
PESQ_MIN_SECONDS = 0.25  # the pesq library refuses shorter signals (BufferTooShortError)
# The pesq library (the P.862 reference code) keeps at most 50 utterances of the reference (speech runs of at
# least 200 ms between pauses of more than 200 ms) in fixed tables and writes past them when there are more:
# the scores go wrong silently, then the process dies (segmentation fault; measured at 30 s of dense bursts,
# 100 s of the demo speech, about 230 s of TIMIT sentences). At most about 39 such utterances fit in 15 s, so
# longer signals are scored in equal segments of at most 15 s.
PESQ_SEGMENT_SECONDS = 15.0


def _check_pair(ref: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    est = np.asarray(est, dtype=np.float64).reshape(-1)
    if ref.shape != est.shape:
        raise InputError(f"reference ({ref.size} samples) and estimate ({est.size} samples) differ in length")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(est))):
        raise InputError("cannot score audio with NaN or infinite samples")
    return ref, est


class SpectralConvergence:
    """SC accumulated as a signal is made: ``measured`` takes the measurements r in blocks of frames,
    ``made`` the estimate y in blocks of samples, ``db`` ends it. The sums run over the same blocks of
    frames for any blocking (MAGNITUDE_BLOCK_FRAMES from frame 0), so the figure is the same to the bit;
    what is held is the frames one side has and the other not yet."""

    def __init__(self, cfg: StftConfig) -> None:
        self.cfg = cfg
        self._framer = Framer(cfg)
        self._est: list[np.ndarray] = []
        self._ref: list[np.ndarray] = []
        self.error2 = self.norm2 = 0.0
        self.frames = 0  # frames summed

    def measured(self, r: np.ndarray) -> None:
        self._ref.append(np.asarray(r))
        self._sum(final=False)

    def made(self, y: np.ndarray) -> None:
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        for i in range(0, y.size, MAGNITUDE_BLOCK_FRAMES * self.cfg.hop):
            self._est.append(self._framer.push(y[i : i + MAGNITUDE_BLOCK_FRAMES * self.cfg.hop]))
            self._sum(final=False)

    def close(self) -> None:
        """End the sums once everything is given (the estimate's last frames: its back padding)."""
        self._est.append(self._framer.finish())
        n_est, n_ref = (sum(b.shape[0] for b in held) + self.frames for held in (self._est, self._ref))
        if n_est != n_ref:
            raise InputError(f"signal gives {n_est} frames but the measurements hold {n_ref}")
        self._sum(final=True)

    def db(self) -> float:
        """SC = 20 log10(|| |A y|^d - r || / || r ||) in dB over everything given."""
        return joint_db([self])

    def _sum(self, final: bool) -> None:
        while True:
            n = min(sum(b.shape[0] for b in held) for held in (self._est, self._ref))
            n = min(n, MAGNITUDE_BLOCK_FRAMES)
            if n == 0 or (n < MAGNITUDE_BLOCK_FRAMES and not final):
                return
            est, ref = _take(self._est, n), np.asarray(_take(self._ref, n), dtype=np.float64)
            self.error2 += float(np.sum((est - ref) ** 2))
            self.norm2 += float(np.sum(ref**2))
            self.frames += n


def joint_db(meters: Sequence[SpectralConvergence]) -> float:
    """The SC in dB of several signals together (the channels of a file): their squared errors and norms
    summed (one meter: its own SC); each meter is closed."""
    for meter in meters:
        meter.close()
    error2, norm2 = sum(m.error2 for m in meters), sum(m.norm2 for m in meters)
    if norm2 == 0.0:
        raise InputError("spectral convergence is undefined for all-zero measurements (silent reference)")
    return float(10.0 * np.log10(max(error2, 1e-300) / norm2))


def _take(held: list[np.ndarray], n: int) -> np.ndarray:
    """The first ``n`` frames of the blocks ``held``, removed from it."""
    out = held[0][:n] if held[0].shape[0] >= n else np.concatenate(held)[:n]
    rest = n
    while rest:
        if held[0].shape[0] <= rest:
            rest -= held.pop(0).shape[0]
        else:
            held[0], rest = held[0][rest:], 0
    return out


def spectral_convergence_db(y: np.ndarray, r: np.ndarray, cfg: StftConfig) -> float:
    """SC = 20 log10(|| |A y|^d - r || / || r ||) in dB (lower is better)."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    r = np.asarray(r)
    n_frames = cfg.n_frames(y.size)
    if r.shape != (n_frames, cfg.n_bins):
        raise InputError(f"signal gives {n_frames} frames but the measurements hold {r.shape[0]}")
    meter = SpectralConvergence(cfg)
    meter.measured(r)
    meter.made(y)
    return meter.db()


def stoi(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Short-time objective intelligibility (pystoi)."""
    from pystoi import stoi as _stoi

    ref, est = _check_pair(ref, est)
    return float(_stoi(ref, est, sr, extended=False))


def estoi(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Extended STOI (pystoi, extended=True)."""
    from pystoi import stoi as _stoi

    ref, est = _check_pair(ref, est)
    return float(_stoi(ref, est, sr, extended=True))


def check_duration(n_samples: int, sr: int) -> None:
    """InputError where a signal is too short to be scored (PESQ's minimum)."""
    if n_samples < PESQ_MIN_SECONDS * sr:
        raise InputError(
            f"too short to score: {n_samples} samples ({n_samples / sr:.3f} s); "
            f"PESQ needs at least {PESQ_MIN_SECONDS} s"
        )


def pesq_wb(
    ref: np.ndarray, est: np.ndarray, sr: int, segment_seconds: float = PESQ_SEGMENT_SECONDS
) -> float:
    """Wide-band PESQ (ITU-T P.862.2) at 16 kHz (other rates resampled with soxr); signals longer than
    ``segment_seconds`` are scored in equal segments, mean weighted by length (silent segments left out)."""
    from pesq import NoUtterancesError, PesqError, pesq

    ref, est = _check_pair(ref, est)
    check_duration(ref.size, sr)
    if not np.any(ref):
        raise InputError("PESQ cannot score against a silent reference")
    if not np.any(est):
        raise InputError("PESQ cannot score a silent estimate")
    if sr != PESQ_RATE:
        ref = soxr.resample(ref, sr, PESQ_RATE, quality="HQ")
        est = soxr.resample(est, sr, PESQ_RATE, quality="HQ")
    n_segments = -(-ref.size // int(segment_seconds * PESQ_RATE))
    edges = np.linspace(0, ref.size, n_segments + 1).round().astype(int)
    scores, weights = [], []
    for start, stop in itertools.pairwise(edges):
        try:
            scores.append(pesq(PESQ_RATE, ref[start:stop], est[start:stop], "wb"))
        except NoUtterancesError:
            continue
        except PesqError as exc:
            raise InputError(f"PESQ cannot score this signal: {type(exc).__name__} {exc}".strip()) from None
        weights.append(stop - start)
    if not scores:
        raise InputError("PESQ finds no speech in the reference (no utterances detected)")
    return float(np.average(scores, weights=weights))


def evaluate_signal(
    ref: np.ndarray, est: np.ndarray, cfg: StftConfig, r: np.ndarray | None = None
) -> dict[str, float]:
    """All quality scores of ``est`` against ``ref``; SC against ``r`` (default |A ref|^d)."""
    ref, est = _check_pair(ref, est)
    check_duration(ref.size, cfg.sample_rate)  # before STOI, which fails on very short signals
    if r is None:
        r = magnitude(ref, cfg)
    sr = cfg.sample_rate
    return {
        "sc_db": spectral_convergence_db(est, r, cfg),
        "stoi": stoi(ref, est, sr),
        "estoi": estoi(ref, est, sr),
        "pesq": pesq_wb(ref, est, sr),
    }


@contextmanager
def one_thread() -> Iterator[None]:
    """Limit BLAS/OpenMP thread pools to one thread inside the block (for real-time factors)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@dataclass
class Stopwatch:
    """Wall and process-CPU seconds of a ``with`` block."""

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._c0


def real_time_factor(seconds: float, n_samples: int, sr: int) -> float:
    """Compute time divided by the duration of the audio produced."""
    if n_samples <= 0:
        raise InputError("real-time factor of an empty signal is undefined")
    return float(seconds * sr / n_samples)


# -- the protocol ---------------------------------------------------------------------------------------
NOISE_SEED_OFFSET = 1000
#: the model cards' conditions: name -> (hop, modified SNR in dB or None, n_fft, sample rate in Hz)
CONDITIONS = {
    "exact_hop256": (256, None, N_FFT, SAMPLE_RATE),
    "exact_hop512": (512, None, N_FFT, SAMPLE_RATE),
    "modified_snr5": (256, 5.0, N_FFT, SAMPLE_RATE),
    "exact_sr16000_nfft512_hop128": (128, None, 512, 16000),  # TIMIT's own rate, 32 ms frames
}


@dataclass(frozen=True)
class EvaluationProtocol:
    """One condition (hop, SNR of modified magnitudes or None for exact, n_fft and the sample rate the files
    are read at) and the seeds of file i."""

    hop: int = HOP
    snr_db: float | None = None
    seed: int = 0
    n_fft: int = N_FFT
    sample_rate: int = SAMPLE_RATE
    stft: tuple[tuple[str, object], ...] = ()  # the STFT's other settings: (StftConfig keyword, value)

    def __post_init__(self) -> None:
        _ = self.cfg  # ValueError for settings the STFT cannot use

    @classmethod
    def condition(cls, name: str) -> EvaluationProtocol:
        """The protocol of a model card's condition (engine.evaluation.CONDITIONS)."""
        if name not in CONDITIONS:
            raise ValueError(f"unknown condition {name!r}; choose one of {', '.join(CONDITIONS)}")
        hop, snr_db, n_fft, sample_rate = CONDITIONS[name]
        return cls(hop, snr_db, n_fft=n_fft, sample_rate=sample_rate)

    @property
    def cfg(self) -> StftConfig:
        """The STFT settings of the measurements."""
        return StftConfig(n_fft=self.n_fft, hop=self.hop, sample_rate=self.sample_rate, **dict(self.stft))

    @property
    def name(self) -> str:
        """The condition's name, as the model cards write it (exact_hop256, modified_snr5,
        exact_sr16000_nfft512_hop128, ...)."""
        other = (self.n_fft, self.sample_rate) != (N_FFT, SAMPLE_RATE)
        stft = f"_sr{self.sample_rate}_nfft{self.n_fft}" if other else ""
        if self.snr_db is None:
            return f"exact{stft}_hop{self.hop}"
        hop = "" if self.hop == HOP and not other else f"_hop{self.hop}"
        return f"modified_snr{self.snr_db:g}{stft}{hop}"

    def phase_seed(self, index: int) -> int:
        """Seed of the random initial phase of file ``index``."""
        return self.seed + index

    def noise_seed(self, index: int) -> int:
        """Seed of the white noise of file ``index`` (modified magnitudes)."""
        return NOISE_SEED_OFFSET + self.seed + index

    def measure(self, clean: np.ndarray, index: int, cfg: StftConfig | None = None) -> np.ndarray:
        """The measurements [F, K] of file ``index`` (with ``cfg``, default the protocol's: a network's own
        STFT), float64 as the cards' metrics took them (a streamed run is chaotic: float32 measurements move
        its scores by hundredths)."""
        return measure(clean, cfg or self.cfg, self.snr_db, self.noise_seed(index))

    def items(self, files: Iterable[Path]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(index, clean signal, measurements) of every file, in order."""
        for index, path in enumerate(files):
            clean = load_audio(path, self.sample_rate)[0]
            yield index, clean, self.measure(clean, index)

    def scores(
        self, clean: np.ndarray, estimate: np.ndarray, measurements: np.ndarray, cfg: StftConfig | None = None
    ) -> dict[str, float]:
        """SC against the given measurements (made with ``cfg``, default the protocol's); STOI, ESTOI and
        PESQ-WB against the clean signal."""
        return evaluate_signal(clean, estimate, cfg or self.cfg, r=measurements)

    def describe(self, start: str | None = None) -> str:
        """One line for a report or a card (``start``: how a method starts, default the seeded phase)."""
        first = "i" if self.seed == 0 else f"{self.seed} + i"
        stft = f"hop {self.hop}"
        if (self.n_fft, self.sample_rate) != (N_FFT, SAMPLE_RATE):
            stft = f"{self.sample_rate} Hz, n_fft {self.n_fft}, hop {self.hop}"
        if self.snr_db is None:
            condition = f"exact magnitudes, {stft}"
        else:
            condition = (
                f"modified magnitudes, {stft} (white noise at {self.snr_db:g} dB SNR with noise seed "
                f"{NOISE_SEED_OFFSET + self.seed} + i, oracle Wiener mask)"
            )
        start = start or f"random phase start with seed {first}"
        return (
            f"{condition}; file i: {start}; SC against the given measurements, STOI, ESTOI and PESQ-WB "
            "against the clean reference (phasefold.engine.evaluation)"
        )


def condition_inputs(
    condition: str, split: str = "test"
) -> tuple[StftConfig, list[tuple[np.ndarray, np.ndarray]]]:
    """(STFT settings, [(clean, measurements)]) of a model card's condition on one split."""
    protocol = EvaluationProtocol.condition(condition)
    return protocol.cfg, [(x, r) for _, x, r in protocol.items(split_files(split))]


# -- methods scored over files --------------------------------------------------------------------------
#: the largest --gain, in dB: 10^30 either way, the range the engine's level normalisation is tested over
MAX_GAIN_DB = 600.0
METRICS = ("sc_db", "stoi", "estoi", "pesq", "rtf")


#: frames of the excerpt every method runs once, untimed, before it is timed (compiles its kernels)
WARM_UP_FRAMES = 16


def evaluate(
    methods: Sequence[str] | Mapping[str, str | Method],
    files: Sequence[Path],
    hop: int | None = None,
    snr_db: float | None = None,
    iterations: int | None = None,
    seed: int = 0,
    backend: str = "auto",
    progress: bool = False,
    runner: Callable[..., np.ndarray] = reconstruct,
    gain_db: float = 0.0,
    n_fft: int | None = None,
    sample_rate: int | None = None,
    stft: dict | None = None,
    mel: MelConfig | None = None,
) -> dict:
    """Run every method on every file under the protocol (the model cards' for seed 0); means and per-file
    scores, with the configuration, as a JSON-ready report {"config", "results", "per_file"[, "failures"]}.

    ``methods``: registry names (run by ``backend``), or label -> name or engine.runners.Method (the streamed
    runners of --online, a benchmark's own method). ``iterations``: of every method (None: each method's
    default). Audio files are read at ``sample_rate`` (default 22050 Hz) and measured with ``n_fft`` (default
    by rate: 1024 at 22050 Hz, 512 at 16 kHz) at ``hop`` (default n_fft / 4), modified with ``snr_db``; a
    .npz file gives its own measurements. ``runner(entry, measurements, cfg, iterations, phase seed, length,
    backend=backend) -> signal`` runs one entry (default engine.methods.reconstruct, which checks the
    measurements and hands them on as float32). Every method first runs once, untimed, on the first
    ``WARM_UP_FRAMES`` frames of the first file (its compiled kernels are built there, not in its timing);
    then only the runs are timed, all on one thread. A file that cannot be loaded (PhasefoldError) is left out
    of every method's means and listed under ``failures``; a method that fails (PhasefoldError) is listed
    there too, is not run again, and its results row is {"failed": one line, "n_files": files scored before};
    the other methods' rows stand. InputError when no file is scored. ``progress``: a progress bar (on a
    terminal, cleared when done) and the files' reading notes (resampled, downmixed) on stderr. ``gain_db``:
    every file's clean signal, and so its measurements and its reference, scaled by this many dB (the level
    the methods are given; the scores compare like with like). ``stft``: the STFT's other settings for audio
    files (StftConfig keywords: window, win_length, center, pad_mode, convention). The STFT of audio files is
    engine.analysis.analysis_config's at ``sample_rate``, ``n_fft``, ``hop`` and ``stft``.

    ``mel``: each audio file (read at the mel's rate) goes to its mel spectrogram in that configuration
    (engine.mel.melspectrogram, its layout and log scale, read back by linear_mel as any given mel is), each
    method runs from the mel (engine.mel_methods.run_mel; a method that cannot take a mel gets a failed row)
    and is scored against the original: SC against its magnitudes at the mel's STFT, STOI, ESTOI and PESQ-WB
    against its samples. No .npz files, no ``snr_db`` with a mel."""
    from tqdm import tqdm

    entries = dict(methods) if isinstance(methods, Mapping) else {name: name for name in methods}
    if not abs(gain_db) <= MAX_GAIN_DB:
        raise InputError(f"--gain {gain_db:g}: the gain must lie within +-{MAX_GAIN_DB:g} dB")
    gain = 10.0 ** (gain_db / 20.0)
    audio = analysis_config(sample_rate or SAMPLE_RATE, n_fft, hop, stft)  # InputError naming the options
    other = tuple((stft or {}).items())
    protocol = EvaluationProtocol(audio.hop, snr_db, seed, audio.n_fft, audio.sample_rate, other)
    if mel is not None:
        if snr_db is not None:
            raise InputError("--snr does not apply to a mel input: the mel is the measurement")
        runner = _mel_runner(mel)

    per_file: list[dict] = []
    failures: list[dict] = []
    warm: set[str] = set()  # methods run once untimed already (their compile time is not timed)
    failed: dict[str, str] = {}  # method -> why it failed (it is not run again)
    cfg_seen = None
    # the bar only on a terminal, and gone when done: a refusal stays the one line on stderr (notes print
    # either way: tqdm.write)
    shown = progress and sys.stderr.isatty()
    bar = tqdm(total=len(files) * len(entries), disable=not shown, leave=False, file=sys.stderr, unit="run")
    with one_thread(), bar:
        for index, path in enumerate(files):
            rows, name = [], None
            try:
                if is_magnitude_file(path) and mel is not None:
                    raise InputError(f"{path}: a .npz file holds linear magnitudes; --mel scores audio files")
                if is_magnitude_file(path):  # given measurements
                    mag, cfg, length, ref, notes, _ = load_measurements(path, hop, snr_db, 0, settings=stft)
                    if ref is None:
                        raise InputError(f"{path}: a .npz file needs a 'reference' signal to be scored")
                    if gain_db:
                        mag, ref = np.asarray(mag, dtype=np.float64) * gain**cfg.power, ref * gain
                else:
                    rate = protocol.sample_rate if mel is None else mel.stft.sample_rate
                    ref, notes = load_audio(path, rate)
                    check_audible(path, ref)
                    ref = ref * gain if gain_db else ref
                    if mel is None:
                        mag, cfg, length = protocol.measure(ref, index), protocol.cfg, ref.size
                    else:  # the mel as a file would give it, read back; SC against the original's magnitudes
                        mag, cfg, length = linear_mel(melspectrogram(ref, mel), mel), mel.stft, ref.size
                scored_against = mag if mel is None else magnitude(ref, cfg)
                if cfg_seen is not None and cfg != cfg_seen:
                    raise InputError(f"{path}: STFT settings {cfg.to_dict()} differ from the other files'")
                check_duration(length, cfg.sample_rate)
                for note in notes if progress else ():
                    bar.write(f"phasefold evaluate: note: {path.name}: {note}", file=sys.stderr)
                for name, entry in entries.items():
                    bar.set_description(f"{path.stem} {name}")
                    if name in failed:
                        bar.update()
                        continue
                    try:
                        if name not in warm:  # compile and warm up untimed, on an excerpt of the first file
                            warm.add(name)
                            frames = min(mag.shape[0], WARM_UP_FRAMES)
                            span = mel.n_samples(frames) if mel else cfg.n_samples(frames)
                            short = min(length, span)
                            runner(entry, mag[:frames], cfg, iterations, 0, short, backend=backend)
                        with Stopwatch() as watch:
                            y = runner(
                                entry,
                                mag,
                                cfg,
                                iterations,
                                protocol.phase_seed(index),
                                length,
                                backend=backend,
                            )
                        scores = protocol.scores(ref, y, scored_against, cfg)
                    except PhasefoldError as exc:  # this method fails: its row says so, the others stand
                        failed[name] = one_line(exc)
                        failures.append({"file": str(path), "method": name, "error": failed[name]})
                        bar.update()
                        continue
                    rows.append(
                        {
                            "file": str(path),
                            "method": name,
                            **scores,
                            "rtf": real_time_factor(watch.wall, length, cfg.sample_rate),
                            "rtf_cpu": real_time_factor(watch.cpu, length, cfg.sample_rate),
                            "seconds": watch.wall,
                            "cpu_per_wall": watch.cpu / max(watch.wall, 1e-12),
                            "duration": length / cfg.sample_rate,
                        }
                    )
                    bar.update()
            except PhasefoldError as exc:  # the file is left out of every method's means
                reason = str(exc).removeprefix(f"{path}: ")
                failures.append({"file": str(path), "method": name, "error": reason})
                bar.update((index + 1) * len(entries) - bar.n)
                continue
            cfg_seen = cfg
            per_file.extend(rows)
    if not per_file:
        raise InputError("no file could be scored: " + "; ".join(failure_text(f) for f in failures))
    results = {}
    for name in entries:
        rows = [row for row in per_file if row["method"] == name]
        if name in failed:
            results[name] = {"failed": failed[name], "n_files": len(rows)}
            continue
        keys = (*METRICS, "rtf_cpu", "cpu_per_wall")
        results[name] = {key: float(np.mean([row[key] for row in rows])) for key in keys}
        results[name]["n_files"] = len(rows)
    config = {
        "stft": None if cfg_seen is None else cfg_seen.to_dict(),
        "snr_db": snr_db,
        "iterations": iterations,
        "seed": seed,
        "gain_db": gain_db,
        "methods": list(entries),
        "files": [str(p) for p in files],
        "threads": 1,
        "condition": "exact magnitudes"
        if snr_db is None
        else f"modified magnitudes, {snr_db:g} dB white noise + oracle Wiener mask",
        "protocol": protocol.describe(),
        "means": "arithmetic means over files (SC of the dB values)",
    }
    if mel is not None:
        config["mel"] = {f.name: getattr(mel, f.name) for f in fields(mel) if f.name != "stft"}
        config["condition"] = "mel spectrogram"
        config["protocol"] = (
            "file i: audio -> its mel spectrogram (config.mel at config.stft) -> each method from the mel, "
            f"random phase start with seed {'i' if seed == 0 else f'{seed} + i'}; SC against the original's "
            "magnitudes at the mel's STFT, STOI, ESTOI and PESQ-WB against the original (phasefold.engine."
            "evaluation)"
        )
    report = {"config": config, "results": results, "per_file": per_file}
    if failures:
        report["failures"] = failures
    return report


def _mel_runner(mel: MelConfig) -> Callable[..., np.ndarray]:
    """``evaluate``'s runner for a mel: engine.mel_methods.run_mel in the configuration ``mel`` (the STFT
    configuration ``evaluate`` hands on is the mel's own)."""

    def run(
        entry: str, target: np.ndarray, _: object, n_iter: int | None, seed: int, length: int, backend: str
    ) -> np.ndarray:
        return run_mel(entry, target, mel, n_iter, seed, length, backend)

    return run


def one_line(exc: Exception) -> str:
    """An error's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def failure_text(failure: dict) -> str:
    """One line for a file that was not scored: the file, the method where one was running, the reason."""
    method = f" ({failure['method']})" if failure["method"] else ""
    return f"{failure['file']}{method}: {failure['error']}"


def format_table(report: dict) -> str:
    """The results as an aligned text table."""
    names = list(report["results"])
    width = max([len("method"), *map(len, names)])
    head = f"{'SC (dB)':>8}  {'STOI':>6}  {'ESTOI':>6}  {'PESQ':>5}  {'RTF':>7}  files"
    lines = [f"{'method':<{width}}  {head}"]
    for name in names:
        r = report["results"][name]
        if "failed" in r:
            lines.append(f"{name:<{width}}  failed: {r['failed']}")
            continue
        lines.append(
            f"{name:<{width}}  {r['sc_db']:>8.2f}  {r['stoi']:>6.3f}  {r['estoi']:>6.3f}  "
            f"{r['pesq']:>5.2f}  {r['rtf']:>7.3f}  {r['n_files']:>5}"
        )
    return "\n".join(lines)

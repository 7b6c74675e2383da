"""Output files that are never half-written and never clobber what a run did not finish.

Every output path (audio, JSON, CSV, screenshot) is checked with ``check_output_path`` before the work
starts; the file is then written through ``atomic_output``: to a temporary file beside the target, renamed
over it only when complete. A run that fails (bad input, a full disk, an exception) leaves an existing
file exactly as it was and no partial file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from phasefold.engine.errors import InputError

PART_SUFFIX = ".part"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: the permissions an ordinary new file gets here (mkstemp's own are 0600)
FILE_MODE = 0o666 & ~_umask()


def check_output_path(path: str | Path, what: str = "output", inputs: tuple = ()) -> Path:
    """``path`` as a Path, checked before any work: not a folder, its folder exists and can be written,
    an existing file there can be replaced, and it is none of ``inputs`` (InputError otherwise)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name for the {what}")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write the {what} there (the folder {parent} is not writable)")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{path}: the file is read-only")
    for source in inputs:
        if source is None:
            continue
        source = Path(source)
        if path.exists() and source.exists() and os.path.samefile(path, source):
            raise InputError(f"{path}: is also the input; write the {what} to another file")
    return path


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; when the block ends without an error it is renamed
    over ``path``, else deleted (an existing file at ``path`` is untouched either way)."""
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PART_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write there ({exc.strerror or exc})") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write a text file (JSON, CSV) atomically; InputError with the reason where it cannot be written."""
    path = Path(path)
    with atomic_output(path) as tmp:
        try:
            tmp.write_text(text)
        except OSError as exc:
            raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None

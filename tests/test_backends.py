"""Backend choice: a missing compiled backend, a model it cannot build, fall-back only under auto."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from phasefold.engine import backends
from phasefold.engine.demo import demo_signal
from phasefold.engine.errors import BackendError, InputError
from phasefold.engine.onnx_model import load_compiled, load_model
from phasefold.engine.registry import lookup
from phasefold.engine.runners import window_step
from phasefold.engine.stft import SAMPLE_RATE
from phasefold.engine.streaming.steps import make_processor
from phasefold.exported_models import MODELS_DIR

# a Python without numba: the import machinery finds no such module
NO_NUMBA = (
    "import sys; sys.modules['numba'] = None; from phasefold.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _cli_without_numba(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", NO_NUMBA, *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wav") / "demo.wav"
    sf.write(path, demo_signal(2.0), SAMPLE_RATE)
    return path


def test_asked_for_but_missing_compiled_backend_is_one_line_naming_numba(speech_wav, tmp_path):
    out = tmp_path / "y.wav"
    args = ("reconstruct", str(speech_wav), "-o", str(out), "--method", "fgla", "--backend", "compiled")
    run = _cli_without_numba(*args, cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "numba" in lines[0] and "pip install numba" in lines[0], run.stderr
    assert not out.exists()


def test_auto_falls_back_to_the_reference_backend_without_numba(speech_wav, tmp_path):
    out = tmp_path / "y.wav"
    run = _cli_without_numba(
        "reconstruct", str(speech_wav), "-o", str(out), "--method", "fgla", "--iterations", "4", cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert sf.info(out).frames > 0


def test_unknown_backend_is_refused():
    with pytest.raises(InputError, match="unknown backend 'cuda'"):
        backends.check("cuda")
    with pytest.raises(InputError, match="unknown backend"):
        make_processor("fgla", backend="cuda")


def _model_copy(tmp_path: Path, edit) -> Path:
    """A copy of the shipped untied model with an edited card (the graph and golden pair untouched)."""
    src = MODELS_DIR / "unfolded-untied.onnx"
    dst = tmp_path / "unfolded-untied.onnx"
    shutil.copy(src, dst)
    card = json.loads(src.with_suffix(".json").read_text())
    shutil.copy(src.with_name(card["golden"]), tmp_path / card["golden"])
    edit(card)
    dst.with_suffix(".json").write_text(json.dumps(card))
    return dst


def _extra_piece(card: dict) -> None:
    card["parameters"]["w"] = [row + [0.0] for row in card["parameters"]["w"]]


def _scaled_slope(card: dict) -> None:
    card["parameters"]["g1"] = [1.5 * v for v in card["parameters"]["g1"]]


def test_a_card_the_compiled_step_cannot_build_is_refused_with_the_reason(tmp_path):
    path = _model_copy(tmp_path, _extra_piece)
    with pytest.raises(BackendError, match="parameter 'w' has shape"):
        load_compiled(path)
    with pytest.raises(BackendError, match="parameter 'w' has shape"):
        window_step(lookup(path), backend="compiled")
    step, _ = window_step(lookup(path), backend="auto")  # auto runs the graph instead
    assert step.backend == "onnxruntime"


def test_a_compiled_step_that_misses_the_graph_is_refused_not_run(tmp_path):
    path = _model_copy(tmp_path, _scaled_slope)  # builds, but computes another function than the graph
    with pytest.raises(BackendError, match="misses the golden pair"):
        load_compiled(path)
    step, _ = window_step(lookup(path), backend="auto")
    assert step.backend == "onnxruntime"
    golden = np.load(path.with_name(json.loads(path.with_suffix(".json").read_text())["golden"]))
    inputs = (golden["mag"], golden["x"], golden["fixed"], golden["lam"])
    np.testing.assert_allclose(step(*inputs)[0], load_model(path).step(*inputs)[0])


@pytest.mark.parametrize("method", ["unfolded-untied", "fgla", "admm-l2", "rtisi-la"])
def test_auto_takes_the_compiled_backend_and_the_reference_is_reachable(method):
    reference = "onnxruntime" if method.startswith("unfolded") else "numpy"
    assert make_processor(method, lookahead=1, backend="auto").backend == "compiled"
    assert make_processor(method, lookahead=1, backend=reference).backend == reference


def test_an_edited_kernel_source_clears_the_cached_kernels_of_its_package(tmp_path, monkeypatch):
    """numba checks only a kernel's own file; a changed callee in another file must clear the cache too."""
    from phasefold.engine.compiled import jit

    numba_dir = tmp_path / "numba"
    numba_dir.mkdir()
    ours, foreign = numba_dir / "spectral.window_into-30.py311.nbi", numba_dir / "elsewhere.f-1.py311.nbi"
    monkeypatch.setattr(jit, "numba_cache_folder", lambda: numba_dir)
    for path in (ours, foreign):
        path.write_text("cached")
    assert jit.refresh_stale_kernels()  # no stamp yet: the sources count as changed
    assert not ours.exists() and foreign.exists()
    ours.write_text("cached")
    assert not jit.refresh_stale_kernels() and ours.exists()  # same sources: the cache is kept
    monkeypatch.setenv("PHASEFOLD_CACHE_DIR", str(tmp_path / "fresh"))  # another cache folder: kept too
    assert not jit.refresh_stale_kernels() and ours.exists()
    stamp = numba_dir / "phasefold-kernels.sha256"  # the stamp lies beside the kernels it describes
    stamp.write_text("the hash of other sources")
    assert jit.refresh_stale_kernels() and not ours.exists()

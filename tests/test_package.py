"""phasefold as a package: one import namespace, the models inside it, the public API, the version, and
a wheel built from the sdist that works from outside the repository."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(
    args: list[str], cwd: Path, env: dict | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_import_pulls_neither_torch_nor_qt(tmp_path):
    code = (
        "import sys, numpy as np\n"
        "import phasefold, phasefold.engine, phasefold.engine.streaming\n"
        "y = phasefold.reconstruct(np.ones((7, 513)), method='unfolded-tied', length=1024)\n"
        "assert y.shape == (1024,)\n"
        "phasefold.Stream.open('rtpghi', lookahead=0)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PyQt6', 'pyqtgraph'))\n"
        "print(heavy)\n"
    )
    res = _run([sys.executable, "-c", code], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_every_module_of_the_package_imports():
    """A stale import (a name a refactoring removed) fails here, not in a user's command."""

    # the sub-packages live in other folders (package-dir), so each is walked from its own path
    packages = ["phasefold", "phasefold.engine", "phasefold.training"]
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch (the [train] extra) is not installed: phasefold.training cannot import")
    names = []
    while packages:
        package = importlib.import_module(packages.pop())
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            if info.name.endswith(".__main__"):
                continue  # runs the CLI
            if info.name not in packages:
                (packages if info.ispkg else names).append(info.name)
    assert {"phasefold.training.evaluate", "phasefold.engine.compiled.unfolded"} <= set(names)
    for name in names:
        importlib.import_module(name)


def test_readme_api_example_runs(tmp_path):
    text = (ROOT / "README.md").read_text()
    code = re.search(r"## Python API.*?```python\n(.*?)```", text, re.S).group(1)
    res = _run([sys.executable, "-c", code], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "latency 81.3 ms" in res.stdout and "(24576,)" in res.stdout


def test_version_comes_from_one_place():
    import phasefold

    res = _run([sys.executable, "-m", "phasefold", "--version"], cwd=ROOT)
    assert res.returncode == 0
    assert res.stdout.strip() == f"phasefold {phasefold.__version__}"
    assert importlib.metadata.version("phasefold") == phasefold.__version__


def test_shipped_models_are_found_through_the_package_and_user_folders_add_more(tmp_path, monkeypatch):
    import phasefold
    from phasefold.engine import catalog
    from phasefold.exported_models import MODELS_DIR

    shipped = catalog.model_files()
    assert set(shipped) == {p.stem for p in MODELS_DIR.glob("*.onnx")}
    assert all(path.parent == MODELS_DIR for path in shipped.values())
    for suffix in (".onnx", ".json"):
        shutil.copy(MODELS_DIR / f"unfolded-stream-l0{suffix}", tmp_path / f"my-model{suffix}")
    (tmp_path / "unfolded-tied.onnx").write_bytes(b"not the shipped one")
    (tmp_path / "unfolded-tied.json").write_text("{}")
    monkeypatch.setenv(catalog.ENV_VAR, os.pathsep.join([str(tmp_path / "missing"), str(tmp_path)]))
    assert catalog.model_files()["my-model"] == tmp_path / "my-model.onnx"
    assert catalog.model_files()["unfolded-tied"] == MODELS_DIR / "unfolded-tied.onnx"  # shipped first
    assert "my-model" in phasefold.list_methods(streaming=True)
    stream = phasefold.Stream.open("my-model", lookahead=0)
    assert stream.latency_samples == 1024
    assert phasefold.load_model("my-model").card.name == "unfolded-stream-l0"


def test_unknown_model_name_is_refused_with_a_line():
    import phasefold
    from phasefold.engine.errors import ModelError

    with pytest.raises(ModelError, match="neither an .onnx file nor a shipped model"):
        phasefold.load_model("no-such-model")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """python -m build makes the sdist and the wheel from it; the wheel holds the one namespace and the
    shipped models."""
    pytest.importorskip("build")
    dist = tmp_path_factory.mktemp("dist")
    res = _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], cwd=dist, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    (wheel,) = dist.glob("phasefold-*.whl")
    (sdist,) = dist.glob("phasefold-*.tar.gz")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"phasefold", f"phasefold-{importlib.metadata.version('phasefold')}.dist-info"}, tops
    shipped = {
        p.name for p in (ROOT / "exported_models").glob("*.*") if p.suffix in (".onnx", ".json", ".npz")
    }
    assert shipped <= {n.split("/")[-1] for n in names if n.startswith("phasefold/exported_models/")}
    assert {"LICENSE"} <= {n.split("/")[-1] for n in names if ".dist-info/" in n}
    assert sdist.stat().st_size > 0
    return wheel


def _outside(tmp_path: Path, venv: Path) -> tuple[Path, dict]:
    """A folder outside the repository and an environment that runs the venv's phasefold, no display."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return outside, env


def _write_demo_wav(py: Path, wav: Path, env: dict) -> None:
    code = (
        "import numpy as np, soundfile as sf\n"
        "from phasefold.engine.demo import demo_signal\n"
        f"sf.write({str(wav)!r}, demo_signal()[:22050].astype(np.float32), 22050)\n"
    )
    res = _run([str(py), "-c", code], cwd=wav.parent, env=env)
    assert res.returncode == 0, res.stderr[-2000:]


@pytest.mark.timeout(900)
def test_wheel_from_sdist_installs_alone_and_runs_outside_the_repository(tmp_path, wheel):
    """The wheel without extras in a virtual environment that does not see the system's packages (its
    dependencies come from the package registry), run from a folder outside the repository: it is the
    wheel that runs, not the repository; no PyQt6, no torch; the demo streams the shipped untied model
    and says its scores need [eval]; `phasefold reconstruct` writes a WAV; the shipped models are listed;
    `phasefold gui` names its extra in one line and exits non-zero; the installed files are the one
    namespace and its dist-info."""
    tops = {"phasefold", f"phasefold-{importlib.metadata.version('phasefold')}.dist-info"}
    venv = tmp_path / "core"
    res = _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    py, phasefold_cmd = venv / "bin" / "python", str(venv / "bin" / "phasefold")
    res = _run([str(py), "-m", "pip", "install", "-q", "--no-compile", str(wheel)], cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    outside, env = _outside(tmp_path, venv)
    optional = ("PyQt6", "pyqtgraph", "torch", "onnx", "matplotlib", "pystoi", "pesq")
    code = (
        "import importlib.util as u, phasefold\n"
        f"print([m for m in {optional!r} if u.find_spec(m)], phasefold.__file__)"
    )
    res = _run([str(py), "-c", code], cwd=outside, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("[] ") and str(venv) in res.stdout, res.stdout  # the wheel, not the repo

    res = _run([phasefold_cmd, "demo"], cwd=outside, env=env)
    assert res.returncode == 0, res.stderr
    assert "unfolded-untied" in res.stdout and "needs the [eval] extra" in res.stdout + res.stderr, res.stdout

    wav = outside / "demo.wav"
    _write_demo_wav(py, wav, env)
    res = _run([phasefold_cmd, "reconstruct", str(wav), "-o", "out.wav"], cwd=outside, env=env)
    assert res.returncode == 0, res.stderr
    assert (outside / "out.wav").stat().st_size > 40000
    res = _run([phasefold_cmd, "reconstruct", "--list-methods"], cwd=outside, env=env)
    assert "unfolded-untied" in res.stdout

    res = _run([phasefold_cmd, "gui"], cwd=outside, env=env)
    assert res.returncode != 0
    assert res.stdout == ""
    assert res.stderr == "phasefold gui needs the [gui] extra: pip install 'phasefold[gui]'\n"

    listing = _run([str(py), "-m", "pip", "show", "-f", "phasefold"], cwd=outside, env=env).stdout
    files = [ln.strip() for ln in listing.split("Files:")[-1].splitlines() if ln.strip()]
    assert {f.split("/")[0] for f in files if not f.startswith("../")} == tops


def test_license_citation_and_changelog_agree_with_the_package():
    """LICENSE is the license pyproject names; CITATION.cff (validated with `cffconvert --validate`
    when it was written) carries the package's version; the changelog has its Unreleased section."""
    yaml = pytest.importorskip("yaml")
    import phasefold

    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License") and "the phasefold developers" in license_text
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'license = "MIT"' in pyproject and 'license-files = ["LICENSE"]' in pyproject
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    assert cff["version"] == phasefold.__version__
    assert all({"type", "title", "authors", "year"} <= set(ref) for ref in cff["references"])
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog and f"## [{phasefold.__version__}]" in changelog

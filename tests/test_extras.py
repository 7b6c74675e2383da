"""The optional extras: a command whose extra is missing says which one in one line and exits non-zero
before it runs; the core (engine/, the API) imports none of the extras' modules at module level."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest
from phasefold import cli, extras

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = {module for modules in extras.EXTRAS.values() for module in modules}


@pytest.fixture
def without(monkeypatch):
    """without(*extras): their modules cannot be found (as in a core install); the others still can."""

    def hide(*names: str) -> None:
        hidden = {module for name in names for module in extras.EXTRAS[name]}
        find_spec = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, package=None: None if name in hidden else find_spec(name, package),
        )

    return hide


@pytest.fixture
def ran(monkeypatch) -> list[str]:
    """Every command records its name instead of running (the parser is built after the patch)."""
    names: list[str] = []
    for name in cli.COMMANDS:
        module = importlib.import_module(f"phasefold.commands.{name.replace('-', '_')}")
        monkeypatch.setattr(module, "run", lambda args, name=name: names.append(name) or 0)
    return names


def test_the_extras_match_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    assert set(extras.EXTRAS) | {"all", "dev"} == set(optional)
    assert optional["all"] == ["phasefold[gui,eval,train]"]
    core = {re.split(r"[<>=]", d)[0].lower() for d in project["dependencies"]}
    for extra, modules in extras.EXTRAS.items():
        names = {re.split(r"[<>=\[]", d)[0].lower() for d in optional[extra]}
        assert {m.lower() for m in modules} <= names, extra  # the module names are the distributions'
        assert not names & core, extra
    assert {"numpy", "onnxruntime", "sounddevice", "numba", "pyfftw"} <= core
    assert not core & {"pyqt6", "pyqtgraph", "matplotlib", "pystoi", "pesq", "torch", "onnx", "tqdm"}
    for command, needed in extras.COMMAND_EXTRAS.items():
        assert command in cli.COMMANDS and set(needed) <= set(extras.EXTRAS)


@pytest.mark.parametrize(
    ("argv", "hidden", "line"),
    [
        (["gui"], "gui", "phasefold gui needs the [gui] extra: pip install 'phasefold[gui]'"),
        (["evaluate", "x.wav", "--methods", "fgla"], "eval", "phasefold evaluate needs the [eval] extra"),
        (["divergence", "unfolded-tied", "-o", "x.png"], "eval", "phasefold divergence needs the [eval]"),
        (["train", "--out", "run"], "train", "phasefold train needs the [train] extra"),
        (["train-stream", "-L", "1", "--out", "run"], "train", "phasefold train-stream needs the [train]"),
        (["export", "run", "-o", "x.onnx"], "train", "phasefold export needs the [train] extra"),
        (
            ["stream", "-i", "x.wav", "-o", "y.wav", "--score"],
            "eval",
            "phasefold stream --score needs the [eval]",
        ),
    ],
)
def test_a_command_without_its_extra_names_it_in_one_line(argv, hidden, line, without, ran, capsys):
    without(hidden)
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(line) and err.count("\n") == 1, err
    assert ran == []  # refused before the command ran


def test_a_command_runs_where_its_extras_are_there_or_not_needed(without, ran):
    without("train")
    assert cli.main(["evaluate", "x.wav", "--methods", "fgla"]) == 0
    without("eval", "gui")
    assert cli.main(["stream", "-i", "x.wav", "-o", "y.wav"]) == 0  # --score not set
    assert cli.main(["reconstruct", "x.wav", "-o", "y.wav"]) == 0
    assert ran == ["evaluate", "stream", "reconstruct"]


def test_an_optional_module_missing_on_a_path_the_table_does_not_name_is_one_line(monkeypatch, capsys):
    def run(args):
        raise ModuleNotFoundError("No module named 'pesq'", name="pesq")

    monkeypatch.setattr(importlib.import_module("phasefold.commands.bench"), "run", run)
    assert cli.main(["bench"]) == 1
    assert (
        capsys.readouterr().err == "phasefold bench needs the [eval] extra: pip install 'phasefold[eval]'\n"
    )


def test_the_demo_streams_without_its_scores_where_eval_is_missing(without, capsys):
    without("eval", "gui")
    assert cli.main(["demo", "--no-gui", "--method", "rtpghi", "--lookahead", "1", "--output", "null"]) == 0
    out = capsys.readouterr().out
    assert "RTF" in out and "scores vs" not in out
    assert "scoring against the demo signal needs the [eval] extra: pip install 'phasefold[eval]'" in out


def test_the_core_imports_no_optional_module_at_module_level():
    """engine/ and the API (app/api.py and what `import phasefold` runs) import the extras' modules only
    inside the functions that need them."""
    files = [*sorted((ROOT / "engine").rglob("*.py")), ROOT / "app" / "api.py", ROOT / "app" / "__init__.py"]
    files += [ROOT / "app" / "cli.py", ROOT / "app" / "extras.py"]
    found = []
    for path in files:
        for node in ast.parse(path.read_text()).body:  # module level only
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in OPTIONAL]
    assert found == []

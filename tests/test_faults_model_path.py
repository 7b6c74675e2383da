"""Model folders on PHASEFOLD_MODEL_PATH: a built-in's name is never taken, and one bad file is skipped with
one warning naming it while everything else works (the built-ins, the other models)."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine import catalog, registry
from phasefold.engine.errors import ModelError, ModelPathWarning
from phasefold.exported_models import MODELS_DIR

WARNING = "phasefold: warning: "


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    from phasefold.engine.demo import demo_signal

    return demo_signal(0.3)


def _model(folder: Path, name: str, shipped: str = "unfolded-untied", edit=None) -> Path:
    """A copy of a shipped model as NAME.onnx in ``folder`` (its card edited by ``edit``)."""
    folder.mkdir(exist_ok=True)
    src = MODELS_DIR / f"{shipped}.onnx"
    card = json.loads(src.with_suffix(".json").read_text())
    shutil.copy(src, folder / f"{name}.onnx")
    shutil.copy(src.with_name(card["golden"]), folder / card["golden"])
    if edit is not None:
        edit(card)
    (folder / f"{name}.json").write_text(json.dumps(card))
    return folder / f"{name}.onnx"


def _reconstruct(capsys, wav: Path, out: Path, method: str) -> tuple[int, list[str]]:
    rc = main(["reconstruct", str(wav), "-o", str(out), "--method", method, "--iterations", "3"])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return rc, err.splitlines()


def test_a_model_named_like_a_built_in_does_not_replace_it(capsys, monkeypatch, tmp_path, wav):
    rc, lines = _reconstruct(capsys, wav, tmp_path / "ref.wav", "fgla")  # no user folder: the built-in
    assert rc == 0 and not any(line.startswith(WARNING) for line in lines)
    reference = sf.read(tmp_path / "ref.wav")[0]
    folder = tmp_path / "models"
    shadows = [_model(folder, name) for name in ("fgla", "admm-l2", "admm-beta0.7", "unfolded-tied")]
    monkeypatch.setenv(catalog.ENV_VAR, str(folder))
    rc, lines = _reconstruct(capsys, wav, tmp_path / "out.wav", "fgla")
    assert rc == 0
    warned = [line for line in lines if line.startswith(WARNING)]
    assert len(warned) == len(shadows)  # one line per file, each naming it
    for path in shadows:
        (line,) = [w for w in warned if f"{path}: not offered: " in w]
        if path.stem == "unfolded-tied":  # a shipped model's name: the shipped model is found first
            assert f"taken by {MODELS_DIR / 'unfolded-tied.onnx'}" in line
        else:
            assert f"'{path.stem}' is a built-in method; the built-in is used" in line
    np.testing.assert_array_equal(sf.read(tmp_path / "out.wav")[0], reference)  # the built-in ran
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # discovered once: no warning again
        assert registry.lookup("fgla").family == "gla" and registry.lookup("admm-l2").family == "admm"
        assert registry.lookup("admm-beta0.7").family == "admm"
        assert registry.lookup("unfolded-tied").path == MODELS_DIR / "unfolded-tied.onnx"


def test_divergence_of_a_shadowed_name_reads_the_built_in(capsys, monkeypatch, tmp_path):
    """`phasefold divergence NAME` resolves names as every other command: a user file named like a classical
    method is not drawn as if it were that method, and one named like a shipped model is not drawn."""
    folder = tmp_path / "models"
    _model(folder, "fgla")
    _model(folder, "unfolded-tied", shipped="unfolded-stream-l0")
    monkeypatch.setenv(catalog.ENV_VAR, str(folder))
    assert main(["divergence", "fgla", "-o", str(tmp_path / "f.png")]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith(WARNING)]
    assert lines == [
        "phasefold divergence: error: fgla is a classical method with a fixed loss, not a learned divergence "
        "(give a model: phasefold reconstruct --list-methods)"
    ]
    assert not (tmp_path / "f.png").exists()
    from phasefold.commands.divergence import _card

    assert _card("unfolded-tied") == registry.lookup("unfolded-tied").card
    assert _card("unfolded-tied").name == "unfolded-tied"  # the shipped card, not the user's l0 copy


def _nested(folder: Path) -> str:
    _model(folder, "bad")
    (folder / "bad.json").write_text("[" * 100_000 + "]" * 100_000)
    return "malformed model card (nested too deeply to read)"


def _invalid_json(folder: Path) -> str:
    _model(folder, "bad")
    (folder / "bad.json").write_text('{"name": "bad", ')
    return "malformed model card (not valid JSON"


def _wrong_types(folder: Path) -> str:
    _model(folder, "bad", edit=lambda card: card.update(layers="15", metrics=[1]))
    return "layers must be a whole number >= 1, not '15'"


def _huge_number(folder: Path) -> str:
    _model(folder, "bad", edit=lambda card: card.update(rho=10**400))
    return "rho must be a finite number > 0"


def _record_not_an_object(folder: Path) -> str:
    _model(folder, "bad", edit=lambda card: card.update(metrics=["test"]))
    return "metrics must be an object, not list"


def _not_utf8(folder: Path) -> str:
    _model(folder, "bad")
    (folder / "bad.json").write_bytes(b'{"name": "\xff\xfe"}')
    return "unreadable model card ('utf-8' codec can't decode"


def _unreadable(folder: Path, monkeypatch) -> str:
    _model(folder, "bad")
    card = folder / "bad.json"
    read_text = Path.read_text

    def refuse(self, *args, **kwargs):  # what chmod 000 gives a user who is not root
        if self == card:
            raise PermissionError(13, "Permission denied", str(self))
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refuse)
    return "unreadable model card ([Errno 13] Permission denied"


BAD_FILES = {
    "nested": _nested,
    "invalid-json": _invalid_json,
    "wrong-types": _wrong_types,
    "huge-number": _huge_number,
    "record-not-an-object": _record_not_an_object,
    "not-utf8": _not_utf8,
}


@pytest.mark.parametrize("kind", [*BAD_FILES, "unreadable"])
def test_one_bad_file_on_the_model_path_is_skipped_with_one_warning(kind, capsys, monkeypatch, tmp_path, wav):
    folder = tmp_path / "models"
    good = _model(folder, "good")
    problem = _unreadable(folder, monkeypatch) if kind == "unreadable" else BAD_FILES[kind](folder)
    monkeypatch.setenv(catalog.ENV_VAR, str(folder))
    rc, lines = _reconstruct(capsys, wav, tmp_path / "out.wav", "fgla")  # any command still works
    assert rc == 0 and (tmp_path / "out.wav").is_file()
    (line,) = [line for line in lines if line.startswith(WARNING)]
    assert f"not offered: {folder / 'bad.json'}: {problem}" in line
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # discovered once: the warning is not repeated
        from phasefold import list_methods

        streaming = list_methods(streaming=True)
        assert "good" in streaming and "bad" not in streaming and "good" in list_methods()
        assert registry.lookup("good").path == good
    rc, lines = _reconstruct(capsys, wav, tmp_path / "bad.wav", "bad")  # used by name: what is wrong
    assert rc == 1 and len(lines) == 1 and not (tmp_path / "bad.wav").exists()
    assert lines[0].startswith(f"phasefold reconstruct: error: {folder / 'bad.json'}: {problem}")
    from phasefold.engine.runners import offline_runner

    with pytest.raises(ModelError, match="bad.json"):  # through the API as well
        offline_runner(registry.lookup("bad"))


@pytest.mark.skipif(os.name != "posix", reason="a file name of bytes that are not UTF-8 needs POSIX")
def test_a_model_file_whose_name_is_not_utf8_is_skipped_with_one_warning(capsys, monkeypatch, tmp_path, wav):
    folder = tmp_path / "models"
    _model(folder, "good")
    src = _model(tmp_path / "src", "x")
    raw = os.fsencode(folder) + b"/caf\xe9"
    shutil.copy(src, raw + b".onnx")
    shutil.copy(src.with_suffix(".json"), raw + b".json")
    monkeypatch.setenv(catalog.ENV_VAR, str(folder))
    rc, lines = _reconstruct(capsys, wav, tmp_path / "out.wav", "fgla")
    assert rc == 0
    (line,) = [line for line in lines if line.startswith(WARNING)]
    assert "caf\\udce9.onnx: not offered: its name is not UTF-8 text" in line
    assert "good" in registry.streaming_names()
    assert [name.encode("utf-8") for name in registry.model_specs()]  # every offered name prints


def test_api_users_get_the_warning_as_a_model_path_warning(monkeypatch, tmp_path):
    from phasefold import list_methods

    _model(tmp_path, "gla")
    monkeypatch.setenv(catalog.ENV_VAR, str(tmp_path))
    with pytest.warns(ModelPathWarning, match=r"gla.onnx: not offered: 'gla' is a built-in method"):
        names = list_methods()
    assert names.count("gla") == 1 and registry.lookup("gla").family == "gla"

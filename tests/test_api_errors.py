"""The public API raises only phasefold's own errors (PhasefoldError subclasses, named in each docstring's
Raises) for bad input, each with a message that names the problem; and a Stream used from a second thread
at the same time is refused."""

from __future__ import annotations

import threading

import numpy as np
import phasefold
import pytest
from phasefold.engine.errors import InputError, ModelError, PhasefoldError

K = 513
GOOD = np.ones((8, K))


class _Weird:
    """An object numpy cannot turn into numbers."""

    def __array__(self, *args, **kwargs):
        raise RuntimeError("no array here")


# (what is called, the bad value, words the message must hold)
BAD_ARRAYS = [
    ("string", "not an array", "numbers"),
    ("None", None, "numbers"),
    ("ragged list", [[1.0, 2.0], [1.0]], "ragged"),
    ("dict", {"a": 1}, "numbers"),
    ("object array", np.array([object(), object()]), "numbers"),
    ("bytes", b"\x00\x01", "numbers"),
    ("3-D", np.ones((2, 3, K)), "shape"),
    ("0-D", np.float64(1.0), "shape"),
    ("strings array", np.array([["a"] * K]), "numbers"),
    ("an object without an array", _Weird(), "no array here"),
    ("datetime", np.array([np.datetime64("2020-01-01")] * K), "numbers"),
    ("bool frames", np.ones((4, K), dtype=bool), "numbers"),
]


def _reconstruct(value):
    return phasefold.reconstruct(value, method="fgla", iterations=2)


def _stft(value):
    return phasefold.stft(value)


def _istft(value):
    return phasefold.istft(value, 1000)


def _push(value):
    stream = phasefold.Stream.open("gla", lookahead=0, iterations=1)
    return stream.push(value)


CALLS = {"reconstruct": _reconstruct, "stft": _stft, "istft": _istft, "Stream.push": _push}


def _refused(call, kind=PhasefoldError) -> str:
    with pytest.raises(PhasefoldError) as error:
        call()
    assert isinstance(error.value, kind), repr(error.value)
    message = str(error.value)
    assert message and "\n" not in message
    return message


@pytest.mark.parametrize("where", list(CALLS))
@pytest.mark.parametrize(("what", "value", "words"), BAD_ARRAYS, ids=[b[0] for b in BAD_ARRAYS])
def test_bad_arrays_get_phasefolds_own_error_naming_the_problem(where, what, value, words):
    if where == "reconstruct" and what == "3-D":  # a batch of [3, K] items there: its items' bins are wrong
        value = np.ones((2, 3, K + 1))
    message = _refused(lambda: CALLS[where](value), InputError)
    assert words in message, message


BAD_CALLS = [
    ("reconstruct hop string", lambda: phasefold.reconstruct(GOOD, method="fgla", hop="x"), "hop"),
    ("reconstruct hop None", lambda: phasefold.reconstruct(GOOD, method="fgla", hop=None), "hop"),
    ("reconstruct hop float", lambda: phasefold.reconstruct(GOOD, method="fgla", hop=2.5), "hop"),
    ("reconstruct hop zero", lambda: phasefold.reconstruct(GOOD, method="fgla", hop=0), "hop"),
    (
        "reconstruct iterations string",
        lambda: phasefold.reconstruct(GOOD, method="fgla", iterations="3"),
        "iterations",
    ),
    (
        "reconstruct iterations float",
        lambda: phasefold.reconstruct(GOOD, method="fgla", iterations=2.5),
        "iterations",
    ),
    (
        "reconstruct iterations negative",
        lambda: phasefold.reconstruct(GOOD, method="fgla", iterations=-1),
        "iterations",
    ),
    (
        "reconstruct iterations huge",
        lambda: phasefold.reconstruct(GOOD, method="fgla", iterations=10**30),
        "iterations",
    ),
    ("reconstruct length string", lambda: phasefold.reconstruct(GOOD, method="fgla", length="10"), "length"),
    ("reconstruct length huge", lambda: phasefold.reconstruct(GOOD, method="fgla", length=10**18), "length"),
    ("reconstruct length negative", lambda: phasefold.reconstruct(GOOD, method="fgla", length=-5), "length"),
    ("reconstruct seed string", lambda: phasefold.reconstruct(GOOD, method="fgla", seed="x"), "seed"),
    ("reconstruct seed negative", lambda: phasefold.reconstruct(GOOD, method="fgla", seed=-1), "seed"),
    ("reconstruct method number", lambda: phasefold.reconstruct(GOOD, method=3), "method"),
    ("reconstruct method list", lambda: phasefold.reconstruct(GOOD, method=["fgla"]), "method"),
    ("reconstruct method unknown", lambda: phasefold.reconstruct(GOOD, method="nope"), "nope"),
    (
        "reconstruct method missing onnx",
        lambda: phasefold.reconstruct(GOOD, method="/nonexistent/m.onnx"),
        "m.onnx",
    ),
    ("reconstruct negative", lambda: phasefold.reconstruct(-GOOD, method="fgla"), "negative"),
    ("reconstruct NaN", lambda: phasefold.reconstruct(GOOD * np.nan, method="fgla"), "NaN"),
    ("reconstruct wrong bins", lambda: phasefold.reconstruct(np.ones((8, 100)), method="fgla"), "bins"),
    ("reconstruct no frames", lambda: phasefold.reconstruct(np.ones((0, K)), method="fgla"), "frames"),
    ("stft hop string", lambda: phasefold.stft(np.ones(100), hop="x"), "hop"),
    ("stft n_fft None", lambda: phasefold.stft(np.ones(100), n_fft=None), "n_fft"),
    ("stft n_fft huge", lambda: phasefold.stft(np.ones(100), n_fft=2**40, hop=2**40), "n_fft"),
    ("stft complex", lambda: phasefold.stft(np.ones(100) * 1j), "real"),
    ("stft NaN", lambda: phasefold.stft(np.full(100, np.nan)), "NaN"),
    ("stft 2-D", lambda: phasefold.stft(np.ones((2, 100))), "shape"),
    ("istft length string", lambda: phasefold.istft(np.ones((8, K)), "x"), "length"),
    ("istft length None", lambda: phasefold.istft(np.ones((8, K)), None), "length"),
    ("istft length huge", lambda: phasefold.istft(np.ones((8, K)), 10**18), "length"),
    ("istft length negative", lambda: phasefold.istft(np.ones((8, K)), -1), "length"),
    ("istft wrong bins", lambda: phasefold.istft(np.ones((8, 7)), 1000), "bins"),
    ("load_model number", lambda: phasefold.load_model(3), "3"),
    ("load_model None", lambda: phasefold.load_model(None), "None"),
    ("load_model unknown", lambda: phasefold.load_model("nope"), "nope"),
    ("list_methods string", lambda: phasefold.list_methods(streaming="yes"), "streaming"),
    ("Stream.open unknown", lambda: phasefold.Stream.open("nope"), "nope"),
    ("Stream.open number", lambda: phasefold.Stream.open(3), "method"),
    ("Stream.open None", lambda: phasefold.Stream.open(None), "method"),
    ("Stream.open lookahead string", lambda: phasefold.Stream.open("gla", lookahead="3"), "look-ahead"),
    ("Stream.open lookahead negative", lambda: phasefold.Stream.open("gla", lookahead=-1), "look-ahead"),
    ("Stream.open lookahead huge", lambda: phasefold.Stream.open("gla", lookahead=10**9), "look-ahead"),
    ("Stream.open block zero", lambda: phasefold.Stream.open("gla", block=0), "block"),
    ("Stream.open block float", lambda: phasefold.Stream.open("gla", block=1.5), "block"),
    ("Stream.open iterations string", lambda: phasefold.Stream.open("gla", iterations="2"), "iterations"),
    ("Stream.open iterations huge", lambda: phasefold.Stream.open("gla", iterations=10**12), "iterations"),
    ("Stream.open init unknown", lambda: phasefold.Stream.open("gla", init="zero"), "init"),
    ("Stream.open unknown option", lambda: phasefold.Stream.open("gla", colour="red"), "colour"),
    ("Stream.open backend unknown", lambda: phasefold.Stream.open("gla", backend="gpu"), "gpu"),
    ("Stream.open cfg string", lambda: phasefold.Stream.open("gla", cfg="n_fft=512"), "cfg"),
    ("Stream.push wrong bins", lambda: _push(np.ones((2, 7))), "bins"),
    ("Stream.push negative", lambda: _push(-GOOD), "negative"),
    ("Stream.push NaN", lambda: _push(GOOD * np.nan), "NaN"),
]


@pytest.mark.parametrize(("what", "call", "words"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_arguments_get_phasefolds_own_error_naming_the_problem(what, call, words):
    message = _refused(call)
    assert words in message, message


@pytest.mark.parametrize("content", [b"", b"not onnx at all", b"\x08\x07" + bytes(200)])
def test_a_model_file_that_is_not_onnx_is_a_model_error(tmp_path, content):
    import json
    import shutil

    from phasefold.exported_models import MODELS_DIR

    path = tmp_path / "fake.onnx"
    path.write_bytes(content)
    card = json.loads((MODELS_DIR / "unfolded-untied.json").read_text())
    shutil.copy(MODELS_DIR / card["golden"], tmp_path / card["golden"])
    (tmp_path / "fake.json").write_text(json.dumps(card))
    for call in (
        lambda: phasefold.load_model(path),
        lambda: phasefold.reconstruct(GOOD, method=str(path)),
        lambda: phasefold.Stream.open(path),
    ):
        message = _refused(call, ModelError)
        assert "fake.onnx" in message, message


def test_a_stream_used_from_a_second_thread_at_the_same_time_is_refused():
    stream = phasefold.Stream.open("gla", lookahead=0, iterations=1)
    inside, release = threading.Event(), threading.Event()
    run_step = stream.processor.process

    def held_step(*args, **kwargs):  # the first thread stays inside push until released
        inside.set()
        release.wait(10)
        return run_step(*args, **kwargs)

    stream.processor.process = held_step
    first: list = []
    worker = threading.Thread(target=lambda: first.append(stream.push(np.ones((1, K)))))
    worker.start()
    assert inside.wait(10)
    for call in (lambda: stream.push(np.ones((1, K))), stream.flush, stream.reset):
        with pytest.raises(InputError, match="this stream is in use by another thread; use one stream per "):
            call()
    release.set()
    worker.join(10)
    stream.processor.process = run_step
    assert len(first) == 1 and first[0].shape == (256,)  # the first thread's push completed
    assert stream.stats.frames_in == 1  # the refused calls changed nothing
    assert stream.push(np.ones((1, K))).shape == (256,)  # free again once the first thread is out
    assert stream.flush().size > 0

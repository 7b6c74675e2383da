"""Mel frames streamed (issue 32): ``Stream.open(..., mel=...)``, the mel window steps of engine.mel_window
and their compiled twins (engine.compiled.mel_window), the new frames' start, the checks of each push."""

from __future__ import annotations

import math

import numpy as np
import pytest
from phasefold.engine.admm import gla_iterations
from phasefold.engine.algorithms import random_phases
from phasefold.engine.errors import BackendError, InputError
from phasefold.engine.mel import PRESETS, linear_mel, mel_filters, melspectrogram
from phasefold.engine.mel_gla import MelStep, mel_fgla
from phasefold.engine.mel_window import mel_window_step
from phasefold.engine.registry import lookup
from phasefold.engine.stft import analyze, coverage, istft, synthesize
from phasefold.engine.streaming import Stream

HIFIGAN = PRESETS["hifigan"]
ONLINE = ("--mel", "hifigan", "--online")


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 22050
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 22050
    x = sum(np.sin(h * phase) / h for h in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    return 0.2 * x + 0.01 * rng.standard_normal(n)


def _feed(stream: Stream, mel: np.ndarray) -> np.ndarray:
    """Every frame of a mel in the preset's layout pushed one at a time, then the flush."""
    frames = mel if stream.mel.bands_last else mel.T
    return np.concatenate([stream.push(f) for f in frames] + [stream.flush()])


def _spread(mel: np.ndarray) -> np.ndarray:
    """The band values spread over their bins, written out: sum_b B_bk (m_b / sum_k' B_bk') / sum_b B_bk."""
    bank = mel_filters(HIFIGAN)
    cover = bank.sum(axis=0)
    return (mel / bank.sum(axis=1)) @ (bank / np.where(cover > 0, cover, 1.0))


def _window_case(seed: int = 0):
    cfg = HIFIGAN.stft
    rng = np.random.default_rng(seed)
    mel = linear_mel(melspectrogram(_speechlike(cfg.span(7) + 2 * HIFIGAN.pad, seed), HIFIGAN), HIFIGAN)[:7]
    x = rng.standard_normal(cfg.span(7)) * 0.1
    fixed = np.zeros_like(x)
    fixed[: 3 * cfg.hop] = 1.0
    return mel, x, fixed, rng.standard_normal((2, 7, cfg.n_bins)) * 0.01


@pytest.mark.parametrize(
    ("method", "rtol"), [("fgla", 1e-5), ("gla", 1e-5), ("admm-l2", 1e-10), ("admm-kl", 1e-10)]
)
def test_compiled_mel_window_steps_equal_the_numpy_reference(method, rtol):
    """The compiled steps (float32 FGLA, float64 ADMM) against engine.mel_window's numpy iterations; the
    fixed samples are kept."""
    mel, x, fixed, lam = _window_case()
    spec = lookup(method)
    ref_x, ref_lam = mel_window_step(spec, HIFIGAN, 5, "numpy")(mel, x, fixed, lam)
    got_x, got_lam = mel_window_step(spec, HIFIGAN, 5, "compiled")(mel, x, fixed, lam)
    assert np.abs(got_x - ref_x).max() <= rtol * np.abs(ref_x).max()
    assert np.abs(np.asarray(got_lam) - ref_lam).max() <= rtol * max(np.abs(ref_lam).max(), 1e-30)
    np.testing.assert_array_equal(ref_x[: 3 * HIFIGAN.stft.hop], x[: 3 * HIFIGAN.stft.hop])
    assert np.abs(ref_x - x).max() > 1e-3  # it did something


def test_mel_admm_at_a_signal_with_the_target_mel_stays_there():
    """ADMM (lam = 0) from a signal whose mel is the target: the mel step keeps |V| (every gain 1 where the
    bins carry energy), so the prox's target is |V| and x hardly moves; from a target 4 times louder in one
    band it moves."""
    cfg = HIFIGAN.stft
    t = np.arange(cfg.span(9)) / cfg.sample_rate
    x = sum(np.sin(2 * np.pi * f * t + f) for f in (220.0, 470.0, 1330.0, 2900.0)) * 0.1
    fixed = np.zeros_like(x)
    fixed[: cfg.n_fft - cfg.hop] = fixed[-(cfg.n_fft - cfg.hop) :] = 1.0  # the edges the frames half cover
    mel = np.abs(analyze(x, cfg)) @ mel_filters(HIFIGAN).T
    step = mel_window_step(lookup("admm-l2"), HIFIGAN, 2, "numpy")
    y, _ = step(mel, x, fixed, None)
    assert np.abs(y - x).max() < 1e-3 * np.abs(x).max()
    louder = mel.copy()
    louder[:, np.argmax(mel.mean(axis=0))] *= 4.0
    moved, _ = step(louder, x, fixed, None)
    assert np.abs(moved - x).max() > 1e-2 * np.abs(x).max()


def test_the_window_over_the_whole_signal_is_the_offline_mel_fgla():
    """engine.mel_gla.mel_fgla (offline) is the mel FGLA window step over the whole signal, nothing fixed,
    from the signal of its start through two mel steps (the start and its first iteration's step)."""
    cfg = HIFIGAN.stft
    mel = linear_mel(melspectrogram(_speechlike(6000), HIFIGAN), HIFIGAN)
    n_frames = mel.shape[0]
    inner = HIFIGAN.n_samples(n_frames) + 2 * HIFIGAN.pad
    assert inner == cfg.span(n_frames)
    phases = random_phases(0, 0, (n_frames, cfg.n_bins))
    step = MelStep(mel, HIFIGAN)
    x0 = istft(step(step(np.exp(1j * phases))), cfg, inner)
    y = gla_iterations(mel, x0, np.zeros_like(x0), 6, 0.99, cfg, step=step)
    ref = mel_fgla(mel, HIFIGAN, 6, phases=phases)
    got = y[HIFIGAN.pad : HIFIGAN.pad + ref.size]
    assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max()


# compiled: float32 FGLA, whose rounding reaches 1.0e-4 of the peak against the float64 reference (the
# tolerance was measured against the peak of the padding's values before the stream zeroed them)
@pytest.mark.parametrize(("backend", "rtol"), [("numpy", 1e-6), ("compiled", 3e-4)])
def test_one_block_over_every_frame_is_the_mel_fgla_step_from_the_spread_start(backend, rtol):
    """A stream whose one block holds every frame runs one window step over the whole signal: the frames
    start from the spread of their bands (the frame before them is silent) at the phase advanced from
    zero, the N/H - 1 frames before the stream are silent and fixed; written out independently here (the
    stream returns float32: the numpy tolerance is its rounding), up to the end of the mel's signal (the
    stream gives zeros past it)."""
    cfg = HIFIGAN.stft
    log_mel = melspectrogram(_speechlike(5000, 1), HIFIGAN)
    mel = linear_mel(log_mel, HIFIGAN)
    n_frames, r, n_iter = mel.shape[0], cfg.overlap, 3
    stream = Stream.open(
        "fgla", mel="hifigan", lookahead=0, block=n_frames, iterations=n_iter, backend=backend
    )
    out = _feed(stream, log_mel)

    big = np.vstack([np.zeros((r - 1, HIFIGAN.n_mels)), mel])
    k = np.arange(cfg.n_bins)
    phases = np.vstack([np.zeros((r - 1, cfg.n_bins))] + [[2 * np.pi * k * cfg.hop * (j + 1) / cfg.n_fft]
                                                          for j in range(n_frames)])  # fmt: skip
    amp = np.vstack([np.zeros((r - 1, cfg.n_bins)), _spread(mel)])
    x0 = synthesize(amp * np.exp(1j * phases), cfg) / np.maximum(coverage(n_frames + r - 1, cfg), 1e-12)
    fixed = np.zeros(x0.size)
    fixed[: (r - 1) * cfg.hop] = 1.0
    ref = gla_iterations(big, x0 * (1 - fixed), fixed, n_iter, 0.99, cfg, step=MelStep(big, HIFIGAN))
    ref = ref[(r - 1) * cfg.hop :]
    end = stream.output_offset + HIFIGAN.n_samples(n_frames)  # past it: the mel's padding, zeros
    assert np.abs(out[:end] - ref[:end]).max() <= rtol * np.abs(ref[:end]).max()
    assert not np.any(out[end:])


@pytest.mark.parametrize("start", ["step", "spread"])
def test_compiled_slide_and_start_equals_the_numpy_path(start):
    """The kernel that slides the window and starts new mel frames (engine.compiled.mel_window) against
    the processor's numpy path on the same compiled step (admm-l2: float64 state)."""
    log_mel = melspectrogram(_speechlike(8000, 2), HIFIGAN)
    states = []
    for fast in (True, False):
        stream = Stream.open("admm-l2", mel="hifigan", iterations=2, mel_start=start, backend="compiled")
        assert stream.processor._fast is not None
        if not fast:
            stream.processor._fast = None
        xs = []
        for frame in log_mel.T[:15]:
            stream.push(frame)
            xs.append(stream.processor.x.copy())
        states.append(np.array(xs))
    assert np.abs(states[0] - states[1]).max() <= 1e-9 * np.abs(states[1]).max()


@pytest.mark.parametrize("start", ["step", "spread"])
def test_streamed_mel_is_aligned_and_matches_its_mel(start):
    """fgla at L = 3 from a hifigan log-mel fed frame by frame: the output cut at ``output_offset`` (which
    counts the preset's 384 samples of reflection) has the target's mel, and the original's timing: its
    mel is nearer the target than the same output a hop earlier or later."""
    x = _speechlike(22050, 4)
    log_mel = melspectrogram(x, HIFIGAN)
    stream = Stream.open("fgla", mel="hifigan", iterations=8, mel_start=start)
    assert stream.output_offset == HIFIGAN.pad + 3 * HIFIGAN.stft.hop
    out = _feed(stream, log_mel)
    target = linear_mel(log_mel, HIFIGAN)

    def mel_error(shift: int) -> float:
        start_at = stream.output_offset + shift
        made = linear_mel(melspectrogram(out[start_at : start_at + x.size], HIFIGAN), HIFIGAN)
        return float(np.linalg.norm(made[2:-2] - target[2:-2]) / np.linalg.norm(target[2:-2]))

    assert mel_error(0) < 0.25
    assert mel_error(0) < min(mel_error(-256), mel_error(256))


def test_blocks_of_frames_in_the_preset_layout_equal_frames_one_by_one():
    """A push of a block in the preset's own layout ([n_mels, k] for hifigan, [k, n_mels] for espnet) gives
    the samples that the same frames pushed one at a time give."""
    for name in ("hifigan", "espnet"):
        cfg = PRESETS[name]
        log_mel = melspectrogram(_speechlike(6000, 5), cfg)
        one = _feed(Stream.open("fgla", mel=name, iterations=2), log_mel)
        stream = Stream.open("fgla", mel=cfg, iterations=2)
        if cfg.bands_last:
            parts = [stream.push(log_mel[:5]), stream.push(log_mel[5:])]
        else:
            parts = [stream.push(log_mel[:, :5]), stream.push(log_mel[:, 5:])]
        np.testing.assert_array_equal(np.concatenate(parts + [stream.flush()]), one)


@pytest.mark.parametrize("name", ["hifigan", "librosa"])
def test_a_louder_mel_gives_the_same_audio_scaled(name):
    """The same speech 4 times louder: hifigan's log mel shifted by log 4 (p = 1), librosa's linear power mel
    times 16 (p = 2): the stream gives 4 times the audio (the running level follows, the level's shift is a
    power of two, the mel step is homogeneous)."""
    cfg = PRESETS[name]
    mel = melspectrogram(_speechlike(8000, 6), cfg)
    louder = mel + math.log(4.0) if cfg.is_log else mel * 16.0
    quiet = _feed(Stream.open("fgla", mel=name, iterations=3, backend="numpy"), mel)
    loud = _feed(Stream.open("fgla", mel=name, iterations=3, backend="numpy"), louder)
    assert np.abs(loud - 4 * quiet).max() <= 1e-5 * np.abs(loud).max()
    assert np.abs(quiet).max() > 1e-3


def test_bad_mel_frames_are_refused_in_one_line_and_change_nothing():
    log_mel = melspectrogram(_speechlike(6000, 7), HIFIGAN)
    stream = Stream.open("fgla", mel="hifigan", iterations=2)
    first = stream.push(log_mel[:, :3])
    held = stream.processor.x.copy()
    bad = {
        "79 bands": (log_mel[:79, 3], "79 bands where 80 are expected"),
        "linear values": (np.exp(log_mel[:, 3:6]), "looks like linear mel values"),
        "NaN": (np.full(80, np.nan), "NaN"),
        "complex": (log_mel[:, 3] + 0j, "numbers"),
        "3-D": (log_mel[None, :, 3:5], "2-D block"),
    }
    for name, (frames, words) in bad.items():
        with pytest.raises(InputError, match=words) as caught:
            stream.push(frames)
        assert "\n" not in str(caught.value), name
    np.testing.assert_array_equal(stream.processor.x, held)
    assert stream.stats.frames_in == 3
    assert first.size == 3 * HIFIGAN.stft.hop


@pytest.mark.parametrize(
    ("method", "options", "words"),
    [
        ("rtpghi", {"mel": "hifigan"}, "does not take a mel"),
        ("rtisi-la", {"mel": "hifigan"}, "does not take a mel"),
        ("unfolded-stream-l3", {"mel": "hifigan"}, "does not take a mel"),  # registry.mel_spec, as offline
        ("fgla", {"mel": "tacotron"}, "mel must be a preset"),
        ("fgla", {"mel": "hifigan", "mel_start": "zeros"}, "unknown mel start"),
        ("fgla", {"mel": "hifigan", "cfg": PRESETS["vocos"].stft}, "the mel's own STFT"),
    ],
)
def test_what_a_mel_stream_does_not_take_is_named(method, options, words):
    with pytest.raises(InputError, match=words):
        Stream.open(method, **options)


def _cli(capsys, *argv) -> tuple[int, str, str]:
    from phasefold.cli import main

    rc = main(["reconstruct", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_online_mel_is_the_stream_fed_frame_by_frame(capsys, tmp_path):
    """`reconstruct mel.npy --mel hifigan --online` writes what Stream.open(default, mel="hifigan") gives,
    cut at its offset; from audio with --method and the window's options, as long as the input."""
    sf = pytest.importorskip("soundfile")
    from phasefold.engine.registry import mel_stream_default

    x = _speechlike(9000, 8)
    log_mel = melspectrogram(x, HIFIGAN)
    np.save(tmp_path / "mel.npy", log_mel)
    rc, out, err = _cli(capsys, tmp_path / "mel.npy", "-o", tmp_path / "a.wav", *ONLINE)
    assert rc == 0, err
    assert "(the mel stream's default), streamed from the hifigan mel" in out
    y, sr = sf.read(tmp_path / "a.wav", dtype="float32")
    stream = Stream.open(mel_stream_default(HIFIGAN.stft)[0], mel="hifigan")
    ref = _feed(stream, log_mel)[stream.output_offset :][: HIFIGAN.n_samples(log_mel.shape[1])]
    assert sr == 22050
    np.testing.assert_array_equal(y, ref)
    wav = tmp_path / "speech.wav"
    sf.write(wav, x, 22050, subtype="FLOAT")
    argv = [*ONLINE, "--method", "admm-l2", "--step-iterations", "2", "--lookahead", "1"]
    rc, out, err = _cli(capsys, wav, "-o", tmp_path / "b.wav", *argv)
    assert rc == 0, err
    assert "admm-l2" in out and "look-ahead 1" in out
    y, _ = sf.read(tmp_path / "b.wav")
    assert y.size == x.size and np.abs(y).max() > 0.05


def test_cli_online_mel_refuses_a_method_without_the_mel_step(capsys, tmp_path):
    np.save(tmp_path / "mel.npy", melspectrogram(_speechlike(6000), HIFIGAN))
    argv = ["-o", tmp_path / "a.wav", "--mel", "hifigan", "--online", "--method", "rtpghi"]
    rc, out, err = _cli(capsys, tmp_path / "mel.npy", *argv)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert "rtpghi does not take a mel" in err
    assert not (tmp_path / "a.wav").exists()


@pytest.mark.parametrize("backend", ["numpy", "compiled"])
def test_flush_gives_zeros_past_the_mels_signal(backend):
    """The samples past the mel's signal (its outside padding, which no frame pins: the window's overlap sum
    goes to zero there, where an unguarded division returned values in the thousands) come back as zeros;
    the signal's own last samples stay at the signal's level."""
    cfg = PRESETS["hifigan"]
    x = _speechlike(16000, seed=3)
    mel = melspectrogram(x, cfg)
    stream = Stream.open("fgla", mel="hifigan", iterations=2, backend=backend)
    out = _feed(stream, mel)
    end = stream.output_offset + cfg.n_samples(mel.shape[1])
    assert out.size > end
    assert not np.any(out[end:])
    assert np.max(np.abs(out[end - 400 : end])) < 3 * np.max(np.abs(x))


MEL_MODEL = "unfolded-mel-stream-l3"


def _recorded(stream: Stream) -> list:
    """The (inputs, outputs) of every window step the stream's processor runs from now on."""
    calls: list = []
    step = stream.processor.step
    run = step.fn

    def recording(mag, x, fixed, lam):
        inputs = tuple(np.array(a, dtype=np.float32) for a in (mag, x, fixed, lam))
        out = run(mag, x, fixed, lam)
        calls.append((inputs, tuple(np.array(a) for a in out)))
        return out

    step.fn = recording
    return calls


def test_a_stream_mel_model_is_the_training_stream_loop():
    """The learned stream mel model in Stream.open(..., mel=) against training's own stream loop
    (training.stream_unfolded.stream_reconstruct with MelStreamUnfolded's new frames, the spread of the
    mel, and the engine's causal level): at each frame the loop's window (mel, x, fixed, lam) is the
    engine's to float32 rounding, the step being the engine's own ONNX step's outputs there (the stream
    amplifies rounding: a free run of either drifts from the other by more than float32 tolerance), through
    a rising level (k grows during the stream: the state is rescaled in both), and the loop's output, at
    the level of the mel given, is the stream's."""
    torch = pytest.importorskip("torch")
    from phasefold.engine.level import frame_levels, shift
    from phasefold.engine.registry import lookup
    from phasefold.training.mel_unfolded import MelStep as TorchMelStep
    from phasefold.training.stream_unfolded import causal_shifts, stream_reconstruct

    cfg, spec = HIFIGAN.stft, lookup(MEL_MODEL)
    reference = spec.card.mel_reference_level
    x = _speechlike(6000, 9) * np.exp(np.arange(6000) / 1500 - 4)  # rising: k grows frame by frame
    log_mel = melspectrogram(x, HIFIGAN)
    mel = linear_mel(log_mel, HIFIGAN)
    ks = causal_shifts(torch.as_tensor(mel)[None], reference)[0]
    running = np.maximum.accumulate(frame_levels(mel))
    assert list(ks) == [shift(float(v), reference) for v in running] and len(set(ks)) >= 3
    stream = Stream.open(MEL_MODEL, mel="hifigan")
    assert (stream.processor.lookahead, stream.processor.block, stream.processor.backend) == (
        3,
        1,
        "onnxruntime",
    )
    calls = _recorded(stream)
    out = np.concatenate([stream.push(f) for f in log_mel.T])
    assert stream.processor._level.k == ks[-1]
    seen = iter(calls)

    def step(m, x, fixed, lam):
        (e_mag, e_x, e_fixed, e_lam), (x_out, lam_out) = next(seen)
        lam_ri = np.stack([lam[0].real.numpy(), lam[0].imag.numpy()])
        np.testing.assert_allclose(m[0].numpy(), e_mag, rtol=1e-6, atol=0)
        np.testing.assert_array_equal(fixed.numpy(), e_fixed)
        # the newest frame's last samples are divided by a coverage near 0 (the window's end): float32
        # rounding of the two insertions grows there to about 1e-5 of the window's peak
        np.testing.assert_allclose(x[0].numpy(), e_x, rtol=1e-5, atol=1e-5 * np.abs(e_x).max())
        np.testing.assert_allclose(lam_ri, e_lam, rtol=1e-5, atol=1e-6 * np.abs(e_lam).max())
        lam_c = torch.complex(torch.as_tensor(lam_out[0]), torch.as_tensor(lam_out[1]))
        return torch.as_tensor(x_out)[None], lam_c[None]

    net_step = TorchMelStep(HIFIGAN)
    n_frames = mel.shape[0]
    with torch.no_grad():
        ref = stream_reconstruct(
            step,
            torch.as_tensor(mel, dtype=torch.float32),
            cfg.span(n_frames),
            3,
            cfg,
            new_magnitude=lambda m: net_step(m.new_ones(*m.shape[:-1], cfg.n_bins), m),
            level=(reference, 1.0),
        ).numpy()
    assert next(seen, None) is None  # one step per frame in both
    # the loop's output is the inner signal from its first sample; the stream's is L hops later
    got, want = out[3 * cfg.hop :], ref[: out.size - 3 * cfg.hop]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())
    assert np.abs(want).max() > 1e-2 and got.size > 10 * cfg.hop


def test_a_stream_mel_model_at_a_power_of_two_louder_gives_the_output_scaled_bit_for_bit():
    """The model runs at its training level (the running level of the mel frames against the card's
    reference): the linear mel 2^m times (p = 1) gives the same normalised window and 2^m times the output,
    bit for bit; without the level the model would see other inputs (it is not scale-equivariant)."""
    mel = linear_mel(melspectrogram(_speechlike(6000, 10), HIFIGAN), HIFIGAN)

    def run(gain_exp: int) -> tuple[np.ndarray, int]:
        proc = Stream.open(MEL_MODEL, mel="hifigan").processor
        frames = np.ldexp(mel, gain_exp)
        out = np.concatenate([proc.process(frames[i : i + 1]) for i in range(frames.shape[0])])
        return np.concatenate([out, proc.tail()]), proc._level.k

    base, k = run(0)
    for m in (3, -5):
        out, k_m = run(m)
        assert k_m == k + m
        np.testing.assert_array_equal(out, np.ldexp(base, m))
    assert np.abs(base).max() > 1e-2


def test_the_cli_streams_a_stream_mel_model(capsys, tmp_path):
    """`reconstruct mel.npy --mel hifigan --online --method unfolded-mel-stream-l3` writes the stream's output
    cut at its offset."""
    sf = pytest.importorskip("soundfile")
    log_mel = melspectrogram(_speechlike(7000, 11), HIFIGAN)
    np.save(tmp_path / "mel.npy", log_mel)
    rc, out, err = _cli(
        capsys, tmp_path / "mel.npy", "-o", tmp_path / "a.wav", *ONLINE, "--method", MEL_MODEL
    )
    assert rc == 0, err
    assert MEL_MODEL in out and "streamed from the hifigan mel" in out
    stream = Stream.open(MEL_MODEL, mel="hifigan")
    want = _feed(stream, log_mel)[stream.output_offset :][: HIFIGAN.n_samples(log_mel.shape[1])]
    y, rate = sf.read(tmp_path / "a.wav", dtype="float32")
    assert rate == 22050 and y.size == want.size
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"mel": "vocos"}, InputError, "takes only the hifigan mel, not the vocos mel"),
        ({"mel": "hifigan", "backend": "compiled"}, BackendError, "runs on onnxruntime only"),
        ({"mel": "hifigan", "mel_start": "step"}, InputError, "trained with new frames from the 'spread'"),
        ({"mel": "hifigan", "lookahead": 2}, InputError, "trained inside the stream at look-ahead 3"),
        ({}, InputError, "is a mel model: it takes only the hifigan mel, not magnitudes .*--online"),
    ],
)
def test_what_a_stream_mel_model_does_not_take_is_named_in_one_line(options, error, words):
    with pytest.raises(error, match=words) as caught:
        Stream.open(MEL_MODEL, **options)
    assert "\n" not in str(caught.value)


def test_the_cli_refuses_a_stream_mel_model_offline_and_on_another_mel_in_one_line(capsys, tmp_path):
    np.save(tmp_path / "mel.npy", melspectrogram(_speechlike(6000), HIFIGAN))
    np.save(tmp_path / "v.npy", melspectrogram(_speechlike(6000), PRESETS["vocos"]))
    for argv, words in (
        (
            [tmp_path / "mel.npy", "--mel", "hifigan"],
            "run it in a stream (reconstruct --mel hifigan --online",
        ),
        ([tmp_path / "v.npy", "--mel", "vocos", "--online"], "takes only the hifigan mel, not the vocos mel"),
        ([tmp_path / "mel.npy", *ONLINE, "--backend", "compiled"], "runs on onnxruntime only"),
    ):
        rc, _, err = _cli(capsys, *argv, "--method", MEL_MODEL, "-o", tmp_path / "a.wav")
        assert rc == 1 and len(err.strip().splitlines()) == 1 and words in err, err
    assert not (tmp_path / "a.wav").exists()

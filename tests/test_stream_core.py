"""The streaming engine's contract: alignment, latency, chunking, reset, bad frames, committed samples."""

from __future__ import annotations

import numpy as np
import pytest
from phasefold.engine.admm import admm_iterations
from phasefold.engine.algorithms import published_rho
from phasefold.engine.divergences import divergence
from phasefold.engine.errors import InputError
from phasefold.engine.proxes import make_prox
from phasefold.engine.stft import StftConfig, coverage, pad_signal, stft, synthesize
from phasefold.engine.streaming import Stream, make_processor


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 22050
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 22050
    x = sum(np.sin(h * phase) / h for h in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    return 0.2 * x + 0.01 * rng.standard_normal(n)


def _run(stream: Stream, mag: np.ndarray, chunks: list[int] | None = None) -> np.ndarray:
    parts, i = [], 0
    for c in chunks or [mag.shape[0]]:
        parts.append(stream.push(mag[i : i + c]))
        i += c
    parts.append(stream.push(mag[i:]))
    parts.append(stream.flush())
    return np.concatenate(parts)


@pytest.mark.parametrize(
    ("backend", "n_iter", "rtol", "inconsistency"), [("numpy", 20, 1e-7, 0.15), ("compiled", 5, 1e-4, 0.25)]
)
def test_whole_signal_in_one_window_equals_offline_admm(backend, n_iter, rtol, inconsistency):
    """One block covering every frame: the engine's single step is ADMM over the whole padded signal.
    The compiled step runs in float32, and ADMM amplifies rounding (float64 from float32-rounded inputs
    is 2e-6 off after 5 iterations, 2e-4 after 20), so it is held to 5 iterations."""
    cfg = StftConfig()
    x = _speechlike(6000)
    mag = np.abs(stft(x, cfg))
    n_frames, r = mag.shape[0], cfg.overlap
    stream = Stream(
        make_processor(
            "admm-l2",
            cfg,
            lookahead=0,
            block=n_frames,
            iterations=n_iter,
            silent_start=cfg.pad,
            backend=backend,
        )
    )
    out = _run(stream, mag)

    # independent reference: the window = R - 1 silent frames before the stream + all F frames
    n_window = n_frames + r - 1
    big_mag = np.vstack([np.zeros((r - 1, cfg.n_bins)), mag])
    k = np.arange(cfg.n_bins)
    phases = np.vstack(
        [
            np.zeros((r - 1, cfg.n_bins)),
            [2 * np.pi * k * cfg.hop * (j + 1) / cfg.n_fft for j in range(n_frames)],
        ]
    )
    x0 = synthesize(big_mag * np.exp(1j * phases), cfg) / np.maximum(coverage(n_window, cfg), 1e-12)
    fixed = np.zeros(x0.size)
    fixed[: (r - 1) * cfg.hop + cfg.pad] = 1.0  # before the stream + the declared silent padding
    x0 = x0 * (1 - fixed)
    div = divergence("l2")
    ref, _ = admm_iterations(
        big_mag, x0, fixed, None, make_prox(div, "left"), published_rho(div, cfg), n_iter, cfg
    )
    # up to the end of the longest signal the frames hold; past it (the N - H samples of padding after it,
    # which no frame pins) the stream gives zeros
    ref = ref[(r - 1) * cfg.hop :]
    end = stream.output_offset + stream.signal_samples()
    assert np.abs(out[:end] - ref[:end]).max() <= rtol * np.abs(ref).max()
    assert end == out.size - (cfg.n_fft - cfg.hop) and not np.any(out[end:])
    # and it is a real reconstruction of the input (time-aligned)
    y = out[cfg.pad : cfg.pad + x.size]
    assert np.linalg.norm(np.abs(stft(y, cfg)) - mag) / np.linalg.norm(mag) < inconsistency


@pytest.mark.parametrize("method", ["admm-l2", "fgla", "rtisi-la", "rtpghi"])
@pytest.mark.parametrize("block", [1, 3])
def test_chunked_push_equals_single_push_and_reset(method, block):
    cfg = StftConfig()
    mag = np.abs(stft(_speechlike(5000, 1), cfg))
    opts = {"iterations": 3} if method != "rtpghi" else {}
    stream = Stream.open(method, cfg, lookahead=2, block=block, **opts)
    whole = _run(stream, mag)
    stream.reset()
    chunked = _run(stream, mag, chunks=[1, 2, 5, 1, 7])
    np.testing.assert_array_equal(whole, chunked)
    fresh = _run(Stream.open(method, cfg, lookahead=2, block=block, **opts), mag)
    np.testing.assert_array_equal(whole, fresh)
    # H samples per frame once primed; the tail holds L + N/H - 1 hops
    assert whole.size == (mag.shape[0] + 2 + cfg.overlap - 1) * cfg.hop
    assert stream.stats.frames_in == mag.shape[0]
    assert stream.stats.samples_out == whole.size


@pytest.mark.parametrize("lookahead,block", [(0, 1), (3, 1), (3, 4)])
def test_latency_and_alignment(lookahead, block):
    cfg = StftConfig()
    stream = Stream.open("admm-l2", cfg, lookahead=lookahead, block=block, iterations=10)
    assert stream.latency_samples == cfg.n_fft + lookahead * cfg.hop + (block - 1) * cfg.hop
    assert stream.latency_ms == pytest.approx(1000 * stream.latency_samples / 22050)
    x = _speechlike(8000, 4)
    out = _run(stream, np.abs(stft(x, cfg)))
    assert out.size == cfg.n_frames(x.size) * cfg.hop + (lookahead + cfg.overlap - 1) * cfg.hop
    assert np.all(out[: lookahead * cfg.hop] == 0.0)  # zeros while the pipeline primes


def test_blocks_emit_nothing_until_full():
    cfg = StftConfig()
    stream = Stream.open("rtpghi-1", cfg, lookahead=1, block=4)
    mag = np.abs(stft(_speechlike(4000), cfg))
    assert stream.push(mag[:3]).size == 0
    assert stream.push(mag[3:5]).size == 4 * cfg.hop
    assert stream.push(mag[5:8]).size == 4 * cfg.hop


def test_bad_frames_are_refused_without_touching_the_state():
    cfg = StftConfig()
    mag = np.abs(stft(_speechlike(5000, 2), cfg))
    clean = _run(Stream.open("admm-l2", cfg, lookahead=1, iterations=2), mag)
    stream = Stream.open("admm-l2", cfg, lookahead=1, iterations=2)
    parts = [stream.push(mag[:5])]
    bad_frames = [
        np.ones((1, cfg.n_bins - 1)),  # wrong size
        np.full((2, cfg.n_bins), np.nan),  # NaN
        -np.ones((1, cfg.n_bins)),  # negative
        np.vstack([mag[5], np.full(cfg.n_bins, np.inf)]),  # one good frame, one bad: none taken
        np.array([["a"] * cfg.n_bins]),  # not numbers
        np.ones((2, 3, cfg.n_bins)),  # wrong rank
    ]
    for bad in bad_frames:
        with pytest.raises(InputError):
            stream.push(bad)
    assert stream.stats.frames_in == 5
    parts += [stream.push(mag[5:]), stream.flush()]
    np.testing.assert_array_equal(np.concatenate(parts), clean)
    with pytest.raises(InputError, match="flushed"):
        stream.push(mag[:1])


def test_complex_frames_only_for_window_methods():
    cfg = StftConfig()
    spec = stft(_speechlike(3000), cfg)
    with pytest.raises(InputError, match="magnitude frames only"):
        Stream.open("rtisi-la", cfg, lookahead=1).push(spec[:2])


def test_committed_samples_never_change_inside_the_step():
    """Wrap the real ADMM step and check the contract on every call: fixed samples come back unchanged,
    and the samples emitted by one step are exactly the fixed head of the next window (times the exact
    power of two 2^(k_old - k_new) where the level normalisation's k grew: engine.level)."""
    cfg = StftConfig()
    proc = make_processor("admm-kl", cfg, lookahead=2, block=2, iterations=4)
    inner = proc.step.fn
    seen = []

    def checked(mag, x, fixed, lam):
        x_out, lam_out = inner(mag, x, fixed, lam)
        keep = fixed > 0
        np.testing.assert_array_equal(x_out[keep], x[keep])
        seen.append((x.copy(), fixed.copy(), x_out.copy(), proc._level.k))
        return x_out, lam_out

    proc.step.fn = checked
    stream = Stream(proc)
    mag = np.abs(stft(_speechlike(6000, 3), cfg))
    out = _run(stream, mag)
    sizes = [2] * (mag.shape[0] // 2) + [1] * (mag.shape[0] % 2)  # the last block may be partial
    assert len(seen) == len(sizes)
    h = cfg.hop
    pairs = zip(seen[:-1], seen[1:], sizes[1:], strict=True)
    for (_, _, prev_out, k_prev), (x_next, fixed_next, _, k_next), b in pairs:
        # sliding by b frames: the previous window's committed + emitted samples are the fixed head
        n_fixed = (cfg.overlap - 1 + 2 - b) * h
        head = np.ldexp(prev_out[b * h : b * h + n_fixed], k_prev - k_next)
        np.testing.assert_array_equal(x_next[:n_fixed], head)
        assert np.all(fixed_next[:n_fixed] == 1.0)
    assert np.all(np.isfinite(out))


def test_unknown_method_and_bad_settings():
    with pytest.raises(InputError, match="did you mean"):
        Stream.open("rtisi")
    with pytest.raises(InputError, match="unknown ADMM method"):
        Stream.open("admm-l3")
    with pytest.raises(InputError, match="look-ahead"):
        Stream.open("fgla", lookahead=-1)
    with pytest.raises(InputError, match="at least 1"):
        Stream.open("rtpghi-1", lookahead=0)
    with pytest.raises(InputError, match="not iterative"):
        Stream.open("rtpghi", iterations=3)


def test_pad_signal_alignment_of_tail():
    """flush() returns exactly the padded signal's last samples: total = padded span + L H."""
    cfg = StftConfig(hop=512)
    x = _speechlike(7777)
    mag = np.abs(stft(x, cfg))
    out = _run(Stream.open("fgla", cfg, lookahead=1, iterations=2), mag)
    assert out.size == pad_signal(x, cfg).size + cfg.hop


@pytest.mark.parametrize("lookahead,block", [(0, 1), (1, 1), (3, 1), (3, 4)])
def test_rtisila_default_gets_at_least_the_projections_of_a_15_layer_window_step(lookahead, block):
    window_step = make_processor("admm-l2", StftConfig(), lookahead, block)
    rtisi = make_processor("rtisi-la", StftConfig(), lookahead, block)
    assert window_step.projections_per_frame() == 15 * (lookahead + 4 + block - 1) / block
    assert (
        window_step.projections_per_frame()
        <= rtisi.projections_per_frame()
        < window_step.projections_per_frame() + 4
    )


def test_method_names_for_an_stft_offer_only_the_models_made_for_it(tmp_path, monkeypatch):
    import json
    import shutil

    from phasefold.engine import catalog, registry
    from phasefold.engine.streaming import steps

    every = steps.method_names()
    at256 = steps.method_names(StftConfig(hop=256))
    at512 = steps.method_names(StftConfig(hop=512))
    assert "unfolded-tied-hop512" in every and "unfolded-tied-hop512" not in at256
    assert "unfolded-tied" in at256 and "unfolded-tied" not in at512 and "unfolded-tied-hop512" in at512
    assert set(registry.STREAMING_CLASSICAL) <= set(at256) & set(at512)
    # a broken card is not offered (and does not stop the list)
    for suffix in (".onnx", ".json"):
        shutil.copy(catalog.MODELS_DIR / f"unfolded-tied{suffix}", tmp_path / f"unfolded-tied{suffix}")
    (tmp_path / "broken.onnx").write_bytes(b"")
    (tmp_path / "broken.json").write_text(json.dumps({"name": "broken"}))
    monkeypatch.setattr(catalog, "MODELS_DIR", tmp_path)
    monkeypatch.delenv(catalog.ENV_VAR, raising=False)
    assert steps.method_names(StftConfig()) == [*registry.STREAMING_CLASSICAL, "unfolded-tied"]

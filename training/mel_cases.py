"""Parity cases of the mel networks' exports (training.mel_unfolded): random windows and real speech, the
measurement under "mag" (the step's first argument; the golden pair stores it as "mel")."""

from __future__ import annotations

import numpy as np
import torch
from phasefold.engine.dataset import split_files
from phasefold.engine.inputs import load_audio
from phasefold.engine.mel import MelConfig, mel_filters
from phasefold.engine.stft import analyze
from phasefold.training.mel_train import mel_of
from phasefold.training.mel_unfolded import MelStreamUnfolded, MelUnfoldedADMM
from phasefold.training.stream_unfolded import stream_reconstruct


def _random_mel(rng: np.random.Generator, mel: MelConfig, span: int) -> np.ndarray:
    """The linear mel of a random window of ``span`` samples, floored as the preset floors it."""
    spec = np.abs(analyze(0.01 * rng.standard_normal(span), mel.stft))
    return np.maximum(spec @ mel_filters(mel).T, mel.floor).astype(np.float32)


def mel_cases(net: MelUnfoldedADMM, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Parity inputs of an offline mel network: random windows (7 and 40 frames) and, where the TIMIT
    sample exists, a validation utterance from its start and a window of it (its measurement under "mag",
    the step's first argument)."""
    mel, cfg = net.mel_cfg, net.stft_cfg
    rng = np.random.default_rng(seed)
    cases = {}
    for w in (7, 40):
        s = cfg.span(w)
        cases[f"random_w{w}"] = {
            "mag": _random_mel(rng, mel, s),
            "x": (0.01 * rng.standard_normal(s)).astype(np.float32),
            "fixed": np.zeros(s, dtype=np.float32),
            "lam": (1e-4 * rng.standard_normal((2, w, cfg.n_bins))).astype(np.float32),
        }
    files = split_files("validation")
    if files:
        speech = load_audio(files[0], cfg.sample_rate)[0]
        m = mel_of(speech, mel)
        phase = torch.as_tensor(np.random.default_rng(seed).uniform(-np.pi, np.pi, (m.shape[0], cfg.n_bins)))
        with torch.no_grad():
            x, fixed, _ = net.double().start(torch.as_tensor(m), cfg.span(m.shape[0]), phase)
        net.float()
        x, fixed = x.numpy().astype(np.float32), fixed.numpy().astype(np.float32)
        cases["speech_offline"] = {
            "mag": m.astype(np.float32),
            "x": x,
            "fixed": fixed,
            "lam": np.zeros((2, m.shape[0], cfg.n_bins), dtype=np.float32),
        }
        w, m0 = cfg.overlap + 3, m.shape[0] // 2
        s0 = m0 * cfg.hop
        wfixed = np.zeros(cfg.span(w), dtype=np.float32)
        wfixed[: cfg.n_fft - cfg.hop] = 1.0
        cases["speech_window"] = {
            "mag": m[m0 : m0 + w].astype(np.float32),
            "x": x[s0 : s0 + cfg.span(w)].copy(),
            "fixed": wfixed,
            "lam": np.zeros((2, w, cfg.n_bins), dtype=np.float32),
        }
    return cases


def mel_stream_cases(net: MelStreamUnfolded, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Parity inputs of a stream mel network: a random window and, where the TIMIT sample exists, a real
    mid-utterance stream state of the training stream loop."""
    mel, cfg, w = net.mel_cfg, net.stft_cfg, net.scfg.window_frames
    s, k = cfg.span(w), cfg.n_bins
    rng = np.random.default_rng(seed)
    fixed = np.zeros(s, dtype=np.float32)
    fixed[: (cfg.overlap - 1) * cfg.hop] = 1.0
    cases = {
        "random": {
            "mag": _random_mel(rng, mel, s),
            "x": (0.03 * rng.standard_normal(s)).astype(np.float32),
            "fixed": fixed,
            "lam": (1e-4 * rng.standard_normal((2, w, k))).astype(np.float32),
        }
    }
    files = split_files("validation")
    if files:
        m = mel_of(load_audio(files[0], cfg.sample_rate)[0], mel)
        wanted = m.shape[0] // 2
        seen: list = []

        def step(mw, xs, fx, lam):
            if len(seen) == wanted:
                lam_ri = np.stack([lam[0].real.numpy(), lam[0].imag.numpy()])
                seen.append({"mag": mw[0].numpy(), "x": xs[0].numpy(), "fixed": fx.numpy(), "lam": lam_ri})
            else:
                seen.append(None)
            return net(mw, xs, fx, lam)

        with torch.no_grad():
            mel_t = torch.as_tensor(m[: wanted + 1], dtype=torch.float32)
            stream_reconstruct(
                step, mel_t, cfg.span(wanted + 1), net.scfg.lookahead, cfg, new_magnitude=net.new_magnitude
            )
        cases["speech_stream"] = {
            k2: np.ascontiguousarray(v, dtype=np.float32) for k2, v in seen[wanted].items()
        }
    return cases

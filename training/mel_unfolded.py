"""Unfolded ADMM for mel measurements: the linear network's layers, the prox's target made by the mel step.

The measurement is a mel m = B |X|^p (engine.mel: ``linear_mel`` of a preset's array, [F, n_mels]); the
linear magnitudes are free. In each layer the prox's target is the mel step (engine.mel_gla.MelStep, written
here in torch) applied to the current estimate: with a = |A x + lam / rho|, r = a G(a)^(1/p), G the
band-weighted mean of the bands' ratios m / B a^p (one KL multiplicative update per band); the layer's
learned prox F_t(a, r) then replaces the quadratic one, so the divergence is learned for mel measurements.
Untrained (the prox of the quadratic loss), a network of T layers is T iterations of mel-ADMM-l2 from the
same start.

The STFT is the preset's own (``hifigan``: a periodic Hann of 1024, hop 256, unnormalised DFT, frames not
centred): the network works on the *inner* signal, the one the preset frames after its outside reflect
padding of ``MelConfig.pad`` samples each side. Every sample of that signal is free (no reflection is
imposed, as in engine.mel_gla), and the output is the inner signal with the padding cut. The start is
engine.mel_gla's: unit magnitudes with the seeded random phases through the mel step, then the least-squares
inverse STFT.
"""

from __future__ import annotations

import torch
from phasefold.engine.mel import TINY, MelConfig, mel_filters
from phasefold.training import stft as tstft
from phasefold.training.stream_unfolded import StreamNetConfig, StreamUnfolded
from phasefold.training.unfolded import COV_EPS, NetConfig, UnfoldedADMM, initial_breaks
from torch import nn

#: the break points of the prox's pieces at the start, spanning the magnitudes of speech in the hifigan
#: STFT's scale (a Hann window with an unnormalised DFT: about 40 times the tight frame's, whose
#: break points start at 1e-4 .. 1e-2)
MEL_BREAKS = (4e-3, 4e-2, 4e-1)


class MelStep(nn.Module):
    """engine.mel_gla.MelStep in torch: the gains G^(1/p) [..., F, K] that move the mel of magnitudes a to
    the target mel [..., F, n_mels] (batched over leading axes; each item's floor from its own mel's mean)."""

    def __init__(self, cfg: MelConfig) -> None:
        super().__init__()
        bank = mel_filters(cfg)  # [n_mels, K]
        cover = bank.sum(axis=0)
        spread = bank / (cover + (cover == 0))  # [n_mels, K]: each bin's weights sum to 1 (0 under no band)
        # float64 (cast to the input's type where used): a float64 network is the engine's step to rounding
        self.register_buffer("bank", torch.as_tensor(bank.T.copy()), persistent=False)  # [K, n_mels]
        self.register_buffer("spread", torch.as_tensor(spread), persistent=False)
        self.power = float(cfg.power)

    def gains(self, a: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """G^(1/p) [..., F, K] for magnitudes ``a`` [..., F, K] and the target ``mel`` [..., F, n_mels]."""
        bank, spread = self.bank.to(a.dtype), self.spread.to(a.dtype)
        current = (a if self.power == 1.0 else a**self.power) @ bank
        tiny = TINY * mel.mean(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(mel.dtype).tiny)
        gain = (mel / torch.maximum(current, tiny)) @ spread
        if self.power == 1.0:
            return gain
        # bins under no band have gain 0: its root there is 0, with a finite gradient (0, not 0 * inf)
        return torch.where(gain > 0, gain.clamp_min(torch.finfo(gain.dtype).tiny) ** (1.0 / self.power), 0.0)

    def forward(self, a: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """The mel step's magnitudes a G^(1/p)."""
        return a * self.gains(a, mel)


class MelUnfoldedADMM(UnfoldedADMM):
    """An ``UnfoldedADMM`` whose measurement is a mel (module docstring): ``mag`` arguments are mels
    [..., W, n_mels] and the prox's target is the mel step of the current estimate."""

    def __init__(self, cfg: NetConfig, mel: MelConfig) -> None:
        if cfg.stft_cfg != mel.stft:
            raise ValueError("a mel network runs at its mel configuration's STFT")
        super().__init__(cfg)
        self.mel_cfg = mel
        self.mel_step = MelStep(mel)

    def target(self, a: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
        return self.mel_step(a, mag)

    def start(self, mag: torch.Tensor, length: int, phase: torch.Tensor):
        """Offline start of the inner signal (``length`` samples, all free): unit magnitudes with ``phase``
        through the mel step, least-squares inverse STFT; lam = 0."""
        cfg = self.stft_cfg
        spec = torch.polar(self.mel_step(torch.ones_like(phase), mag), phase)
        cov = tstft.coverage(mag.shape[-2], cfg, mag.dtype, mag.device).clamp_min(COV_EPS)
        x = tstft.synthesize(spec, cfg, self.win) / cov
        fixed = tstft.fixed_mask(length, cfg, mag.dtype).to(mag.device)
        lam = torch.zeros_like(
            phase, dtype=torch.complex64 if mag.dtype == torch.float32 else torch.complex128
        )
        return x, fixed, lam

    def reconstruct(
        self, mag: torch.Tensor, length: int, phase: torch.Tensor, passes: int = 1, runner=None
    ) -> torch.Tensor:
        """A signal of ``length`` samples from a mel [..., F, n_mels] and a start phase [..., F, K]: the inner
        signal of the F frames, its outside padding cut (zeros past its end), as engine.mel_gla."""
        runner = self if runner is None else runner
        inner = self.stft_cfg.span(mag.shape[-2])
        x, fixed, lam = self.start(mag, inner, phase)
        for _ in range(passes):
            x, lam = runner(mag, x, fixed, lam)
        return _cropped(x, self.mel_cfg.pad, inner, length)


class MelStreamUnfolded(StreamUnfolded):
    """A ``StreamUnfolded`` whose measurement is a mel: the prox's target is the mel step of the current
    estimate, a new frame enters with unit magnitudes through the mel step (engine.mel_gla's start) and
    the phase-advance phase; the stream runs over the inner signal and its outside padding is cut."""

    def __init__(self, cfg: StreamNetConfig, mel: MelConfig) -> None:
        if cfg.stft_cfg != mel.stft:
            raise ValueError("a mel network runs at its mel configuration's STFT")
        super().__init__(cfg)
        self.mel_cfg = mel
        self.mel_step = MelStep(mel)
        with torch.no_grad():  # break points at the preset STFT's magnitudes
            self.log_break.copy_(
                torch.log(torch.tensor(initial_breaks(cfg.pieces, MEL_BREAKS))).expand_as(self.log_break)
            )

    def target(self, a: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
        return self.mel_step(a, mag)

    def new_magnitude(self, mag: torch.Tensor) -> torch.Tensor:
        ones = mag.new_ones(*mag.shape[:-1], self.stft_cfg.n_bins)
        return self.mel_step(ones, mag)

    def reconstruct(
        self, mag, length: int, phase=None, passes: int = 1, runner=None, probe: float = 0.0
    ) -> torch.Tensor:
        """The streamed signal of ``length`` samples from a mel [..., F, n_mels] (``phase`` is ignored)."""
        inner = self.stft_cfg.span(mag.shape[-2])
        y = super().reconstruct(mag, inner, phase, passes, runner, probe)
        return _cropped(y, self.mel_cfg.pad, inner, length)


def _cropped(inner: torch.Tensor, pad: int, n_inner: int, length: int) -> torch.Tensor:
    """``length`` samples of an inner signal with its outside padding cut (zeros past its end)."""
    out = inner[..., pad : n_inner - pad][..., :length]
    return torch.nn.functional.pad(out, (0, length - out.shape[-1]))

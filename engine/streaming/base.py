"""The processor interface every streaming method implements (window steps, RTISI-LA, RTPGHI).

A processor turns frames into hops with a fixed alignment (docs/architecture.md, "Streaming"):
frame m covers padded samples [mH, mH + N); after the block ending with frame m arrives, the
processor emits hops m - L - b + 1 .. m - L (b = frames in the block, zeros for negative hops), so
padded sample p always appears at output index p + L H whatever the method or block size. ``tail``
returns the L + N/H - 1 hops still held after the last frame. Processors never validate input
(``Stream`` does, before any state changes) and hold all their state explicitly, so ``reset``
returns them to the state they were built in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from phasefold.engine.stft import StftConfig


class FrameProcessor(ABC):
    """Frames in, H samples per frame out, after a look-ahead of L frames."""

    backend = "numpy"  # the backend that runs it (engine.backends), set by its builder

    #: short name shown to users (method or model name)
    name: str = "processor"
    #: the mel configuration of the frames (engine.mel.MelConfig: engine.streaming.mel); None: r = |X|^d
    mel = None

    def __init__(self, cfg: StftConfig, lookahead: int, block: int) -> None:
        if lookahead < 0:
            raise ValueError(f"look-ahead must be >= 0, not {lookahead}")
        if block < 1:
            raise ValueError(f"block size must be >= 1, not {block}")
        self.cfg = cfg
        self.lookahead = int(lookahead)
        self.block = int(block)

    @property
    def width(self) -> int:
        """Values per frame: the bins K = n_fft / 2 + 1, or the bands of a mel processor."""
        return self.cfg.n_bins

    @property
    def tail_hops(self) -> int:
        """Hops still held after the last frame: L + N/H - 1."""
        return self.lookahead + self.cfg.overlap - 1

    @abstractmethod
    def reset(self) -> None:
        """Forget every frame: back to the state after construction."""

    @abstractmethod
    def process(self, mags: np.ndarray, phases: np.ndarray | None = None) -> np.ndarray:
        """Take b <= B frames [b, K] of measurements r = |X|^d; return b H float32 samples.

        ``phases`` [b, K] (radians, our STFT convention) optionally gives known phases of the new frames.
        """

    @abstractmethod
    def tail(self) -> np.ndarray:
        """The (L + N/H - 1) H samples not yet emitted after the last frame (float32)."""

    def projections_per_frame(self) -> float:
        """STFT projections (one frame analysed and synthesised) spent per input frame."""
        return 0.0

    def describe(self) -> str:
        """One line for users: method and its per-step work."""
        return self.name

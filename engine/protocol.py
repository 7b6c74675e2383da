"""THE evaluation protocol (docs/results.md): how file i of a list is measured, started and scored.

One condition (exact magnitudes at a hop, or modified magnitudes at an SNR) over a list of files: file i is
measured at the condition's hop (modified: white noise at the SNR with noise seed 1000 + i, then the
oracle Wiener mask), an offline method starts it from random phase seed i, SC is measured against those
measurements and STOI / ESTOI / PESQ against the clean signal (engine.metrics). ``seed`` shifts both
seeds (0 gives the protocol of the model cards).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from phasefold.engine.audio_io import load_audio
from phasefold.engine.magnitudes import modified_magnitudes
from phasefold.engine.metrics import evaluate_signal
from phasefold.engine.stft import HOP, StftConfig, magnitude

NOISE_SEED_OFFSET = 1000
CONDITIONS = {  # the model cards' conditions: name -> (hop, modified SNR in dB or None)
    "exact_hop256": (256, None),
    "exact_hop512": (512, None),
    "modified_snr5": (256, 5.0),
}


@dataclass(frozen=True)
class EvaluationProtocol:
    """One condition (hop, SNR of modified magnitudes or None for exact) and the seeds of file i."""

    hop: int = HOP
    snr_db: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        StftConfig(hop=self.hop)  # ValueError for a hop the STFT cannot use

    @classmethod
    def condition(cls, name: str) -> EvaluationProtocol:
        """The protocol of a model card's condition: exact_hop256, exact_hop512 or modified_snr5."""
        if name not in CONDITIONS:
            raise ValueError(f"unknown condition {name!r}; choose one of {', '.join(CONDITIONS)}")
        hop, snr_db = CONDITIONS[name]
        return cls(hop, snr_db)

    @property
    def cfg(self) -> StftConfig:
        """The STFT settings of the measurements."""
        return StftConfig(hop=self.hop)

    @property
    def name(self) -> str:
        """The condition's name, as the model cards write it (exact_hop256, modified_snr5, ...)."""
        if self.snr_db is None:
            return f"exact_hop{self.hop}"
        return f"modified_snr{self.snr_db:g}" + ("" if self.hop == HOP else f"_hop{self.hop}")

    def phase_seed(self, index: int) -> int:
        """Seed of the random initial phase of file ``index``."""
        return self.seed + index

    def noise_seed(self, index: int) -> int:
        """Seed of the white noise of file ``index`` (modified magnitudes)."""
        return NOISE_SEED_OFFSET + self.seed + index

    def measure(self, clean: np.ndarray, index: int, cfg: StftConfig | None = None) -> np.ndarray:
        """The measurements [F, K] of file ``index`` (with ``cfg``, default the protocol's: a network's own
        STFT), float64 as the cards' metrics took them (a streamed run is chaotic: float32 measurements move
        its scores by hundredths)."""
        cfg = cfg or self.cfg
        if self.snr_db is None:
            return magnitude(clean, cfg)
        return modified_magnitudes(clean, cfg, self.snr_db, self.noise_seed(index))

    def items(self, files: Iterable[Path]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(index, clean signal, measurements) of every file, in order."""
        for index, path in enumerate(files):
            clean = load_audio(path)[0]
            yield index, clean, self.measure(clean, index)

    def scores(
        self, clean: np.ndarray, estimate: np.ndarray, measurements: np.ndarray, cfg: StftConfig | None = None
    ) -> dict[str, float]:
        """SC against the given measurements (made with ``cfg``, default the protocol's); STOI, ESTOI and
        PESQ-WB against the clean signal."""
        return evaluate_signal(clean, estimate, cfg or self.cfg, r=measurements)

    def describe(self, start: str | None = None) -> str:
        """One line for a report or a card (``start``: how a method starts, default the seeded phase)."""
        first = "i" if self.seed == 0 else f"{self.seed} + i"
        if self.snr_db is None:
            condition = f"exact magnitudes, hop {self.hop}"
        else:
            condition = (
                f"modified magnitudes, hop {self.hop} (white noise at {self.snr_db:g} dB SNR with noise seed "
                f"{NOISE_SEED_OFFSET + self.seed} + i, oracle Wiener mask)"
            )
        start = start or f"random phase start with seed {first}"
        return (
            f"{condition}; file i: {start}; SC against the given measurements, STOI, ESTOI and PESQ-WB "
            "against the clean reference (phasefold.engine.metrics)"
        )

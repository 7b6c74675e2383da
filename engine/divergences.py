"""Bregman divergences D_psi(p|q) = psi(p) - psi(q) - psi'(q)(p - q) (docs/architecture.md).

Generators: quadratic psi(z) = z^2/2 (beta = 2), Kullback-Leibler psi(z) = z log z (beta = 1),
Itakura-Saito psi(z) = -log z (beta = 0), beta psi(z) = z^b/(b(b-1)) - z/(b-1) + 1/b (any other b).
A "left" loss is D(u | r) as a function of u, a "right" loss D(r | u) (u: the estimate |Ax|^d).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIDES = ("left", "right")


@dataclass(frozen=True)
class Divergence:
    """One Bregman divergence of the beta family (quadratic, KL and IS are beta = 2, 1, 0)."""

    beta: float

    @property
    def name(self) -> str:
        return {2.0: "l2", 1.0: "kl", 0.0: "is"}.get(float(self.beta), f"beta{self.beta:g}")

    def psi(self, z: np.ndarray) -> np.ndarray:
        """The generator psi(z)."""
        b = self.beta
        if b == 2.0:
            return 0.5 * z**2
        if b == 1.0:
            return z * np.log(z)
        if b == 0.0:
            return -np.log(z)
        return z**b / (b * (b - 1.0)) - z / (b - 1.0) + 1.0 / b

    def dpsi(self, z: np.ndarray) -> np.ndarray:
        """psi'(z)."""
        b = self.beta
        if b == 2.0:
            return np.asarray(z, dtype=np.float64)
        if b == 1.0:
            return np.log(z) + 1.0
        if b == 0.0:
            return -1.0 / z
        return (z ** (b - 1.0) - 1.0) / (b - 1.0)

    def ddpsi(self, z: np.ndarray) -> np.ndarray:
        """psi''(z) = z^(beta - 2)."""
        return np.power(np.asarray(z, dtype=np.float64), self.beta - 2.0)

    def dddpsi(self, z: np.ndarray) -> np.ndarray:
        """psi'''(z) = (beta - 2) z^(beta - 3)."""
        return (self.beta - 2.0) * np.power(np.asarray(z, dtype=np.float64), self.beta - 3.0)

    def value(self, p: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Elementwise D(p | q), written in the numerically stable closed form of each case."""
        p = np.asarray(p, dtype=np.float64)
        q = np.asarray(q, dtype=np.float64)
        b = self.beta
        with np.errstate(divide="ignore", invalid="ignore"):
            if b == 2.0:
                return 0.5 * (p - q) ** 2
            if b == 1.0:
                return np.where(p > 0, p * np.log(p / q), 0.0) - p + q
            if b == 0.0:
                return p / q - np.log(p / q) - 1.0
            return (p**b + (b - 1.0) * q**b - b * p * q ** (b - 1.0)) / (b * (b - 1.0))

    def loss(self, u: np.ndarray, r: np.ndarray, side: str) -> np.ndarray:
        """Elementwise loss of the estimate u: D(u|r) (left) or D(r|u) (right)."""
        return self.value(u, r) if _side(side) == "left" else self.value(r, u)

    def dloss(self, u: np.ndarray, r: np.ndarray, side: str) -> np.ndarray:
        """Derivative in u: psi'(u) - psi'(r) (left) or psi''(u) (u - r) (right)."""
        if _side(side) == "left":
            return self.dpsi(u) - self.dpsi(r)
        return self.ddpsi(u) * (u - r)

    def d2loss(self, u: np.ndarray, r: np.ndarray, side: str) -> np.ndarray:
        """Second derivative in u."""
        if _side(side) == "left":
            return self.ddpsi(u)
        return self.dddpsi(u) * (u - r) + self.ddpsi(u)


QUADRATIC = Divergence(2.0)
KL = Divergence(1.0)
IS = Divergence(0.0)


def _side(side: str) -> str:
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    return side


def divergence(name: str) -> Divergence:
    """Parse 'l2' / 'quadratic', 'kl', 'is' or 'beta<b>' (e.g. 'beta0.5')."""
    key = name.lower()
    if key in ("l2", "quadratic"):
        return QUADRATIC
    if key == "kl":
        return KL
    if key == "is":
        return IS
    if key.startswith("beta"):
        try:
            return Divergence(float(key[4:]))
        except ValueError:
            pass
    raise ValueError(f"unknown divergence {name!r}: use l2, kl, is or beta<b> (e.g. beta0.5)")

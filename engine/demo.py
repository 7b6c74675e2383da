"""A deterministic, speech-like demo signal of our own making, so the product works with no data.

A glottal-pulse source (Rosenberg pulses, differentiated for lip radiation) with a falling and
rising pitch contour is shaped by three time-varying formant resonators gliding between vowel
targets; noise consonants (s, sh, f) and plosive bursts sit between syllables, and short pauses
split the phrases.
"""

from __future__ import annotations

import numpy as np
from phasefold.engine.stft import SAMPLE_RATE
from scipy.signal import butter, lfilter, sosfilt

# vowel -> formant frequencies F1, F2, F3 (Hz), adult male averages
VOWELS = {
    "a": (730.0, 1090.0, 2440.0),
    "i": (270.0, 2290.0, 3010.0),
    "u": (300.0, 870.0, 2240.0),
    "e": (530.0, 1840.0, 2480.0),
    "o": (570.0, 840.0, 2410.0),
}
BANDWIDTHS = (80.0, 110.0, 160.0)
# consonant -> noise band (Hz) and level; "p" and "t" are short bursts
CONSONANTS = {
    "s": (4000.0, 9000.0, 0.10),
    "sh": (2000.0, 5500.0, 0.12),
    "f": (1500.0, 9000.0, 0.04),
    "t": (2500.0, 7000.0, 0.25),
    "p": (300.0, 3000.0, 0.25),
}
# (consonant or "", vowel, vowel seconds); None is a pause
SCRIPT = [
    ("", "a", 0.30),
    ("s", "i", 0.22),
    ("t", "o", 0.28),
    ("", "u", 0.20),
    None,
    ("sh", "e", 0.26),
    ("p", "a", 0.30),
    ("f", "i", 0.24),
    ("", "o", 0.34),
    None,
    ("t", "e", 0.22),
    ("s", "a", 0.30),
    ("", "i", 0.20),
    ("p", "u", 0.32),
    None,
]
CONSONANT_SECONDS = {"s": 0.12, "sh": 0.12, "f": 0.10, "t": 0.03, "p": 0.03}
PAUSE_SECONDS = 0.35
BLOCK = 64


def _rosenberg(phase: np.ndarray) -> np.ndarray:
    """Rosenberg glottal flow for the fractional phase in [0, 1): opening, closing, closed."""
    p = phase % 1.0
    opening, closing = 0.4, 0.16
    flow = np.where(p < opening, 0.5 * (1.0 - np.cos(np.pi * p / opening)), 0.0)
    in_close = (p >= opening) & (p < opening + closing)
    return np.where(in_close, np.cos(0.5 * np.pi * (p - opening) / closing), flow)


def _resonate(x: np.ndarray, freqs: np.ndarray, bw: float, sr: int) -> np.ndarray:
    """Two-pole resonator with a per-block centre frequency and unit gain at that frequency."""
    out = np.empty_like(x)
    zi = np.zeros(2)
    radius = np.exp(-np.pi * bw / sr)
    for start in range(0, x.size, BLOCK):
        f = freqs[start]
        a = np.array([1.0, -2.0 * radius * np.cos(2.0 * np.pi * f / sr), radius * radius])
        gain = np.abs(np.polyval(a[::-1], np.exp(-2j * np.pi * f / sr)))
        out[start : start + BLOCK], zi = lfilter([gain], a, x[start : start + BLOCK], zi=zi)
    return out


def demo_signal(seconds: float = 6.0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """``seconds`` of the demo utterance (repeated as needed), peak 0.5, float64; same output every call."""
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    rng = np.random.default_rng(20240607)
    n = int(round(seconds * sr))
    formants = np.zeros((n, 3))
    voiced = np.zeros(n)
    noise_env = np.zeros(n)
    noise_band = np.zeros(n, dtype=int)
    bands = list(CONSONANTS)
    pos = 0
    previous = VOWELS["a"]
    while pos < n:
        for item in SCRIPT:
            if pos >= n:
                break
            if item is None:
                stop = min(n, pos + int(PAUSE_SECONDS * sr))
                formants[pos:stop] = previous
                pos = stop
                continue
            consonant, vowel, dur = item
            if consonant:
                c_len = int(CONSONANT_SECONDS[consonant] * sr)
                stop = min(n, pos + c_len)
                t = np.linspace(0.0, 1.0, stop - pos)
                env = np.sin(np.pi * t) if consonant in ("s", "sh", "f") else np.exp(-t * 6.0)
                noise_env[pos:stop] = CONSONANTS[consonant][2] * env
                noise_band[pos:stop] = bands.index(consonant)
                formants[pos:stop] = previous
                pos = stop
            stop = min(n, pos + int(dur * sr))
            target = np.array(VOWELS[vowel])
            glide = np.clip(np.linspace(0.0, 3.0, stop - pos), 0.0, 1.0)[:, None]
            formants[pos:stop] = (1.0 - glide) * np.array(previous) + glide * target
            t = np.linspace(0.0, 1.0, stop - pos)
            voiced[pos:stop] = np.minimum(1.0, 8.0 * np.minimum(t, 1.0 - t)) ** 1.5
            previous = tuple(target)
            pos = stop
    t = np.arange(n) / sr
    # pitch: a declining phrase contour with a slow vibrato-like drift
    f0 = 118.0 - 6.0 * (t % 2.0) + 14.0 * np.sin(2.0 * np.pi * 0.45 * t) + 2.0 * np.sin(2.0 * np.pi * 5.1 * t)
    source = np.diff(_rosenberg(np.cumsum(f0) / sr), prepend=0.0) * voiced
    source += 0.002 * rng.standard_normal(n) * voiced  # aspiration
    y = source
    for k in range(3):
        y = _resonate(y, formants[:, k], BANDWIDTHS[k], sr)
    y = y / np.max(np.abs(y))
    white = rng.standard_normal(n)
    for i, name in enumerate(bands):
        sel = noise_band == i
        if not np.any(sel & (noise_env > 0)):
            continue
        lo, hi, _ = CONSONANTS[name]
        sos = butter(4, [lo, min(hi, 0.45 * sr)], btype="band", fs=sr, output="sos")
        y = y + np.where(sel, noise_env, 0.0) * sosfilt(sos, white)
    y = y - np.mean(y)
    return 0.5 * y / np.max(np.abs(y))

"""Mel presets against their projects' own code, the mel-consistent Griffin-Lim, phasefold.mel_to_audio.

The references of the torch presets are their projects' few lines, re-created here in torch (in float64, so
that the comparison is tight): jik876/hifi-gan meldataset.py, ESPnet2's LogMelFbank/Stft/LogMel, and vocos's
MelSpectrogramFeatures (torchaudio's Spectrogram and melscale_fbanks written out, torchaudio not being
installable beside this torch).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

librosa = pytest.importorskip("librosa")
torch = pytest.importorskip("torch")

import phasefold  # noqa: E402
from phasefold.engine.errors import InputError  # noqa: E402
from phasefold.engine.mel import PRESETS, MelConfig, linear_mel, mel_filters, melspectrogram  # noqa: E402
from phasefold.engine.mel_gla import MelStep  # noqa: E402
from phasefold.engine.stft import StftConfig  # noqa: E402


def voiced(sr: int = 22050, seconds: float = 0.8, seed: int = 1) -> np.ndarray:
    """A voiced sound: 29 harmonics of a gliding 140 Hz, a little noise."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(140 + 20 * np.sin(2 * np.pi * 3 * t)) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 30)) * 0.1 * np.hanning(t.size)
    return x + 0.003 * np.random.default_rng(seed).standard_normal(t.size)


def mel_error(y: np.ndarray, mel: np.ndarray, cfg: MelConfig) -> float:
    """|| mel(y) - mel || / || mel || on linear values."""
    target = linear_mel(mel, cfg)
    return float(np.linalg.norm(linear_mel(melspectrogram(y, cfg), cfg) - target) / np.linalg.norm(target))


# ---------------------------------------------------------------- the filters and the presets' forward


@pytest.mark.parametrize("scale", ["slaney", "htk"])
@pytest.mark.parametrize("norm", ["slaney", None])
@pytest.mark.parametrize(
    ("sr", "n_fft", "n_mels", "fmin", "fmax"),
    [(22050, 1024, 80, 0, 8000), (16000, 511, 40, 80, None), (24000, 2048, 128, 30, 11000)],
)
def test_filters_equal_librosa(scale, norm, sr, n_fft, n_mels, fmin, fmax):
    cfg = MelConfig(
        StftConfig(n_fft=n_fft, hop=128, sample_rate=sr, center=True), n_mels, fmin, fmax, scale, norm
    )
    ref = librosa.filters.mel(
        sr=sr,
        n_fft=n_fft,
        n_mels=n_mels,
        fmin=fmin,
        fmax=fmax,
        htk=scale == "htk",
        norm=norm,
        dtype=np.float64,
    )
    np.testing.assert_allclose(mel_filters(cfg), ref, rtol=1e-10, atol=1e-14)


def test_librosa_preset_equals_melspectrogram():
    x = voiced()
    ref = librosa.feature.melspectrogram(
        y=x, sr=22050, dtype=np.float64
    )  # its defaults but the filters' type
    ours = melspectrogram(x, PRESETS["librosa"])
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12 * ref.max())


def hifigan_reference(y: np.ndarray) -> np.ndarray:
    """jik876/hifi-gan meldataset.py mel_spectrogram (config_v1.json: 1024, 80, 22050, 256, 1024, 0, 8000)."""
    mel_basis = torch.from_numpy(
        librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=8000)
    ).double()
    hann_window = torch.hann_window(1024, dtype=torch.float64)
    y = torch.from_numpy(y)[None]
    y = torch.nn.functional.pad(
        y.unsqueeze(1), (int((1024 - 256) / 2), int((1024 - 256) / 2)), mode="reflect"
    )
    y = y.squeeze(1)
    spec = torch.stft(
        y,
        1024,
        hop_length=256,
        win_length=1024,
        window=hann_window,
        center=False,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    spec = torch.view_as_real(spec)
    spec = torch.sqrt(spec.pow(2).sum(-1) + (1e-9))
    spec = torch.matmul(mel_basis, spec)
    return torch.log(torch.clamp(spec, min=1e-5) * 1)[0].numpy()  # dynamic_range_compression_torch


def espnet_reference(y: np.ndarray) -> np.ndarray:
    """ESPnet2 LogMelFbank (tts/feats_extract/log_mel_fbank.py) -> layers/stft.py Stft -> layers/log_mel.py
    LogMel, as egs2/ljspeech/tts1 sets it (fs 22050, n_fft 1024, hop 256; fmin 80, fmax 7600, n_mels 80)."""
    x = torch.from_numpy(y)[None]
    window = torch.hann_window(1024, dtype=x.dtype)
    output = torch.stft(
        x,
        n_fft=1024,
        win_length=1024,
        hop_length=256,
        center=True,
        window=window,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    input_stft = torch.view_as_real(output).transpose(1, 2)
    input_power = input_stft[..., 0] ** 2 + input_stft[..., 1] ** 2
    input_amp = torch.sqrt(torch.clamp(input_power, min=1.0e-10))
    melmat = torch.from_numpy(
        librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=80, fmax=7600, htk=False).T
    )
    mel_feat = torch.clamp(torch.matmul(input_amp, melmat.double()), min=1e-10)
    return mel_feat.log10()[0].numpy()


def vocos_reference(y: np.ndarray) -> np.ndarray:
    """vocos feature_extractors.py MelSpectrogramFeatures() (24000, 1024, 256, 100, padding "center"):
    torchaudio.transforms.MelSpectrogram(power=1) = Spectrogram (torch.stft, hann, centred, reflect, |X|)
    then MelScale (melscale_fbanks: HTK, f_min 0, f_max sr // 2, norm None), then safe_log (clip 1e-7)."""
    sr, n_fft, n_mels = 24000, 1024, 100
    x = torch.from_numpy(y)[None]
    spec = torch.stft(
        x,
        n_fft=n_fft,
        hop_length=256,
        win_length=n_fft,
        window=torch.hann_window(n_fft, dtype=x.dtype),
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    ).abs()
    all_freqs = torch.linspace(0, sr // 2, n_fft // 2 + 1, dtype=torch.float64)
    m_min, m_max = 2595.0 * math.log10(1.0 + 0 / 700.0), 2595.0 * math.log10(1.0 + (sr // 2) / 700.0)
    m_pts = torch.linspace(m_min, m_max, n_mels + 2, dtype=torch.float64)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down_slopes = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up_slopes = slopes[:, 2:] / f_diff[1:]
    fb = torch.max(torch.zeros(1, dtype=torch.float64), torch.min(down_slopes, up_slopes))
    mel = torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)
    return torch.log(torch.clip(mel, min=1e-7))[0].numpy()


@pytest.mark.parametrize(
    ("name", "reference"),
    [("hifigan", hifigan_reference), ("espnet", espnet_reference), ("vocos", vocos_reference)],
)
def test_preset_equals_its_project(name, reference):
    cfg = PRESETS[name]
    x = voiced(cfg.stft.sample_rate, seconds=0.7)
    x[: x.size // 4] = 0.0  # silence: the floors and clamps
    ref = reference(x)
    ours = melspectrogram(x, cfg)
    assert ours.shape == ref.shape
    # the filters are float32 where the project takes librosa's (its default type): 1e-7 relative
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    # the silent frames: the mel of the small terms' |X| (ESPnet's clamp, HiFi-GAN's 1e-9), floored
    silent = np.full(cfg.stft.n_bins, max(cfg.add, cfg.clamp) ** (cfg.power / 2)) @ mel_filters(cfg).T
    floor = np.log(np.maximum(silent, cfg.floor)) / np.log(cfg.log_base)
    first = ref[2] if cfg.bands_last else ref[:, 2]
    np.testing.assert_allclose(first, floor, atol=1e-6)


# ---------------------------------------------------------------- the mel step and the iterations


def test_mel_step_is_homogeneous_and_matches_equal_ratios():
    cfg = PRESETS["hifigan"]
    rng = np.random.default_rng(3)
    spec = rng.standard_normal((7, cfg.stft.n_bins)) + 1j * rng.standard_normal((7, cfg.stft.n_bins))
    current = np.abs(spec) @ mel_filters(cfg).T
    covered = mel_filters(cfg).sum(axis=0) > 0
    # every band asks for the same ratio: every covered bin gets it, the others are zeroed
    gains = MelStep(current * 2.5, cfg).gains(spec)
    np.testing.assert_allclose(gains[:, covered], 2.5, rtol=1e-12)
    assert np.all(gains[:, ~covered] == 0)
    # a target s times larger: the step s^(1 / p) times larger (p = 2 here)
    power = MelConfig(cfg.stft, 80, 0.0, 8000.0, power=2.0)
    target = rng.uniform(0.1, 2.0, (7, 80))
    np.testing.assert_allclose(
        MelStep(target * 9.0, power)(spec), 3.0 * MelStep(target, power)(spec), rtol=1e-12
    )


def test_mel_consistent_gla_beats_librosa_on_the_mel():
    cfg = PRESETS["hifigan"]
    mel = melspectrogram(voiced(), cfg)
    ours = phasefold.mel_to_audio(mel, preset="hifigan", n_iter=32)
    theirs = librosa.feature.inverse.mel_to_audio(
        np.exp(mel), sr=22050, n_fft=1024, hop_length=256, center=False, power=1.0, fmax=8000.0, n_iter=32
    )[cfg.pad : -cfg.pad]
    assert ours.shape == theirs.shape == (mel.shape[1] * 256,)
    assert mel_error(ours, mel, cfg) < 0.6 * mel_error(theirs, mel, cfg)
    assert mel_error(phasefold.mel_to_audio(mel, preset="hifigan", n_iter=0), mel, cfg) > 0.3  # it iterates


# ---------------------------------------------------------------- phasefold.mel_to_audio


def test_librosa_signature_and_defaults():
    """librosa 0.11's own mel_to_audio test (tests/test_features.py), with phasefold's in its place."""
    y = librosa.tone(440.0, sr=22050, duration=1)
    M = librosa.feature.melspectrogram(y=y, sr=22050)
    y_inv = phasefold.mel_to_audio(M, sr=22050, length=len(y))
    assert len(y) == len(y_inv)
    assert librosa.util.valid_audio(y_inv)
    # its layout [..., n_mels, frames], its length without one ((frames - 1) hop, centred), a batch
    batch = np.stack([M, 0.25 * M])
    out = phasefold.mel_to_audio(batch)
    assert out.shape == (2, (M.shape[1] - 1) * 512)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[1], 0.5 * out[0], rtol=1e-4, atol=1e-7)  # power 2: a quarter, half as loud
    # the librosa preset reads as no preset does
    np.testing.assert_array_equal(
        phasefold.mel_to_audio(M, preset="librosa"), phasefold.mel_to_audio(M, n_iter=100)
    )


def test_filter_keywords_as_librosa_reads_them():
    x = voiced()
    M = librosa.feature.melspectrogram(
        y=x, sr=22050, n_fft=1024, hop_length=256, n_mels=64, fmin=50, htk=True, norm=None
    )
    y = phasefold.mel_to_audio(M, n_fft=1024, hop_length=256, fmin=50, htk=True, norm=None, n_iter=30)
    again = librosa.feature.melspectrogram(
        y=y, sr=22050, n_fft=1024, hop_length=256, n_mels=64, fmin=50, htk=True, norm=None
    )
    assert np.linalg.norm(again - M) / np.linalg.norm(M) < 0.15


@pytest.mark.parametrize(
    ("name", "shift", "factor"), [("hifigan", 1.5, math.exp(1.5)), ("espnet", -0.5, 10**-0.5)]
)
def test_level_rule(name, shift, factor):
    """A log mel shifted by c (above the floor): the same audio, scaled by base^(c / p): to float64's
    rounding in float64, to float32's (a relative error of a few 1e-6) at the default float32 output."""
    cfg = PRESETS[name]
    mel = melspectrogram(voiced(cfg.stft.sample_rate) * 3.0, cfg)
    assert np.min(mel) > math.log(cfg.floor, cfg.log_base) + 1  # above the floor
    y = phasefold.mel_to_audio(mel, preset=name, n_iter=20, dtype=np.float64)
    np.testing.assert_allclose(
        phasefold.mel_to_audio(mel + shift, preset=name, n_iter=20, dtype=np.float64),
        factor * y,
        rtol=1e-6,
        atol=1e-9 * factor * np.max(np.abs(y)),
    )
    y32 = phasefold.mel_to_audio(mel, preset=name, n_iter=20)
    shifted = phasefold.mel_to_audio(mel + shift, preset=name, n_iter=20)
    assert np.linalg.norm(shifted - factor * y32) / np.linalg.norm(factor * y32) < 1e-4


@pytest.mark.parametrize(
    ("arr", "kw", "words"),
    [
        (np.zeros((81, 20)) - 3, {"preset": "hifigan"}, "81 bands where 80"),
        (
            np.zeros((20, 80)) - 3,
            {"preset": "hifigan"},
            "20 bands.*transposed",
        ),  # ESPnet's layout given to hifigan
        (None, {"preset": "hifigan"}, "linear"),
        (np.full((80, 20), np.nan), {"preset": "hifigan"}, "NaN"),
        (np.zeros((128, 20)) - 1, {}, "negative"),
        (np.zeros((128, 20)), {"preset": "tacotron"}, "unknown mel preset"),
        (np.zeros((80, 20)), {"preset": "hifigan", "sr": 16000}, "leave out sr"),
        (np.zeros((128, 20)), {"window": "kaiser"}, "window"),
        (np.zeros((128, 20)), {"norm": 2}, "norm"),
        (np.ones((0, 5)), {}, "shape \\(0, 5\\) holds no bands"),
        (np.ones((80, 0)), {"preset": "hifigan"}, "no frames"),
    ],
)
def test_bad_input_is_one_line(arr, kw, words):
    if arr is None:  # a linear mel given to a log preset
        cfg = PRESETS["hifigan"]
        arr = np.exp(melspectrogram(voiced(), cfg))
    with pytest.raises(InputError, match=words) as info:
        phasefold.mel_to_audio(arr, **kw)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- phasefold reconstruct --mel


def _cli(capsys, *argv) -> tuple[int, str, str]:
    from phasefold.cli import main

    rc = main(["reconstruct", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_presets_are_the_engines():
    from phasefold.commands.mel_input import MEL_PRESETS

    assert MEL_PRESETS == tuple(PRESETS)


def test_cli_mel_array_and_audio(capsys, tmp_path):
    sf = pytest.importorskip("soundfile")
    cfg = PRESETS["espnet"]
    x = voiced(22050)
    wav = tmp_path / "speech.wav"
    sf.write(wav, x, 22050, subtype="FLOAT")
    mel = melspectrogram(x, cfg)  # ESPnet's own layout [frames, 80], log10
    np.save(tmp_path / "mel.npy", mel.astype(np.float32))
    rc, out, err = _cli(
        capsys, tmp_path / "mel.npy", "-o", tmp_path / "a.wav", "--mel", "espnet", "--iterations", 20
    )
    assert rc == 0, err
    assert "espnet mel, 20 iterations" in out
    y, sr = sf.read(tmp_path / "a.wav")
    assert sr == 22050 and y.size == (mel.shape[0] - 1) * 256
    assert mel_error(y, mel, cfg) < 0.25
    # from audio: the preset's mel computed first, the output as long as the input
    rc, out, err = _cli(capsys, wav, "-o", tmp_path / "b.wav", "--mel", "espnet", "--iterations", 20)
    assert rc == 0, err
    y, sr = sf.read(tmp_path / "b.wav")
    assert y.size == x.size
    read = melspectrogram(x.astype(np.float32).astype(np.float64), cfg)  # the samples the file holds
    np.testing.assert_allclose(
        y, phasefold.mel_to_audio(read, preset="espnet", n_iter=20, length=x.size), atol=1e-6
    )


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (
            ["--mel", "hifigan"],
            "mel.npy has 30 bands where 80.*transposed",
        ),  # ESPnet's layout to the hifigan preset
        (["--mel", "espnet", "--hop", "512"], "--hop does not apply"),
        (["--mel", "espnet", "--method", "rtpghi"], "rtpghi does not take a mel input"),
        (["--mel", "espnet", "--method", "admm-l2-d2"], "admm-l2-d2 does not take a mel input"),
        (["--mel", "espnet", "--online", "--iterations", "5"], "--iterations is the offline count"),
        (["--mel", "espnet", "--online", "--method", "rtpghi"], "rtpghi does not take a mel input"),
    ],
)
def test_cli_mel_refusals_are_one_line(capsys, tmp_path, extra, words):
    np.save(tmp_path / "mel.npy", np.zeros((30, 80)) - 4.0)
    rc, out, err = _cli(capsys, tmp_path / "mel.npy", "-o", tmp_path / "a.wav", *extra)
    assert rc == 1
    assert len(err.strip().splitlines()) == 1
    assert re.search(words, err), err
    assert not (tmp_path / "a.wav").exists()


@pytest.mark.parametrize("method", ["gla", "fgla", "admm-l2", "admm-kl"])
def test_mel_methods_reach_the_mel(method):
    """Every mel method (engine.mel_gla: the classical methods with the mel step as their magnitude step)
    moves the signal's mel to the target: its mel error after 40 iterations is a fraction of the start's
    (scored by the forward transform, not by the methods' own step)."""
    cfg = PRESETS["hifigan"]
    mel = melspectrogram(voiced(), cfg)
    start = mel_error(phasefold.mel_to_audio(mel, preset="hifigan", n_iter=0, method=method), mel, cfg)
    y = phasefold.mel_to_audio(mel, preset="hifigan", n_iter=40, method=method)
    assert mel_error(y, mel, cfg) < 0.5 * start


@pytest.mark.parametrize("name", ["hifigan", "espnet"])
def test_benchmark_reference_reaches_the_mel_as_ours(name):
    """benchmarks.mel_vs_librosa.reference_fgla (the issue's plain-numpy bar, on librosa's STFT and filters)
    is the same iteration as phasefold's fgla: from random phases both reach the mel, to about the same
    error after 32 iterations (different random starts)."""
    from benchmarks.mel_vs_librosa import reference_fgla

    cfg = PRESETS[name]
    x = voiced()
    mel = melspectrogram(x, cfg)
    start = mel_error(reference_fgla(mel, cfg, 0, x.size), mel, cfg)
    theirs = mel_error(reference_fgla(mel, cfg, 32, x.size), mel, cfg)
    ours = mel_error(phasefold.mel_to_audio(mel, preset=name, n_iter=32, length=x.size), mel, cfg)
    assert theirs < 0.25 * start
    assert 0.5 < theirs / ours < 2.0


def test_mel_to_audio_method_and_refusals():
    """mel_to_audio(method=...) runs engine.mel_gla's method; a method that takes no mel is refused in one
    line (InputError), the default is DEFAULT_MEL_METHOD."""
    from phasefold.engine.mel_gla import DEFAULT_MEL_METHOD, mel_gla

    cfg = PRESETS["vocos"]
    mel = melspectrogram(voiced(24000), cfg)
    y = phasefold.mel_to_audio(mel, preset="vocos", n_iter=8, method="admm-kl", dtype=np.float64)
    np.testing.assert_array_equal(y, mel_gla(linear_mel(mel, cfg), cfg, 8, method="admm-kl"))
    default = phasefold.mel_to_audio(mel, preset="vocos", n_iter=8, dtype=np.float64)
    np.testing.assert_array_equal(default, mel_gla(linear_mel(mel, cfg), cfg, 8, method=DEFAULT_MEL_METHOD))
    for name, words in (("gd-l2", "does not take a mel input"), ("rtisi-la", "does not take a mel input"),
                        ("no-such", "unknown method")):  # fmt: skip
        with pytest.raises(InputError, match=words) as info:
            phasefold.mel_to_audio(mel, preset="vocos", method=name)
        assert "\n" not in str(info.value)


def test_mel_step_never_increases_the_kl_divergence_to_the_mel():
    """The step is Lee and Seung's multiplicative update in a = |X|^p: KL(m | B a) does not grow."""
    cfg = PRESETS["vocos"]
    bank = mel_filters(cfg)
    rng = np.random.default_rng(5)
    target = rng.uniform(0.01, 3.0, (6, cfg.n_mels))
    spec = rng.standard_normal((6, cfg.stft.n_bins)) + 1j * rng.standard_normal((6, cfg.stft.n_bins))
    step = MelStep(target, cfg)

    def kl(s: np.ndarray) -> float:
        c = np.abs(s) @ bank.T
        return float(np.sum(target * np.log(target / c) - target + c))

    values = [kl(spec)]
    for _ in range(5):
        spec = step(spec)
        values.append(kl(spec))
    assert all(b <= a + 1e-9 for a, b in zip(values, values[1:], strict=False))
    assert values[-1] < 0.5 * values[0]

"""engine.evaluation: the one evaluation protocol of cards, benchmarks and `phasefold evaluate`."""

import numpy as np
import pytest
import soundfile as sf
from phasefold.engine.evaluation import CONDITIONS, EvaluationProtocol, spectral_convergence_db, stoi
from phasefold.engine.inputs import modified_magnitudes
from phasefold.engine.methods import reconstruct
from phasefold.engine.stft import StftConfig, magnitude


def test_the_cards_conditions_by_name():
    for name, (hop, snr_db, n_fft, rate) in CONDITIONS.items():
        protocol = EvaluationProtocol.condition(name)
        assert (protocol.hop, protocol.snr_db, protocol.seed) == (hop, snr_db, 0)
        assert protocol.name == name and protocol.cfg == StftConfig(n_fft=n_fft, hop=hop, sample_rate=rate)
    assert EvaluationProtocol(512, 5.0).name == "modified_snr5_hop512"
    assert (
        EvaluationProtocol(128, 5.0, n_fft=512, sample_rate=16000).name
        == "modified_snr5_sr16000_nfft512_hop128"
    )
    sixteen = EvaluationProtocol.condition("exact_sr16000_nfft512_hop128")
    assert sixteen.cfg == StftConfig(n_fft=512, hop=128, sample_rate=16000)
    assert "16000 Hz, n_fft 512, hop 128" in sixteen.describe()
    with pytest.raises(ValueError, match="unknown condition 'exact_hop128'"):
        EvaluationProtocol.condition("exact_hop128")
    with pytest.raises(ValueError):
        EvaluationProtocol(hop=300)
    with pytest.raises(ValueError):
        EvaluationProtocol(hop=256, n_fft=384)


def test_one_stft_from_the_rate_sizes_and_other_settings():
    """n_fft, sample rate and the other StftConfig keywords make the one StftConfig the protocol measures
    with (a hop that framing cannot use is refused at construction)."""
    other = (("window", "hann"), ("center", True), ("pad_mode", "reflect"))
    protocol = EvaluationProtocol(160, None, 0, 512, 16000, other)
    assert protocol.cfg == StftConfig(
        n_fft=512, hop=160, sample_rate=16000, window="hann", center=True, pad_mode="reflect"
    )
    with pytest.raises(ValueError):
        EvaluationProtocol(160, None, 0, 512, 16000)  # phasefold's own framing: the hop must divide n_fft


def test_seeds_of_file_i():
    cards = EvaluationProtocol.condition("modified_snr5")
    assert [cards.phase_seed(i) for i in range(3)] == [0, 1, 2]
    assert [cards.noise_seed(i) for i in range(3)] == [1000, 1001, 1002]
    shifted = EvaluationProtocol(256, 5.0, seed=7)
    assert (shifted.phase_seed(2), shifted.noise_seed(2)) == (9, 1009)


def test_measurements_of_file_i(speech):
    exact, modified = EvaluationProtocol(), EvaluationProtocol(256, 5.0)
    cfg = exact.cfg
    r = exact.measure(speech, 3)
    assert r.dtype == np.float64 and np.array_equal(r, magnitude(speech, cfg))
    m = modified.measure(speech, 3)
    assert m.dtype == np.float64 and np.array_equal(m, modified_magnitudes(speech, cfg, 5.0, 1003))
    assert not np.array_equal(m, modified.measure(speech, 4))  # each file its own noise


def test_items_and_scores(tmp_path, speech):
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"{i}.wav")
        sf.write(paths[-1], speech[i * 1000 : i * 1000 + 11025], 22050, subtype="FLOAT")
    protocol = EvaluationProtocol(256, 5.0)
    items = list(protocol.items(paths))
    assert [i for i, _, _ in items] == [0, 1]
    i, x, r = items[1]
    assert np.array_equal(r, protocol.measure(x, 1))
    y = reconstruct("fgla", r, protocol.cfg, 5, protocol.phase_seed(i), x.size)
    scores = protocol.scores(x, y, r)
    # SC against the given (modified) measurements, the rest against the clean signal
    assert scores["sc_db"] == spectral_convergence_db(y, r, protocol.cfg)
    assert scores["sc_db"] != spectral_convergence_db(y, magnitude(x, protocol.cfg), protocol.cfg)
    assert scores["stoi"] == stoi(x, y, protocol.cfg.sample_rate)


def test_describe_is_one_line():
    text = EvaluationProtocol.condition("modified_snr5").describe()
    assert "\n" not in text
    for words in ("hop 256", "5 dB", "noise seed 1000 + i", "seed i", "SC against the given measurements"):
        assert words in text
    assert "seed 3 + i" in EvaluationProtocol(seed=3).describe()
    assert "streaming engine" in EvaluationProtocol().describe("the streaming engine")


@pytest.mark.parametrize(("condition", "snr_db"), [("exact", None), ("modified", 5.0)])
def test_training_validation_is_drawn_by_the_protocol(speech, condition, snr_db):
    """Draw 0 of the trainer's validation set is the protocol's files: their measurements and the phases
    that an offline method of the protocol starts from (random_phase_init's draw)."""
    pytest.importorskip("torch")
    from phasefold.training.data import DataConfig, validation_set

    signals = [speech, speech[: speech.size // 2]]
    protocol = EvaluationProtocol(256, snr_db)
    drawn = validation_set(signals, StftConfig(), DataConfig(condition=condition))
    for i, (x, mag, phase) in enumerate(drawn):
        assert x is signals[i]
        np.testing.assert_array_equal(mag, protocol.measure(signals[i], i))
        start = np.random.default_rng(protocol.phase_seed(i)).uniform(-np.pi, np.pi, size=mag.shape)
        np.testing.assert_array_equal(phase, start)


@pytest.mark.parametrize("snr_db", [None, 5.0])
def test_one_rule_measures_every_door(tmp_path, speech, snr_db):
    """engine.inputs.measure is what the protocol, `reconstruct`'s reading and the stream's audio source take:
    exact magnitudes, or white noise at the SNR then the oracle Wiener mask."""
    from phasefold.engine.inputs import load_measurements, measure
    from phasefold.engine.streaming import AudioFileSource

    path = tmp_path / "x.wav"
    x = speech[:22050]
    sf.write(path, x, 22050, subtype="DOUBLE")
    cfg, seed = StftConfig(), 1003  # the protocol's noise seed of file 3
    expected = magnitude(x, cfg) if snr_db is None else modified_magnitudes(x, cfg, snr_db, seed)
    assert np.array_equal(measure(x, cfg, snr_db, seed), expected)
    assert np.array_equal(EvaluationProtocol(256, snr_db).measure(x, 3), expected)
    source = AudioFileSource(path, cfg, snr_db=snr_db, seed=seed)
    assert np.array_equal(source.frames, expected)
    assert any("oracle Wiener mask" in note for note in source.notes) == (snr_db is not None)
    got = load_measurements(path, None, snr_db, seed)  # `phasefold reconstruct`: exact ones as float32
    assert np.array_equal(got.magnitudes, expected.astype(np.float32) if snr_db is None else expected)
    assert np.array_equal(got.reference, x) and got.length == x.size and got.cfg == cfg

"""Training runs: stopped mid-way and resumed, a run ends exactly as an uninterrupted one; bad settings."""

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

from phasefold.training import train as train_module  # noqa: E402
from phasefold.training.config import TrainConfig  # noqa: E402
from phasefold.training.data import DataConfig  # noqa: E402
from phasefold.training.train import train  # noqa: E402


def _audio_folder(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * 22050)) / 22050
    for i in range(10):
        f0 = 110.0 + 15 * i
        x = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 8)) * 0.05
        sf.write(folder / f"a{i}.wav", x + 1e-3 * rng.standard_normal(t.size), 22050)
    return folder


# every checkpoint of either trainer (best.pt, epoch-NN.pt) holds these keys; last.pt adds RESUME_KEYS
CHECKPOINT_KEYS = {"mode", "config", "net", "data_description", "device", "threads", "model", "epoch", "val"}
CHECKPOINT_KEYS |= {"val_init", "seconds"}
RESUME_KEYS = {"optimizer", "scheduler", "sampler", "torch_rng", "best", "history"}


def _tiny_config(kind: str, data: DataConfig, **changes):
    """The smallest run of each trainer: offline untied 2 layers, or streaming L = 0 with 1 layer."""
    common = dict(pieces=1, data=data, epochs=3, steps_per_epoch=2, batch=1, lr=1e-2, warmup=1)
    if kind == "offline":
        return TrainConfig(variant="untied", layers=2, **{**common, **changes})
    from phasefold.training.stream_train import StreamTrainConfig

    return StreamTrainConfig(lookahead=0, layers=1, **{**common, **changes})


@pytest.fixture
def one_thread():
    """One torch thread: the stream is chaotic, so a summation order that varies between runs (threads under
    load) would show up in the parameters, and exact equality is the point."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("kind", ["offline", "stream"])
def test_resume_continues_exactly(tmp_path, monkeypatch, one_thread, kind):
    data = DataConfig(folder=str(_audio_folder(tmp_path / "audio")), seconds=0.8, validation_fraction=0.2)
    cfg = _tiny_config(kind, data)
    whole = train(cfg, tmp_path / "whole", progress=False)

    calls = []
    validate = train_module.validate

    def stop_in_epoch_2(*args, **kwargs):  # validations: untrained, epoch 1, then the stop in epoch 2
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return validate(*args, **kwargs)

    monkeypatch.setattr(train_module, "validate", stop_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "parts", progress=False)
    monkeypatch.setattr(train_module, "validate", validate)
    assert torch.load(tmp_path / "parts" / "last.pt", weights_only=False)["epoch"] == 1
    resumed = train(cfg, tmp_path / "parts", resume=True, progress=False)

    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "parts" / "last.pt", weights_only=False)
    assert a["epoch"] == b["epoch"] == 3 and a["mode"] == b["mode"] == kind
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["history"]["loss"] == b["history"]["loss"]  # the same batches, the same steps
    assert a["sampler"] == b["sampler"] and len(a["sampler"]) == 1  # one state per rank
    # same weights, same validation (to summation order: validation runs under torch's thread pool)
    assert [v["score"] for v in resumed["validation"]] == pytest.approx(
        [v["score"] for v in whole["validation"]], rel=1e-9
    )
    # one checkpoint format for both trainers, a checkpoint for every epoch
    assert set(a) == CHECKPOINT_KEYS | RESUME_KEYS
    for epoch in range(4):
        kept = torch.load(tmp_path / "parts" / f"epoch-{epoch:02d}.pt", weights_only=False)
        assert set(kept) == CHECKPOINT_KEYS and kept["epoch"] == epoch
        assert kept["val_init"] == resumed["validation"][0]
    best = max(resumed["validation"], key=lambda v: v["score"])
    assert torch.load(tmp_path / "parts" / "best.pt", weights_only=False)["epoch"] == best["epoch"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rho", "0"], "--rho: expected a finite number > 0"),
        (["--layers", "0"], "must be >= 1"),
    ],
)
def test_train_refuses_bad_settings_in_one_line(args, message, capsys, tmp_path):
    from phasefold.cli import main

    with pytest.raises(SystemExit) as exit_info:  # argparse: usage and one error line, exit 2
        main(["train", *args, "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing written


@pytest.mark.parametrize("command", ["train", "train-stream"])
@pytest.mark.parametrize(
    "args, message",
    [
        (["--sample-rate", "100"], "--sr: sample rate 100 Hz is outside 4000"),  # the alias of --sr
        (["--sr", "800000"], "--sr: sample rate 800000 Hz is outside"),
        (["--n-fft", "8"], "--n-fft: n_fft 8 is outside 16"),
    ],
)
def test_training_rates_and_sizes_beyond_the_limits_are_refused(command, args, message, capsys, tmp_path):
    """engine.limits' bounds, as reconstruct refuses them: one line, exit 1, nothing written."""
    from phasefold.cli import main

    assert main([command, *args, "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "run").exists()


def test_log_magnitude_error_against_numpy_and_its_gradient():
    from phasefold.training.loss import LOGMAG_FLOOR_DB, log_magnitude_error

    rng = np.random.default_rng(3)
    mag = rng.random((2, 9, 7)) ** 4  # deep valleys: many bins sit under the floor
    est = np.abs(mag + 0.05 * rng.standard_normal(mag.shape))
    got = log_magnitude_error(torch.tensor(est), torch.tensor(mag)).numpy()
    for i in range(2):
        e = mag[i].max() * 10 ** (LOGMAG_FLOOR_DB / 20)
        assert got[i] == pytest.approx(np.mean(np.abs(np.log(est[i] + e) - np.log(mag[i] + e))), rel=1e-12)
    assert log_magnitude_error(torch.tensor(mag), torch.tensor(mag)).abs().max() == 0
    # unlike SC, the same absolute error costs more in a quiet bin than in the loudest one
    quiet, loud = mag.copy(), mag.copy()
    iq = np.unravel_index(np.argmin(mag[0]), mag[0].shape)
    il = np.unravel_index(np.argmax(mag[0]), mag[0].shape)
    quiet[0][iq] += 1e-4
    loud[0][il] += 1e-4
    m = torch.tensor(mag)
    assert log_magnitude_error(torch.tensor(quiet), m)[0] > log_magnitude_error(torch.tensor(loud), m)[0]
    x = torch.tensor(est, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: log_magnitude_error(v, torch.tensor(mag)).sum(), (x,))


def test_export_loads_best_and_last_checkpoints_and_refuses_other_files(tmp_path):
    from phasefold.engine.errors import InputError
    from phasefold.training.export import load_run

    data = DataConfig(folder=str(_audio_folder(tmp_path / "audio")), seconds=0.8, validation_fraction=0.2)
    train(_tiny_config("offline", data, rho_end=1.0, epochs=1), tmp_path / "run", progress=False)
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    net, ck = load_run(tmp_path / "run" / "last.pt")
    assert ck["epoch"] == 1 and {"epoch": 1, **ck["val"]} == last["history"]["val"][1]
    assert net.cfg.rho_end == 1.0 and set(net.card_parameters()) >= {"rho"}
    for k, v in net.state_dict().items():
        assert torch.equal(v, last["model"][k]), k
    best, _ = load_run(tmp_path / "run")  # the folder: its best.pt
    assert best.cfg.layers == 2
    epoch1, ck1 = load_run(tmp_path / "run" / "epoch-01.pt")  # every epoch is kept for other selections
    assert ck1["epoch"] == 1
    for k, v in epoch1.state_dict().items():
        assert torch.equal(v, last["model"][k]), k
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        load_run(tmp_path / "junk.pt")
    torch.save({"model": {}, "config": {}}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a checkpoint of phasefold train"):
        load_run(tmp_path / "other.pt")


def test_validation_draws_repeat_each_utterance_with_new_phase_and_noise():
    from phasefold.engine.stft import StftConfig
    from phasefold.training.data import validation_set

    rng = np.random.default_rng(5)
    signals = [0.1 * rng.standard_normal(6000), 0.1 * rng.standard_normal(7000)]
    cfg = StftConfig()
    for condition in ("exact", "modified"):
        one = validation_set(signals, cfg, DataConfig(condition=condition))
        three = validation_set(signals, cfg, DataConfig(condition=condition, validation_draws=3))
        assert len(three) == 6
        for a, b in zip(one, three[:2], strict=True):  # the first draw does not depend on the number
            assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
        assert three[2][0] is signals[0] and not np.array_equal(three[2][2], three[0][2])  # new phase
        assert np.array_equal(three[2][1], three[0][1]) == (condition == "exact")  # new noise if modified


def test_train_refuses_zero_validation_draws(capsys, tmp_path):
    from phasefold.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--validation-draws", "0", "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "--validation-draws: must be >= 1" in capsys.readouterr().err


def test_spectral_target_clean_scores_the_estimate_against_the_clean_magnitude():
    from phasefold.engine.stft import StftConfig, magnitude, stft
    from phasefold.training.loss import batch_loss
    from phasefold.training.unfolded import NetConfig, UnfoldedADMM

    rng = np.random.default_rng(5)
    cfg = StftConfig()
    t = np.arange(cfg.sample_rate) / cfg.sample_rate  # 1 s: STOI needs 30 frames
    clean = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    exact = magnitude(clean, cfg).astype(np.float32)
    noisy = np.abs(stft(clean + 0.1 * rng.standard_normal(t.size), cfg)).astype(np.float32)
    phase = rng.uniform(-np.pi, np.pi, exact.shape).astype(np.float32)
    net = UnfoldedADMM(NetConfig(variant="tied", layers=2))
    c, ph = torch.tensor(clean)[None], torch.tensor(phase)[None]

    with torch.no_grad():
        given = batch_loss(net, c, torch.tensor(exact)[None], ph, 1.0, logmag_weight=0.5)
        cleaned = batch_loss(
            net, c, torch.tensor(exact)[None], ph, 1.0, logmag_weight=0.5, spectral_target="clean"
        )
        # exact magnitudes are the clean excerpt's: both targets give the same loss
        assert float(cleaned[0]) == pytest.approx(float(given[0]), abs=1e-5)
        est = net.reconstruct(torch.tensor(noisy)[None], clean.size, ph)[0].numpy()
        _, parts = batch_loss(net, c, torch.tensor(noisy)[None], ph, 1.0, spectral_target="clean")
        _, parts_given = batch_loss(net, c, torch.tensor(noisy)[None], ph, 1.0)
    est_mag = magnitude(est.astype(np.float64), cfg)
    for target, got in ((exact, parts), (noisy, parts_given)):  # SC in dB against numpy's STFT
        want = 20 * np.log10(np.linalg.norm(est_mag - target) / np.linalg.norm(target))
        assert got["sc_db"] == pytest.approx(want, abs=0.02)
    assert abs(parts["sc_db"] - parts_given["sc_db"]) > 0.5
    with pytest.raises(ValueError, match="spectral_target"):
        batch_loss(net, c, torch.tensor(exact)[None], ph, 1.0, spectral_target="noisy")


def test_init_starts_from_a_shipped_models_card_and_refuses_other_architectures(tmp_path):
    import json
    from pathlib import Path

    from phasefold.engine.errors import InputError, ModelError
    from phasefold.engine.stft import StftConfig
    from phasefold.training.init_model import start_from_model
    from phasefold.training.unfolded import NetConfig, UnfoldedADMM

    models = Path(__file__).resolve().parents[1] / "exported_models"
    tied = json.loads((models / "unfolded-tied.json").read_text())["parameters"]
    net = UnfoldedADMM(NetConfig(variant="tied"))
    start_from_model(net, models / "unfolded-tied.onnx")
    got = net.card_parameters()
    for k, v in tied.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-6, err_msg=k)

    # a free (not anchored) untied model with a penalty schedule
    untied = json.loads((models / "unfolded-modified.json").read_text())["parameters"]
    anchored = UnfoldedADMM(NetConfig(variant="untied", anchored=True, rho_end=1.0))
    start_from_model(anchored, models / "unfolded-modified.onnx")
    got = anchored.card_parameters()  # the card's prox projected onto the anchored family
    for k in ("g1", "w", "bias", "rho"):
        np.testing.assert_allclose(got[k], untied[k], rtol=1e-6, err_msg=k)
    np.testing.assert_allclose(got["g2"], 1.0 - np.asarray(untied["g1"]), rtol=1e-6)
    assert got["b"] == [2.0] * 15 and not np.allclose(untied["g2"], got["g2"], atol=1e-3)

    for other, model, message in (
        (NetConfig(variant="tied", layers=4), "unfolded-tied", "'layers': 15"),
        (NetConfig(variant="untied"), "unfolded-tied", "'variant': 'tied'"),
        (NetConfig(variant="tied", stft=StftConfig(hop=512).to_dict()), "unfolded-tied", "'hop': 256"),
        (NetConfig(variant="untied", rho_end=1.0), "unfolded-untied", "penalty schedule"),
    ):
        with pytest.raises(InputError, match=message):
            start_from_model(UnfoldedADMM(other), models / f"{model}.onnx")
    with pytest.raises(InputError, match="streaming"):
        start_from_model(
            UnfoldedADMM(NetConfig(variant="tied", layers=3)), models / "unfolded-stream-l1.onnx"
        )
    with pytest.raises(ModelError, match="not found"):
        start_from_model(UnfoldedADMM(NetConfig()), tmp_path / "missing.onnx")


def test_pesq_weight_reaches_the_loss_and_the_saved_configuration(tmp_path):
    import json

    from phasefold.cli import main
    from phasefold.engine.stft import StftConfig, magnitude
    from phasefold.training.loss import batch_loss
    from phasefold.training.pesq_loss import pesq_loss
    from phasefold.training.unfolded import NetConfig, UnfoldedADMM

    rng = np.random.default_rng(6)
    cfg = StftConfig()
    t = np.arange(cfg.sample_rate) / cfg.sample_rate
    clean = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    mag = torch.tensor(magnitude(clean, cfg).astype(np.float32))[None]
    phase = torch.tensor(rng.uniform(-np.pi, np.pi, mag.shape[1:]).astype(np.float32))[None]
    net, c = UnfoldedADMM(NetConfig(variant="tied", layers=2)), torch.tensor(clean)[None]
    with torch.no_grad():
        plain, parts = batch_loss(net, c, mag, phase, 1.0)
        weighted, parts_w = batch_loss(net, c, mag, phase, 1.0, pesq_weight=0.5)
        est = net.reconstruct(mag, clean.size, phase)
    assert "pesq_dist" not in parts  # not computed at weight 0
    assert parts_w["pesq_dist"] == pytest.approx(float(pesq_loss(c, est, cfg.sample_rate)), rel=1e-5)
    assert float(weighted - plain) == pytest.approx(0.5 * parts_w["pesq_dist"], rel=1e-4)

    out = tmp_path / "run"
    data = str(_audio_folder(tmp_path / "audio"))
    tiny = ["--layers", "2", "--pieces", "1", "--epochs", "1", "--steps", "1", "--batch", "1", "--data", data]
    assert main(["train", *tiny, "--pesq-weight", "0.25", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["config"]["pesq_weight"] == 0.25
    resumed = TrainConfig.from_dict(torch.load(out / "last.pt", weights_only=False)["config"])
    assert resumed.pesq_weight == 0.25


def test_a_run_from_a_model_records_that_model_in_its_config_and_exported_card(tmp_path):
    import json
    from pathlib import Path

    from phasefold.cli import main

    start = Path(__file__).resolve().parents[1] / "exported_models" / "unfolded-tied.onnx"
    start_card = json.loads(start.with_suffix(".json").read_text())
    out = tmp_path / "run"
    data = str(_audio_folder(tmp_path / "audio"))
    tiny = ["--epochs", "1", "--steps", "1", "--batch", "1", "--data", data]
    assert main(["train", "--variant", "tied", "--init", str(start), *tiny, "--out", str(out)]) == 0
    recorded = json.loads((out / "config.json").read_text())["init_model"]
    assert recorded["sha256"] == start_card["sha256"] and recorded["file"] == start.name
    assert recorded["recipe"] == start_card["training"]["recipe"]

    exported = tmp_path / "from-tied.onnx"
    assert main(["export", str(out), "-o", str(exported), "--no-eval"]) == 0
    card = json.loads(exported.with_suffix(".json").read_text())
    assert card["training"]["init_model"] == recorded
    assert card["training"]["recipe"]["init"] == f"exported_models/{start.name}"  # a project path


@pytest.mark.parametrize("command", ["train", "train-stream"])
@pytest.mark.parametrize(
    "args, message",
    [
        (["--n-fft", "384"], "--n-fft 384: the exported graph's FFT needs a power of two"),
        (["--n-fft", "512", "--hop", "512"], "--n-fft 512 --hop 512: hop (512) must be at most n_fft / 2"),
    ],
)
def test_training_stft_settings_the_graph_cannot_serve_are_refused(command, args, message, capsys, tmp_path):
    from phasefold.cli import main

    assert main([command, *args, "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "run").exists()


def test_a_16k_run_reads_its_audio_at_16k_and_records_the_stft(tmp_path):
    """--sr 16000 --n-fft 512: the network, its configuration and its data at 16 kHz (16 kHz files
    read as they are; a 22050 Hz folder resampled to the network's rate)."""
    import json

    from phasefold.cli import main
    from phasefold.training.data import load_signals

    folder = tmp_path / "audio16"
    folder.mkdir()
    t = np.arange(16000) / 16000
    for i in range(3):
        x = sum(np.sin(2 * np.pi * h * (120.0 + 20 * i) * t) / h for h in range(1, 8)) * 0.05
        sf.write(folder / f"a{i}.wav", x, 16000, subtype="FLOAT")
    files = sorted(folder.glob("*.wav"))
    signals = load_signals(files, 16000)
    assert all(np.array_equal(x, sf.read(f)[0]) for x, f in zip(signals, files, strict=True))
    out = tmp_path / "run"
    tiny = ["--layers", "1", "--pieces", "1", "--epochs", "1", "--steps", "1", "--batch", "1"]
    stft = ["--sr", "16000", "--n-fft", "512"]
    assert main(["train", "--variant", "untied", *tiny, *stft, "--data", str(folder), "--out", str(out)]) == 0
    info = json.loads((out / "config.json").read_text())
    assert info["net"]["stft"] == {"n_fft": 512, "hop": 128, "sample_rate": 16000, "power": 1.0}
    assert info["config"]["sample_rate"] == 16000 and "excerpts at 16000 Hz" in info["data_description"]
    mixed = _audio_folder(tmp_path / "audio22")  # 22050 Hz files: read at the network's 16 kHz
    assert load_signals([mixed / "a0.wav"], 16000)[0].size == int(1.5 * 16000)


def test_train_stream_takes_the_pesq_weight_into_its_configuration(tmp_path):
    import json

    from phasefold.cli import main

    out = tmp_path / "stream"
    data = str(_audio_folder(tmp_path / "audio"))
    tiny = ["-L", "0", "--layers", "1", "--epochs", "1", "--steps", "1", "--batch", "1", "--data", data]
    assert main(["train-stream", *tiny, "--pesq-weight", "0.5", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["config"]["pesq_weight"] == 0.5


def test_train_stream_fine_tunes_a_stream_model_with_perturbed_inputs_and_the_consistency_term(tmp_path):
    """--init of a stream model at its look-ahead: epoch 0 is that model (its own parameters, per position);
    --perturb and --consistency are recorded, and the loss runs with them (a finite step is taken)."""
    import json
    from pathlib import Path

    from phasefold.cli import main
    from phasefold.engine.model_card import ModelCard
    from phasefold.training.run_folder import load_checkpoint
    from phasefold.training.stream_train import StreamTrainConfig

    start = Path(__file__).resolve().parents[1] / "exported_models" / "unfolded-stream-l1-t3.onnx"
    out = tmp_path / "fine"
    data = str(_audio_folder(tmp_path / "audio"))
    tiny = ["--epochs", "1", "--steps", "1", "--batch", "1", "--data", data, "--lr", "1e-9"]
    args = ["-L", "1", "--init", str(start), "--perturb", "1e-3", "--consistency", "0.5", *tiny]
    assert main(["train-stream", *args, "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["perturb"], config["consistency"], config["fixed_b"]) == (1e-3, 0.5, True)
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 1 and not history["skipped"]  # the step was taken, its loss finite
    net, _ = load_checkpoint(out, StreamTrainConfig)  # best.pt
    card = ModelCard.read(start)
    restored = net.card_parameters()
    for name, value in card.parameters.items():
        assert np.allclose(restored[name], value, rtol=1e-5, atol=1e-7), name


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--layers", "3"], "--layers 3: --init"),
        (["--n-fft", "512"], "--n-fft 512: --init"),
        (["--fixed-b"], "--fixed-b and --init"),
        (["--init-stream-l0"], "a stream model for L = 0"),
        (["--init-stream", "--no-position"], "taken from the model"),
        (["--init-stream", "--fixed-b"], "taken from the model"),
        (["--init-stream", "--sr", "16000"], "--sr 16000: --init"),  # a stream start's STFT is checked too
        (["--init-stream", "--hop", "512"], "--hop 512: --init"),
    ],
)
def test_train_stream_init_refuses_what_contradicts_its_start_in_one_line(extra, message, capsys, tmp_path):
    """An offline start: its layers and b are taken over. A stream start (a fine-tuning): only at its own
    look-ahead, and its form, b and positions are the model's."""
    from pathlib import Path

    from phasefold.cli import main

    models = Path(__file__).resolve().parents[1] / "exported_models"
    named = {"--init-stream": "unfolded-stream-l1.onnx", "--init-stream-l0": "unfolded-stream-l0.onnx"}
    start = models / next((named[a] for a in extra if a in named), "unfolded-modified.onnx")
    args = [a for a in extra if a not in named]
    rc = main(["train-stream", "-L", "1", "--init", str(start), *args, "--out", str(tmp_path / "run")])
    assert rc != 0
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing written


class _Payload:
    """What a hostile checkpoint holds: unpickling it calls open(marker, "w"), creating the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("command", ["export", "resume"])
def test_a_pickle_payload_in_a_checkpoint_is_refused_in_one_line_and_runs_nothing(command, capsys, tmp_path):
    from phasefold.cli import main

    run = tmp_path / "run"
    run.mkdir()
    marker = tmp_path / "marker"
    checkpoint = {"mode": "offline", "config": {}, "model": {}, "payload": _Payload(marker)}
    torch.save(checkpoint, tmp_path / "probe.pt")
    torch.load(tmp_path / "probe.pt", weights_only=False)  # the payload is live: an unsafe load runs it
    assert marker.exists()
    marker.unlink()
    torch.save(checkpoint, run / ("best.pt" if command == "export" else "last.pt"))
    before = sorted(p.name for p in run.iterdir())
    out = tmp_path / "out" / "m.onnx"
    argv = ["export", str(run), "-o", str(out)]
    if command == "resume":
        argv = ["train", "--resume", "--out", str(run)]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refused" in err[0] and "pickle payload" in err[0], err
    assert not marker.exists()  # nothing in the file ran
    assert not out.exists() and not out.parent.exists() and sorted(p.name for p in run.iterdir()) == before

"""`phasefold evaluate`: table, JSON report, split names, and errors."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from phasefold.cli import main
from phasefold.engine.dataset import TEST
from phasefold.engine.demo import demo_signal
from phasefold.engine.evaluation import EvaluationProtocol, evaluate_signal
from phasefold.engine.inputs import resolve_inputs
from phasefold.engine.methods import reconstruct
from phasefold.engine.stft import StftConfig, magnitude

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path):
    sub = tmp_path / "clips"
    sub.mkdir()
    x = demo_signal(2.0)
    sf.write(sub / "a.wav", x[:22050], 22050, subtype="FLOAT")
    sf.write(sub / "b.flac", x[22050:], 22050)
    return sub


def test_table_and_json(capsys, tmp_path, folder):
    out = tmp_path / "r.json"
    rc = main(["evaluate", str(folder), "--methods", "gla,fgla", "--iterations", "8", "--json", str(out)])
    stdout, stderr = capsys.readouterr()
    assert rc == 0
    assert "SC (dB)" in stdout and "PESQ" in stdout and "RTF" in stdout
    assert any(line.startswith("fgla") for line in stdout.splitlines())
    report = json.loads(out.read_text())
    assert set(report) == {"config", "results", "per_file"}
    assert report["config"]["iterations"] == 8 and report["config"]["threads"] == 1
    assert len(report["per_file"]) == 4
    for name in ("gla", "fgla"):
        res = report["results"][name]
        assert {"sc_db", "stoi", "estoi", "pesq", "rtf", "n_files"} <= set(res) and res["n_files"] == 2
        rows = [r for r in report["per_file"] if r["method"] == name]
        assert res["pesq"] == pytest.approx(np.mean([r["pesq"] for r in rows]))
        assert res["rtf"] > 0
    # the per-file scores are the metrics module's scores of the same reconstruction
    cfg = StftConfig()
    x = sf.read(folder / "a.wav")[0]
    y = reconstruct("fgla", magnitude(x, cfg), cfg, 8, 0, x.size)
    row = next(r for r in report["per_file"] if r["method"] == "fgla" and r["file"].endswith("a.wav"))
    assert row["sc_db"] == pytest.approx(evaluate_signal(x, y, cfg)["sc_db"], abs=1e-9)
    assert report["config"]["protocol"] == EvaluationProtocol().describe()


def test_file_i_is_measured_started_and_scored_by_the_protocol(capsys, tmp_path, folder):
    out = tmp_path / "r.json"
    argv = ["evaluate", str(folder), "--methods", "fgla", "--iterations", "4", "--snr", "5", "--seed", "2"]
    assert main([*argv, "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["per_file"]
    protocol = EvaluationProtocol(256, 5.0, seed=2)
    files = [folder / "a.wav", folder / "b.flac"]
    for (i, x, r), row in zip(protocol.items(files), rows, strict=True):
        y = reconstruct("fgla", r, protocol.cfg, 4, protocol.phase_seed(i), x.size)
        assert row["file"] == str(files[i])
        assert row["sc_db"] == pytest.approx(protocol.scores(x, y, r)["sc_db"], abs=1e-12)


@pytest.mark.parametrize(("condition", "extra"), [("exact_hop256", []), ("modified_snr5", ["--snr", "5"])])
def test_the_command_reproduces_the_cards_test_metrics(timit_dir, tmp_path, capsys, condition, extra):
    """The cards' metrics ran the models' ONNX graphs (onnxruntime), one pass of their 15 layers: the
    command's default for a model."""
    names = ("unfolded-untied", "unfolded-modified")
    out = tmp_path / "r.json"
    argv = ["evaluate", "test", "--methods", ",".join(names), "--backend", "onnxruntime"]
    assert main([*argv, *extra, "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    for name in names:
        card = json.loads((ROOT / "exported_models" / f"{name}.json").read_text())
        expected = card["metrics"]["test"][condition]
        assert {k: round(results[name][k], 4) for k in expected} == expected, name


def test_modified_condition_is_recorded(capsys, folder):
    rc = main(
        [
            "evaluate",
            str(folder / "a.wav"),
            "--methods",
            "admm-kl",
            "--iterations",
            "3",
            "--snr",
            "5",
            "--hop",
            "512",
        ]
    )
    stdout, _ = capsys.readouterr()
    assert rc == 0 and "modified magnitudes, 5 dB" in stdout and "hop 512" in stdout


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--methods", "fgla,nope"], ["unknown method 'nope'"]),
        (["--methods", ","], ["--methods is empty"]),
    ],
)
def test_errors(capsys, folder, argv, words):
    rc = main(["evaluate", str(folder), *argv])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1
    for word in words:
        assert word in err


def test_missing_path_and_empty_folder(capsys, tmp_path):
    assert main(["evaluate", str(tmp_path / "none"), "--methods", "gla"]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "--methods", "gla"]) == 1
    assert "no audio" in capsys.readouterr().err


def test_split_words_resolve_to_the_shared_data(timit_dir):
    files = resolve_inputs(["test"])
    assert sorted(f.stem for f in files) == sorted(TEST)
    assert len(resolve_inputs(["validation", "train"])) == 45


def test_npz_without_reference_cannot_be_scored(capsys, tmp_path):
    from phasefold.engine.inputs import save_magnitudes

    cfg = StftConfig()
    save_magnitudes(tmp_path / "m.npz", magnitude(demo_signal(0.5), cfg), cfg)
    assert main(["evaluate", str(tmp_path / "m.npz"), "--methods", "gla", "--iterations", "1"]) == 1
    assert "needs a 'reference'" in capsys.readouterr().err


def test_the_library_scores_labelled_methods_and_runners(folder, capsys):
    """engine.evaluation.evaluate, what the command, the benchmarks and the cards run: registry names,
    label -> Method, a runner of one's own; quiet without the progress bar."""
    from phasefold.engine.evaluation import evaluate, format_table
    from phasefold.engine.methods import get_method
    from phasefold.engine.runners import Method

    files = sorted(folder.iterdir())
    fgla = get_method("fgla")
    methods = {"fgla": "fgla", "own": Method("fgla by another name", fgla.run, fgla.iterations)}
    report = evaluate(methods, files, iterations=3)
    assert capsys.readouterr().err == ""
    assert report["config"]["methods"] == ["fgla", "own"] and report["config"]["iterations"] == 3
    same = ("sc_db", "stoi", "estoi", "pesq")
    # the same runs; pystoi's ESTOI may differ in the last bit between two calls on the same signals
    assert {k: report["results"]["own"][k] for k in same} == pytest.approx(
        {k: report["results"]["fgla"][k] for k in same}, rel=1e-12
    )
    assert format_table(report).splitlines()[2].startswith("own ")

    seen = []

    def runner(entry, mag, cfg, iterations, seed, length, backend):
        seen.append((entry, mag.dtype, iterations, seed, backend))
        return np.zeros(length) + 1e-3 * np.sin(np.arange(length))

    report = evaluate(["gla"], files, iterations=2, backend="numpy", runner=runner)
    # the untimed warm-up on an excerpt of the first file, then one timed run per file
    assert seen == [
        ("gla", np.float64, 2, 0, "numpy"),
        ("gla", np.float64, 2, 0, "numpy"),
        ("gla", np.float64, 2, 1, "numpy"),
    ]
    assert report["results"]["gla"]["n_files"] == 2


def test_another_sample_rate_and_fft_size(capsys, tmp_path):
    """--sample-rate (the alias of --sr) and --n-fft: a 16 kHz file read as it is (no resampling) and
    measured at n_fft 512 with the hop's default n_fft / 4, scored as the protocol does at those settings."""
    x = demo_signal(1.0, 16000)
    sf.write(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    out = tmp_path / "r.json"
    argv = ["evaluate", str(tmp_path / "a.wav"), "--methods", "fgla", "--iterations", "4"]
    assert main([*argv, "--sample-rate", "16000", "--n-fft", "512", "--json", str(out)]) == 0
    assert "16000 Hz, n_fft 512, hop 128" in capsys.readouterr().out
    report = json.loads(out.read_text())
    cfg = StftConfig(n_fft=512, hop=128, sample_rate=16000)
    assert report["config"]["stft"] == cfg.to_dict()
    clean = sf.read(tmp_path / "a.wav")[0]
    y = reconstruct("fgla", magnitude(clean, cfg), cfg, 4, 0, clean.size)
    assert report["per_file"][0]["sc_db"] == pytest.approx(evaluate_signal(clean, y, cfg)["sc_db"], abs=1e-12)
    assert report["per_file"][0]["duration"] == pytest.approx(1.0)
    assert main([*argv, "--sr", "16000", "--n-fft", "512", "--hop", "512"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--n-fft 512 --hop 512" in err

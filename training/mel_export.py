"""Export and measure the mel networks (training.mel_unfolded): parity cases, run export, test-split scores.

``export_mel_run`` writes an offline or stream mel run's best checkpoint as NAME.onnx with its card (a ``mel``
section, input ``mel`` [W, n_mels]) and golden pair through the linear models' exporters, verified against
float64 PyTorch on the cases below, then records the test split's scores of the model *and* of the untrained
network (the same layers and iterations, parameters at their start: mel-ADMM-l2) in the card.

Scores (``mel_scores``): the test split read at the preset's rate, the preset's mel of each file (log and
floor included, read back to linear values), file i from phase seed i; STOI, ESTOI and PESQ-WB against the
clean file, SC against its linear magnitude at the preset's STFT. Offline networks run in PyTorch or, for
the exported model, through the engine (engine.mel_model); stream networks in the training stream loop
(training.stream_unfolded.stream_reconstruct, the engine's window loop operation by operation).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from phasefold.engine.dataset import split_files
from phasefold.engine.evaluation import evaluate_signal
from phasefold.engine.inputs import load_audio
from phasefold.engine.mel import MelConfig
from phasefold.engine.model_card import ModelCard
from phasefold.engine.stft import magnitude
from phasefold.training.export import export_network, training_record, with_metrics
from phasefold.training.mel_train import MelStreamTrainConfig, MelTrainConfig, mel_of
from phasefold.training.run_folder import load_checkpoint, read_checkpoint
from phasefold.training.stream_export import export_stream


def mel_scores(
    run: Callable[[np.ndarray, int, int], np.ndarray], mel: MelConfig, split: str = "test"
) -> dict:
    """Mean scores (module docstring) of ``run(linear mel [F, n_mels], phase seed, length) -> signal`` over a
    split, with the per-file rows."""
    rows = []
    for i, path in enumerate(split_files(split)):
        clean = load_audio(path, mel.stft.sample_rate)[0]
        est = run(mel_of(clean, mel), i, clean.size)
        rows.append({"file": path.stem, **evaluate_signal(clean, est, mel.stft, magnitude(clean, mel.stft))})
    keys = ("sc_db", "stoi", "estoi", "pesq")
    return {**{k: round(float(np.mean([r[k] for r in rows])), 4) for k in keys}, "per_file": rows}


def torch_runner(net) -> Callable[[np.ndarray, int, int], np.ndarray]:
    """``mel_scores``' runner for a PyTorch mel network (offline: the seeded start phases of
    engine.algorithms.random_phases; a stream network starts its frames itself)."""
    from phasefold.engine.algorithms import random_phases

    def run(m: np.ndarray, seed: int, length: int) -> np.ndarray:
        phase = torch.as_tensor(
            random_phases(seed, 0, (m.shape[0], net.stft_cfg.n_bins)), dtype=torch.float32
        )
        with torch.no_grad():
            return net.reconstruct(torch.as_tensor(m, dtype=torch.float32), length, phase).double().numpy()

    return run


def model_runner(path: str | Path) -> Callable[[np.ndarray, int, int], np.ndarray]:
    """``mel_scores``' runner for an exported offline mel model, through the engine (engine.mel_model)."""
    from phasefold.engine.mel_model import mel_model_audio

    return lambda m, seed, length: mel_model_audio(m, path, seed, length)


def _mode(run: str | Path) -> str | None:
    path = Path(run)
    file = path / "best.pt" if path.is_dir() else path
    ck = read_checkpoint(file) if file.is_file() else None
    return ck.get("mode") if isinstance(ck, dict) else None


def mel_run(run: str | Path) -> bool:
    """Whether ``run`` (a run folder or checkpoint) is a mel run (``phasefold train --mel``, ``train-stream
    --mel``); False for anything else, which the linear exporters then judge."""
    return _mode(run) in (MelTrainConfig.mode, MelStreamTrainConfig.mode)


def kind_of(run: str | Path) -> type:
    """The run's kind (MelTrainConfig or MelStreamTrainConfig) from its checkpoint's mode."""
    return MelStreamTrainConfig if _mode(run) == MelStreamTrainConfig.mode else MelTrainConfig


def export_mel_run(
    run: str | Path, out: str | Path, *, evaluate: bool = True, name: str | None = None
) -> ModelCard:
    """Export a mel run's best checkpoint (offline or stream), verified; with ``evaluate`` the card's test
    metrics: the model's (offline through the engine, stream in the training stream loop) and the untrained
    network's (``untrained``), both on the test split."""
    kind = kind_of(run)
    net, ck = load_checkpoint(run, kind)
    net = net.float().eval()
    training = training_record(ck)
    if kind is MelStreamTrainConfig:
        training["loop"] = (
            "engine window loop in PyTorch (training.stream_unfolded.stream_reconstruct), loss on the "
            "emitted signal, truncated back-propagation every `truncate` frames"
        )
        card = export_stream(net, out, name=name, training=training)
    else:
        card = export_network(net, out, name=name, training=training)
    if not evaluate:
        return card
    t0 = time.time()
    mel = net.mel_cfg
    start = kind.from_dict(ck["config"]).network(start=False).float().eval()  # mel-ADMM-l2, not an --init
    model = torch_runner(net) if kind is MelStreamTrainConfig else model_runner(out)
    where = (
        "the training stream loop (PyTorch)" if kind is MelStreamTrainConfig else "the engine (onnxruntime)"
    )
    condition = f"mel_{ck['config']['mel']}"
    metrics = {
        "test": {condition: _mean(mel_scores(model, mel))},
        "untrained": {condition: _mean(mel_scores(torch_runner(start), mel))},
        "protocol": f"TIMIT test split (10 files) at {mel.stft.sample_rate} Hz; the {ck['config']['mel']} "
        "mel of each file (log and floor included) read back to linear values; file i from phase seed i; SC "
        "against the file's linear magnitude at the preset's STFT, STOI, ESTOI and PESQ-WB against the "
        f"file; the model through {where}; untrained: the same network at its start parameters (PyTorch)",
    }
    return with_metrics(card, Path(out), metrics, time.time() - t0)


def _mean(scores: dict) -> dict:
    return {k: v for k, v in scores.items() if k != "per_file"}

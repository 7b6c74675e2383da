"""Export a streaming model: ONNX graph pinned to its window, parity with PyTorch, golden pair, model card.

The graph is ``training.onnx_graph.build_model`` with per-position constants (parameters [T, W] broadcast
over the window's frames), ``window_frames`` = W = L + N/H and the engine's coverage floor. Verification
(asserted): ``onnx.checker``, then onnxruntime through ``engine.onnx_model.load_model`` against the PyTorch
step on a random window and on a real window state taken from the stream of a validation utterance
(max abs diff <= 1e-4). The card is the shared schema plus a ``streaming`` object (look-ahead, block,
start) and the parameter layout (set index = layer * positions + position).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import torch
from phasefold.engine.level import card_record
from phasefold.engine.model_card import SPAN_FORMULA, Interface, ModelCard, ParameterLayout, StreamTraining
from phasefold.engine.onnx_model import sha256_of
from phasefold.engine.stft import StftConfig, analyze
from phasefold.engine.streaming.window import layer_schedule
from phasefold.training.export import (
    MONOTONICITY,
    measurement_input,
    output_path,
    training_record,
    with_metrics,
    write_verified,
)
from phasefold.training.onnx_graph import OPSET, STFT_FORM, build_model
from phasefold.training.run_folder import load_checkpoint
from phasefold.training.stream_train import StreamTrainConfig
from phasefold.training.stream_unfolded import StreamUnfolded, stream_reconstruct


def stream_cases(net: StreamUnfolded, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Parity inputs: a random window, and where the TIMIT sample exists a real mid-utterance stream state."""
    cfg, w = net.stft_cfg, net.scfg.window_frames
    s, k = cfg.span(w), cfg.n_bins
    rng = np.random.default_rng(seed)
    fixed = np.zeros(s, dtype=np.float32)
    fixed[: cfg.pad] = 1.0
    cases = {
        "random": {
            "mag": np.abs(analyze(0.03 * rng.standard_normal(s), cfg)).astype(np.float32),
            "x": (0.03 * rng.standard_normal(s)).astype(np.float32),
            "fixed": fixed,
            "lam": (1e-4 * rng.standard_normal((2, w, k))).astype(np.float32),
        }
    }
    from phasefold.engine.dataset import split_files
    from phasefold.engine.inputs import load_audio
    from phasefold.engine.stft import magnitude

    files = split_files("validation")
    if files:
        x = load_audio(files[0], cfg.sample_rate)[0]
        wanted = cfg.n_frames(x.size) // 2  # a mid-utterance state: stream up to that frame only
        mag = magnitude(x, cfg)[: wanted + 1]
        seen: list = []

        def step(m, xs, fx, lam):
            if len(seen) == wanted:
                lam_ri = np.stack([lam[0].real.numpy(), lam[0].imag.numpy()])
                seen.append({"mag": m[0].numpy(), "x": xs[0].numpy(), "fixed": fx.numpy(), "lam": lam_ri})
            else:
                seen.append(None)
            return net(m, xs, fx, lam)

        length = (wanted + 1) * cfg.hop - cfg.pad
        with torch.no_grad():
            mag_t = torch.as_tensor(mag, dtype=torch.float32)
            stream_reconstruct(step, mag_t, length, net.scfg.lookahead, cfg)
        cases["speech_stream"] = {
            k2: np.ascontiguousarray(v, dtype=np.float32) for k2, v in seen[wanted].items()
        }
    return cases


def export_stream(
    net: StreamUnfolded,
    out: str | Path,
    *,
    name: str | None = None,
    training: dict | None = None,
    metrics: dict | None = None,
) -> ModelCard:
    """Write NAME.onnx, NAME.golden.npz and NAME.json for a streaming network; returns the card."""
    out, name = output_path(out, name)
    net = net.float().eval()
    cfg: StftConfig = net.stft_cfg
    scfg = net.scfg
    w, k = scfg.window_frames, cfg.n_bins
    mel = getattr(net, "mel_cfg", None)  # a mel network (training.mel_unfolded)
    model = build_model(
        net.graph_parameters(),
        "untied",
        scfg.layers,
        scfg.rho,
        cfg,
        window_frames=w,
        cov_eps=scfg.cov_eps,
        form=scfg.form,
        mel=mel,
    )
    onnx.save(model, str(out))
    card = ModelCard(
        name=name,
        variant="untied",
        layers=scfg.layers,
        pieces=scfg.pieces,
        rho=scfg.rho,
        stft=cfg,
        trained_stft=cfg,  # a stream model runs at the STFT it was trained in
        mel=None if mel is None else mel.to_dict(),
        coverage_eps=scfg.cov_eps,
        interface=Interface(
            inputs={
                **measurement_input(w, k, mel),
                "x": [cfg.span(w)],
                "fixed": [cfg.span(w)],
                "lam": [2, w, k],
            },
            outputs={"x_out": [cfg.span(w)], "lam_out": [2, w, k]},
            window_frames=w,
            dtype="float32",
            span=SPAN_FORMULA,
        ),
        streaming=StreamTraining(
            lookahead=scfg.lookahead,
            block=1,
            init="advance",
            latency_samples=cfg.n_fft + scfg.lookahead * cfg.hop,
            position_dependent=scfg.position,
            schedule=layer_schedule(scfg.layers, scfg.lookahead, cfg.overlap, scfg.position),
            note="trained inside the engine's window loop; run it at this look-ahead, block 1",
        ),
        layer_form="gla" if scfg.form == "gla" else None,
        parameter_layout=ParameterLayout(
            layers=scfg.layers,
            positions=net.positions,
            index="set = layer * positions + position (0 = oldest frame of the window)",
        ),
        onnx={"opset": OPSET, "stft": STFT_FORM},
        parameters=net.card_parameters(),
        monotonicity=MONOTONICITY,
        level=card_record() if mel is None else None,  # a mel model runs at the mel as given
        training=training or {},
        metrics=metrics or {},
        golden=f"{name}.golden.npz",
        sha256=sha256_of(out),
    )
    if mel is not None:
        from phasefold.training.mel_cases import mel_stream_cases

        cases = mel_stream_cases(net)
    else:
        cases = stream_cases(net)
    return write_verified(out, card, net, cases, cases.get("speech_stream", cases["random"]))


def export_stream_run(
    run: str | Path, out: str | Path, *, evaluate: bool = True, name: str | None = None
) -> ModelCard:
    """Export the best checkpoint of a streaming run, verified, with test metrics through the engine."""
    net, ck = load_checkpoint(run, StreamTrainConfig)
    training = {
        **training_record(ck),
        "loop": "engine window loop in PyTorch (training.stream_unfolded.stream_reconstruct), loss on the "
        "emitted signal, truncated back-propagation every `truncate` frames",
    }
    card = export_stream(net, out, name=name, training=training)
    if evaluate:
        from phasefold.training.evaluate import condition_names
        from phasefold.training.stream_eval import stream_card_metrics

        modified = ck["config"]["data"]["condition"] == "modified"
        kinds = ("modified", "exact") if modified else ("exact",)
        served = condition_names(net.stft_cfg)
        conditions = tuple(c for kind in kinds for c in served if c.startswith(kind))
        t0 = time.time()
        metrics = stream_card_metrics(Path(out), net.scfg.lookahead, conditions)
        card = with_metrics(card, Path(out), metrics, time.time() - t0)
    return card

"""What single onnxruntime nodes cost on the small tensors of a streaming window (one thread).

    python -m benchmarks.onnx_op_costs

Each row builds a chain of 50 copies of one node (or a node and its inverse, so shapes repeat), times the
session against an identity graph and prints the cost per copy. Inputs stay near 1 so that no chain runs
into denormals. These figures shaped training/onnx_graph.py (docs/training.md): broadcasts along an
inner axis and transposes that move the last axis are to be avoided; small matrix products cost
10-20 us.
"""

from __future__ import annotations

import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

W = 7  # frames in a window at look-ahead 3


def _session(nodes, x: np.ndarray, consts: dict, optimize: bool = True) -> ort.InferenceSession:
    inits = [numpy_helper.from_array(v, k) for k, v in consts.items()]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    if not optimize:  # onnxruntime would merge or cancel a chain of transposes
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _time(sess: ort.InferenceSession, x: np.ndarray, runs: int = 300) -> float:
    for _ in range(20):
        sess.run(None, {"x": x})
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(runs // 5):
            sess.run(None, {"x": x})
        best = min(best, (time.perf_counter() - t0) / (runs // 5))
    return best * 1e6


def cost(make, x: np.ndarray, consts: dict, reps: int = 50, optimize: bool = True) -> float:
    """us per copy of ``make(input_name, index) -> (nodes, output_name)``."""
    base = _time(_session([helper.make_node("Identity", ["x"], ["y"])], x, {}, optimize), x)
    nodes, cur = [], "x"
    for r in range(reps):
        more, cur = make(cur, r)
        nodes += more
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    return (_time(_session(nodes, x, consts, optimize), x) - base) / reps


def near_one(*shape: int) -> np.ndarray:
    return (1.0 + 1e-4 * np.random.default_rng(0).random(shape)).astype(np.float32)


def orthogonal(n: int, m: int) -> np.ndarray:
    q = np.linalg.qr(np.random.default_rng(1).standard_normal((max(n, m), max(n, m))))[0]
    return q[:n, :m].astype(np.float32)


def unary(op: str, **attrs):
    return lambda cur, r: ([helper.make_node(op, [cur], [f"o{r}"], **attrs)], f"o{r}")


def binary(op: str, const: str = "k", left: bool = False):
    def make(cur, r):
        ins = [const, cur] if left else [cur, const]
        return [helper.make_node(op, ins, [f"o{r}"])], f"o{r}"

    return make


def there_and_back(op: str, a: str, b: str, left: bool = False):
    def make(cur, r):
        first = [a, cur] if left else [cur, a]
        second = [b, f"t{r}"] if left else [f"t{r}", b]
        return [helper.make_node(op, first, [f"t{r}"]), helper.make_node(op, second, [f"o{r}"])], f"o{r}"

    return make


def rows() -> list[tuple]:
    """(label, maker, input, constants, copies per unit, graph optimisations on)."""
    spec = near_one(W, 32, 17, 2)
    tr = near_one(W, 32, 2, 32)
    mat = near_one(W, 32, 32)
    return [
        ("Mul by a scalar [7, 32, 17, 2]", binary("Mul"), spec, {"k": near_one(1)}, 1, True),
        ("Mul, same shapes [7, 32, 17, 2]", binary("Mul"), spec, {"k": near_one(W, 32, 17, 2)}, 1, True),
        (
            "Mul, leading-axis broadcast x [32, 17, 2]",
            binary("Mul"),
            spec,
            {"k": near_one(32, 17, 2)},
            1,
            True,
        ),
        (
            "Mul, inner-axis broadcast x [7, 32, 17, 1]",
            binary("Mul"),
            spec,
            {"k": near_one(W, 32, 17, 1)},
            1,
            True,
        ),
        (
            "Transpose [7, 32, 2, 32] perm 0,2,3,1 (one axis to the end)",
            unary("Transpose", perm=[0, 2, 3, 1]),
            tr,
            {},
            1,
            False,
        ),
        (
            "Transpose [7, 32, 2, 32] perm 2,3,1,0 (general)",
            unary("Transpose", perm=[2, 3, 1, 0]),
            tr,
            {},
            1,
            False,
        ),
        (
            "MatMul [224, 32] x [32, 32] (and back)",
            there_and_back("MatMul", "a", "b"),
            mat,
            {"a": orthogonal(32, 32), "b": orthogonal(32, 32).T.copy()},
            2,
            True,
        ),
        (
            "MatMul left [34, 64] x [7, 64, 32] (and back)",
            there_and_back("MatMul", "a", "b", left=True),
            near_one(W, 64, 32),
            {"a": orthogonal(34, 64), "b": orthogonal(34, 64).T.copy()},
            2,
            True,
        ),
        (
            "MatMul batched [32, 7, 64] x [32, 64, 34] (and back)",
            there_and_back("MatMul", "a", "b"),
            near_one(32, W, 64),
            {"a": np.stack([orthogonal(64, 34)] * 32), "b": np.stack([orthogonal(34, 64)] * 32)},
            2,
            True,
        ),
    ]


def main() -> int:
    print(f"onnxruntime {ort.__version__}, one thread; us per node (chains of 50)")
    for label, make, x, consts, per_unit, optimize in rows():
        print(f"  {label:62s} {cost(make, x, consts, optimize=optimize) / per_unit:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

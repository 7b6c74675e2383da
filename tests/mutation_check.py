"""The mutation check of docs/architecture.md: each mutation must make at least one test fail, without the
shared data (PHASEFOLD_DATA=none). Run from the repository root: ``python tests/mutation_check.py``.

Each mutation is applied to the source, the tests that should catch it run (``-x``; the whole suite if
they all pass), and the file is restored whatever happens. It prints one line per mutation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEEL_TEST = "tests/test_package.py::test_wheel_from_sdist_installs_alone_and_runs_outside_the_repository"
#: (what, file, original text, mutated text, the tests expected to catch it)
MUTATIONS = [
    ("BETA in the STOI", "training/stoi.py", "BETA = -15.0", "BETA = -10.0", ["tests/test_stoi_torch.py"]),
    ("the under-run increment", "engine/streaming/ring.py", "self._underruns += 1", "self._underruns += 0",
     ["tests/test_audio_ring.py"]),
    ("the new-frame coverage (numpy window)", "engine/streaming/window.py",
     "num / np.maximum(self._cov[region], 1e-12)", "num / np.maximum(self._cov_old[b][region], 1e-12)",
     ["tests/test_stream_identity.py", "tests/test_stream_core.py"]),
    ("the new-frame coverage (compiled window)", "engine/compiled/window.py", "xs[i] *= ic[i]",
     "xs[i] *= cs[i]", ["tests/test_stream_identity.py", "tests/test_stream_core.py"]),
    ("the sign of the dual update (numpy ADMM)", "engine/admm.py", "lam_c = lam_c + rho *",
     "lam_c = lam_c - rho *", ["tests/test_algorithms.py"]),
    ("the sign of the dual update (compiled unfolded)", "engine/compiled/unfolded.py",
     "lj[q] = (lj[q] + sj[q] - zj[q]) * scale", "lj[q] = (lj[q] - sj[q] + zj[q]) * scale",
     ["tests/test_onnx_model.py"]),
    ("the sign of the dual update (torch network)", "training/unfolded.py", "lam_new = lam + rho * (",
     "lam_new = lam - rho * (", ["tests/test_unfolded.py"]),
    ("the card's hop", "exported_models/unfolded-untied.json", '"hop": 256,', '"hop": 512,',
     ["tests/test_onnx_model.py"]),
    ("the front padding of block-wise measurements", "engine/blocks.py", "self._buf = np.zeros(cfg.pad)",
     "self._buf = np.zeros(cfg.pad - 1)", ["tests/test_memory.py"]),
    ("the stream's output cut in a file run", "engine/file_runs.py",
     "skip, emitted = stream.output_offset, 0", "skip, emitted = stream.output_offset - 1, 0",
     ["tests/test_memory.py"]),
    ("argparse's usage block back in front of a refusal", "app/cli.py",
     'self.exit(2, f"{self.prog}: error: {message}\\n")', "super().error(message)",
     ["tests/test_cli_fuzz.py"]),
    ("a huge --snr overflowing again", "engine/inputs.py", "ratio = math.inf", "raise",
     ["tests/test_cli_fuzz.py"]),
]  # fmt: skip


def pytest(args: list[str], env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


def main() -> int:
    env = {**os.environ, "PHASEFOLD_DATA": "none", "QT_QPA_PLATFORM": "offscreen"}
    missed = 0
    for what, rel, original, mutated, tests in MUTATIONS:
        path = ROOT / rel
        text = path.read_text()
        if original not in text:
            print(f"{what}: the text to mutate is gone from {rel}; update this check")
            missed += 1
            continue
        path.write_text(text.replace(original, mutated, 1))
        try:
            t0 = time.time()
            res, scope = pytest(tests, env), "its tests"
            if res.returncode == 0:
                res, scope = pytest(["--deselect", WHEEL_TEST], env), "the whole suite"
            failed = next((line for line in res.stdout.splitlines() if line.startswith("FAILED")), "")
            caught = res.returncode != 0
            missed += not caught
            verdict = "caught" if caught else "NOT caught"
            print(f"{what}: {verdict} by {scope} ({time.time() - t0:.0f} s) {failed}", flush=True)
        finally:
            path.write_text(text)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

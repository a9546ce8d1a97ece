"""SIGTERM, as a cluster scheduler sends it, stops `seco train` with a checkpoint of the iteration reached."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from seco.engine.checkpoint import Checkpoint
from support import SECO, seco_env, tiny_overrides


def test_sigterm_writes_the_current_iteration_and_exits_143(synthetic_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [*SECO, "train", "--no-eval", *tiny_overrides(synthetic_root, out, iterations=500), "train.ckpt_every=1000"]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=seco_env()) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:  # printed when iteration 1 starts: one step is done
            if line.startswith("iteration 1:"):
                break
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr[-3000:]
    assert "Traceback" not in stderr
    stopped = [line for line in stderr.splitlines() if "stopped by SIGTERM" in line]
    assert len(stopped) == 1 and str(out / "last.pt") in stopped[0], stderr[-3000:]
    iteration = Checkpoint.load(out / "last.pt").iteration
    assert 1 <= iteration < 500 and f"at iteration {iteration} of 500" in stopped[0]

"""Ctrl-C during a headless run: exit code 130 and a partial report on standard output."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path


def test_interrupt_gives_partial_report(pipelines_dir: Path) -> None:
    # The spec paces input at 1 record per second, so the run is still going when interrupted.
    command = [
        sys.executable, "-m", "velo_tui", str(pipelines_dir / "chain.sql"), "--run",
        "--spec", str(pipelines_dir / "slow_input.test.yaml"), "--output", "json", "-v",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # Wait until input production has started, so the run is under way when interrupted.
        seen = []
        for line in process.stderr:
            seen.append(line)
            if "producing to" in line:
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    report = json.loads(out)
    assert any("producing to" in line for line in seen)
    assert process.returncode == 130
    assert report["complete"] is False
    assert report["passed"] is False
    assert "interrupted" in "".join(seen) + err
    assert report["statements"][0]["status"] == "not_run"

"""The debugger in a real pseudo-terminal: `q` quits with code 0 and restores the terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

#: Longest wait for the debugger to draw or to exit, in seconds.
DEADLINE_S = 60.0

#: Escape sequences a full-screen app sends to enter and to leave the alternate screen.
ENTER_ALTERNATE_SCREEN = b"\x1b[?1049h"
LEAVE_ALTERNATE_SCREEN = b"\x1b[?1049l"


def read_until(fd: int, marker: bytes, received: bytearray, deadline: float) -> bool:
    """Read from `fd` into `received` until it contains `marker`, end of file or `deadline`."""
    while marker not in received:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            return False
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            return False
        if not chunk:
            return False
        received.extend(chunk)
    return True


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_q_restores_terminal(debug_sql: Path, tmp_path: Path):
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    before = termios.tcgetattr(terminal)
    env = {**os.environ, "TERM": "xterm-256color", "XDG_STATE_HOME": str(tmp_path), "COLUMNS": "120",
           "LINES": "36"}
    process = subprocess.Popen(
        [sys.executable, "-m", "velo_tui", str(debug_sql)],
        stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=tmp_path,
        start_new_session=True,
    )
    received = bytearray()
    try:
        drawn = read_until(controller, b"statements", received, time.monotonic() + DEADLINE_S)
        during = termios.tcgetattr(terminal)
        os.write(controller, b"q")
        read_until(controller, LEAVE_ALTERNATE_SCREEN, received, time.monotonic() + DEADLINE_S)
        code = process.wait(timeout=DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        after = termios.tcgetattr(terminal)
        os.close(controller)
        os.close(terminal)
    assert drawn
    assert during != before
    assert code == 0
    assert after == before
    assert ENTER_ALTERNATE_SCREEN in received
    assert received.rfind(LEAVE_ALTERNATE_SCREEN) > received.rfind(ENTER_ALTERNATE_SCREEN)

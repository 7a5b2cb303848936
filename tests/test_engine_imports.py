"""Tests that the engine stays free of the terminal UI libraries, so every face can use it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

#: Run in a fresh interpreter: import every engine module, then list the UI libraries loaded.
PROBE = textwrap.dedent(
    """
    import importlib
    import json
    import pkgutil
    import sys

    import velo_tui.engine as engine

    names = [info.name for info in pkgutil.walk_packages(engine.__path__, "velo_tui.engine.")]
    for name in names:
        importlib.import_module(name)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich"))
    print(json.dumps({"modules": names, "ui": loaded}))
    """
)


def probe() -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_engine_imports_no_ui() -> None:
    found = probe()
    assert "velo_tui.engine.session" in found["modules"]
    assert "velo_tui.engine.broker.kafka" in found["modules"]
    assert "velo_tui.engine.faults.malformed" in found["modules"]
    assert found["ui"] == []

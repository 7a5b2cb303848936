"""A progress bar on standard error for headless runs (only when standard error is a terminal)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from velo_tui.engine.session import SessionEvent


class StderrProgress:
    """Shows one bar per statement and per input topic; silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._progress: Progress | None = None
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> StderrProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=Console(stderr=True), transient=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, event: SessionEvent) -> None:
        if self._progress is None or event.kind not in ("input", "batch"):
            return
        label = f"input {event.detail}" if event.kind == "input" else f"statement {event.statement}"
        task = self._tasks.get(label)
        if task is None:
            task = self._progress.add_task(label, total=max(event.total, 1))
            self._tasks[label] = task
        self._progress.update(task, completed=event.done, total=max(event.total, event.done, 1))

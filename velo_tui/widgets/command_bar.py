"""The command bar: one line of debug commands (`b NAME`, `head NAME -n 5`, `export dlq f.csv`).

It takes focus only through `:`, so the single-key bindings keep working everywhere else, and it
keeps a history that `up` and `down` walk through.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

PLACEHOLDER = ": command (help lists them: step, b NAME, head NAME -n 5, filter NAME EXPR, export NAME FILE)"


class CommandBar(Input):
    """Single-line input for debug commands."""

    BINDINGS = [
        Binding("escape", "leave", "leave command bar", id="command-bar.leave"),
        Binding("up", "history(-1)", "previous command", show=False, id="command-bar.previous"),
        Binding("down", "history(1)", "next command", show=False, id="command-bar.next"),
    ]

    class Entered(Message):
        """The user entered a command line."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    class Left(Message):
        """The user left the command bar without a command."""

    def __init__(self, *, id: str | None = None, cursor_blink: bool = True) -> None:
        super().__init__(placeholder=PLACEHOLDER, id=id)
        self.cursor_blink = cursor_blink
        self.can_focus = False
        self.history: list[str] = []
        self._history_index = 0

    def open(self) -> None:
        """Make the bar focusable and focus it."""
        self.can_focus = True
        self.focus()

    def on_blur(self) -> None:
        self.can_focus = False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value.strip()
        self.value = ""
        if line:
            self.history.append(line)
        self._history_index = len(self.history)
        self.post_message(self.Entered(line) if line else self.Left())

    def action_leave(self) -> None:
        self.value = ""
        self.post_message(self.Left())

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._history_index = max(0, min(len(self.history), self._history_index + step))
        self.value = self.history[self._history_index] if self._history_index < len(self.history) else ""
        self.cursor_position = len(self.value)

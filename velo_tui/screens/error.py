"""The error dialog: a statement or engine error in full, scrollable and copyable."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from velo_tui.widgets.text import label


class ErrorScreen(ModalScreen[None]):
    """Shows `message` under `title`; any of escape, enter or q closes it, c copies the message."""

    BINDINGS = [
        Binding("escape,enter,q", "close", "close", id="error.close"),
        Binding("c", "copy", "copy message", id="error.copy"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.error_title = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="error-dialog", classes="dialog"):
            with VerticalScroll(id="error-body"):
                # Each line is escaped on its own so the message keeps its line breaks.
                text = "\n".join(label(line).plain for line in self.message.splitlines() or [""])
                yield Static(label(text), id="error-message", markup=False)
            yield Static("escape close · c copy", classes="dialog-help dialog-keys", markup=False)

    def on_mount(self) -> None:
        dialog = self.query_one("#error-dialog")
        dialog.border_title = label(self.error_title)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.message)
        self.app.notify("error message copied to the clipboard", markup=False)

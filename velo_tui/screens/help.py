"""The help dialog: the debugger's keys and the commands the command bar accepts."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from velo_tui.commands import COMMANDS


def command_rows() -> list[tuple[str, str]]:
    """Return (synopsis, description) of every command-bar command, as `--repl` reads them too."""
    rows = []
    for spec in COMMANDS:
        words = ", ".join([*spec.aliases, spec.name])
        rows.append((f"{words} {spec.usage}".strip(), spec.description))
    return rows


class HelpScreen(ModalScreen[None]):
    """Lists `keys` as (key, description) and the command-bar commands."""

    BINDINGS = [Binding("escape,enter,q,question_mark", "close", "close", id="help.close")]

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            with VerticalScroll(id="help-body"):
                yield Static(self._renderable(), markup=False)
            yield Static("escape close · arrows scroll", classes="dialog-help dialog-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#help-dialog").border_title = "help"
        self.query_one("#help-body").focus()

    def _renderable(self) -> Group:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        for key, description in self.keys:
            keys.add_row(Text(key), Text(description))
        commands = Table.grid(padding=(0, 2))
        commands.add_column(style="bold", no_wrap=True)
        commands.add_column()
        for synopsis, description in command_rows():
            commands.add_row(Text(synopsis), Text(description))
        return Group(
            Text("keys", style="bold underline"), keys,
            Text("\ncommand bar (press :)", style="bold underline"), commands,
            Text("\n<stmt> is a statement name or its number from 1; <topic> is a topic name.", style="dim"),
            Text("Every key is also in the command palette (ctrl+p).", style="dim"),
        )

    def action_close(self) -> None:
        self.dismiss(None)

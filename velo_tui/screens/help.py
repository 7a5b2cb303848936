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

#: Command-bar commands (the same set `--repl` reads), as (syntax, what it does).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("s, step", "run the next statement"),
    ("c, continue", "run until a statement with a breakpoint has completed"),
    ("r, run", "run every remaining statement"),
    ("b STMT / u STMT", "set / remove a breakpoint (STMT: name or 1-based number)"),
    ("cb, clear", "remove every breakpoint"),
    ("l, list", "list statements with their status"),
    ("i STMT, inspect", "record count and fields of a statement's output"),
    ("st, status", "where the session stands"),
    ("topics", "topics with per-partition low and high watermarks"),
    ("schema TOPIC|STMT", "field names and types"),
    ("head|tail TARGET [-n N]", "first or last N records"),
    ("filter TARGET EXPR", "records matching EXPR, e.g. price > 100 and tier ~ PREM"),
    ("export TARGET|dlq FILE", "write records to .json, .jsonl, .csv or .parquet"),
    ("dlq [STMT]", "DLQ entries, of one statement or all"),
    ("q, quit", "leave the debugger"),
)


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
            yield Static("escape close", classes="dialog-help", markup=False)

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
        for syntax, description in COMMANDS:
            commands.add_row(Text(syntax), Text(description))
        return Group(
            Text("keys", style="bold underline"), keys,
            Text("\ncommand bar (press :)", style="bold underline"), commands,
            Text("\nEvery key is also in the command palette (ctrl+p).", style="dim"),
        )

    def action_close(self) -> None:
        self.dismiss(None)

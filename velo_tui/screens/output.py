"""The command output dialog: what a command-bar command printed (`l`, `topics`, `schema`, `dlq`)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from velo_tui.widgets.text import escape_control, label, truncate_cells

#: Widest cell of a command's table, in terminal columns.
MAX_OUTPUT_CELL = 40


def output_renderable(lines: Sequence[str], columns: Sequence[str] | None,
                      rows: Sequence[Sequence[str]], wrap: bool = False) -> RenderableType:
    """Lay out a command's lines and table; every cell is a plain `Text`.

    Cells are cut to `MAX_OUTPUT_CELL` columns, unless `wrap` is set: then the last column
    (help's descriptions) wraps onto as many lines as it needs.
    """
    # One Text for all lines: separate Texts built with end="" would run together on one line.
    text = "\n".join(escape_control(line) for line in lines)
    if text and columns is not None:
        text += "\n\n"  # ends the last line, then leaves a blank line above the table
    parts: list[RenderableType] = [Text(text, end="")] if text else []
    if columns is not None:
        table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="bold")
        for index, name in enumerate(columns):
            wraps = wrap and index == len(columns) - 1
            table.add_column(Text(escape_control(name)), no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")
        for row in rows:
            if wrap:
                table.add_row(*(Text(escape_control(cell)) for cell in row))
            else:
                table.add_row(*(Text(truncate_cells(escape_control(cell), MAX_OUTPUT_CELL)) for cell in row))
        parts.append(table)
    return Group(*parts)


class CommandOutputScreen(ModalScreen[None]):
    """Scrollable output of one command; escape, enter or q closes it."""

    BINDINGS = [Binding("escape,enter,q", "close", "close", id="output.close")]

    def __init__(self, title: str, lines: Sequence[str], columns: Sequence[str] | None = None,
                 rows: Sequence[Sequence[str]] = (), *, wrap: bool = False) -> None:
        super().__init__()
        self.output_title = title
        self.lines = list(lines)
        self.columns = list(columns) if columns is not None else None
        self.rows = [list(row) for row in rows]
        self.wrap = wrap

    def compose(self) -> ComposeResult:
        with Vertical(id="output-dialog", classes="dialog"):
            with VerticalScroll(id="output-body"):
                yield Static(output_renderable(self.lines, self.columns, self.rows, self.wrap), markup=False)
            yield Static("escape close", classes="dialog-help dialog-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#output-dialog").border_title = label(self.output_title)
        self.query_one("#output-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)

"""The DLQ panel: dead-letter entries with the statement, stage, error and source position."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from velo_tui.engine.dlq import DeadLetterEntry
from velo_tui.widgets.tables import fill_table
from velo_tui.widgets.text import cell

#: Maximum entries listed; the title gives how many the DLQ stores in all.
DLQ_WINDOW = 500

EMPTY_HINT = "No DLQ entries: records that fail to decode, validate or run land here."

COLUMNS = ("#", "statement", "stage", "error type", "field", "message", "source")


def source_position(entry: DeadLetterEntry) -> str:
    """Return `topic[partition]@offset`, with `?` where the position is unknown."""
    partition = "?" if entry.partition is None else str(entry.partition)
    offset = "?" if entry.offset is None else str(entry.offset)
    return f"{entry.topic}[{partition}]@{offset}"


class DeadLetterTable(DataTable):
    """One row per DLQ entry; `enter` opens the entry's full error context."""

    BINDINGS = [Binding("enter", "select_cursor", "detail", id="dlq.detail")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.entries: list[DeadLetterEntry] = []

    def on_mount(self) -> None:
        self.show_entries([])

    def show_entries(self, entries: Sequence[DeadLetterEntry]) -> None:
        cursor = self.cursor_row
        self.entries = list(entries[:DLQ_WINDOW])
        headers = [(Text(name, justify="right" if name == "#" else "left"), name) for name in COLUMNS]
        rows = [
            [
                cell(number),
                cell(entry.statement, 20),
                cell(entry.stage),
                cell(entry.error_type, 20),
                cell(entry.field, 16),
                cell(entry.message, 48),
                cell(source_position(entry), 36),
            ]
            for number, entry in enumerate(self.entries, start=1)
        ]
        fill_table(self, headers, rows)
        if self.entries:
            self.move_cursor(row=min(cursor, len(self.entries) - 1), animate=False)

    @property
    def highlighted_entry(self) -> DeadLetterEntry | None:
        """The entry under the cursor, if any."""
        if not self.entries or self.cursor_row >= len(self.entries):
            return None
        return self.entries[self.cursor_row]


class DeadLetterPanel(Vertical):
    """Border-titled container of the DLQ table and its empty-state hint."""

    def compose(self) -> ComposeResult:
        yield Static(EMPTY_HINT, id="dlq-hint", markup=False)
        yield DeadLetterTable(id="dlq-table")

    def on_mount(self) -> None:
        self.border_title = "DLQ · 0"

    @property
    def table(self) -> DeadLetterTable:
        return self.query_one(DeadLetterTable)

    def show_entries(self, entries: Sequence[DeadLetterEntry], total: int, dropped: int) -> None:
        """List `entries` and put the stored and dropped counts in the border title."""
        has_entries = bool(entries)
        self.query_one("#dlq-hint").display = not has_entries
        table = self.table
        table.show_entries(entries)
        shown = len(table.entries)
        self.border_title = f"DLQ · {total:,}" if shown == total else f"DLQ · {shown:,} of {total:,}"
        self.border_subtitle = f"{dropped:,} dropped" if dropped else ""

"""The records panel: one page of a topic's records (head, tail, filter) in a table.

The table holds only the page the engine returned, never the whole topic, so a topic of a million
records costs no more to show than one of ten. `n` and `p` move the window by a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from velo_tui.engine.pipeline import PSEUDO_COLUMNS
from velo_tui.widgets.tables import fill_table
from velo_tui.widgets.text import cell, label

#: Records fetched per page.
PAGE_SIZE = 100

EMPTY_HINT = "No records shown: step with s, then press h (head) or t (tail)."


@dataclass(frozen=True)
class RecordsRequest:
    """Request for the records panel: a statement or topic, a window and an optional filter."""

    target: str
    mode: str  # "head", "tail", "filter" or "page"
    offset: int = 0
    limit: int = PAGE_SIZE
    expression: str | None = None


def window_title(page: Any) -> str:
    """Return the "N of M" part of the title for a loaded page."""
    shown = len(page.rows)
    matched = page.matched if page.matched is not None else page.total
    if shown and page.offset:
        return f"{shown:,} of {matched:,} (rows {page.offset + 1:,}–{page.offset + shown:,})"
    return f"{shown:,} of {matched:,}"


class RecordsTable(DataTable):
    """The rows of one page; `enter` opens the highlighted record."""

    BINDINGS = [
        Binding("enter", "select_cursor", "detail", id="records.detail"),
        Binding("n", "screen.next_page", "next page", id="records.next-page",
                tooltip="Show the next page of records"),
        Binding("p", "screen.previous_page", "previous page", id="records.previous-page",
                tooltip="Show the previous page of records"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.records: list[dict[str, Any]] = []

    def show_rows(self, columns: list[str], rows: list[dict[str, Any]]) -> None:
        """Replace the table with `rows`: partition, offset and key first, then the fields."""
        fields = [name for name in columns if name not in PSEUDO_COLUMNS]
        headers = [
            (Text("p", justify="right"), "_partition"),
            (Text("offset", justify="right"), "_offset"),
            (Text("key"), "_key"),
        ] + [(label(name), f"field:{name}") for name in fields]
        self.records = list(rows)
        cells = [
            [cell(row.get("_partition")), cell(row.get("_offset")), cell(row.get("_key"))]
            + [cell(row.get(name)) for name in fields]
            for row in self.records
        ]
        fill_table(self, headers, cells)

    @property
    def highlighted_record(self) -> dict[str, Any] | None:
        """The record under the cursor, if any."""
        if not self.records or self.cursor_row >= len(self.records):
            return None
        return self.records[self.cursor_row]


class RecordsPanel(Vertical):
    """Border-titled container of the records table and its empty-state hint."""

    def compose(self) -> ComposeResult:
        yield Static(EMPTY_HINT, id="records-hint", markup=False)
        yield RecordsTable(id="records-table")

    def on_mount(self) -> None:
        self.border_title = "records"

    @property
    def table(self) -> RecordsTable:
        return self.query_one(RecordsTable)

    def show_page(self, request: RecordsRequest, page: Any) -> None:
        """Show a loaded page and describe it in the border title and subtitle."""
        self.query_one("#records-hint").display = False
        table = self.table
        table.show_rows(list(page.columns), list(page.rows))
        self.border_title = label(f"records · {page.label} · {window_title(page)}")
        if request.expression:
            self.border_subtitle = label(f"where {request.expression} · {page.matched:,} of {page.total:,} match")
        elif page.label != page.topic:
            self.border_subtitle = label(f"{request.mode} · topic {page.topic}")
        else:
            self.border_subtitle = label(request.mode)

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
from velo_tui.widgets.text import cell, label, plain_text, truncate_cells

#: Records fetched per page.
PAGE_SIZE = 100

#: Widest field cell, in terminal columns, so that a 120-column terminal shows several fields
#: beside an id of 36 characters. The detail view shows the whole value.
MAX_FIELD_WIDTH = 24

#: Widest key cell, in terminal columns: enough to tell records apart, for example by the first
#: half of a UUID.
MAX_KEY_WIDTH = 16

EMPTY_HINT = "No records shown: step with s, then press h (head) or t (tail)."


@dataclass(frozen=True)
class RecordsRequest:
    """Request for the records panel: a statement or topic, a window and an optional filter."""

    target: str
    mode: str  # "head", "tail", "filter" or "page"
    offset: int = 0
    limit: int = PAGE_SIZE
    expression: str | None = None


def key_field(fields: list[str], rows: list[dict[str, Any]]) -> str | None:
    """Return the first field whose text equals the record key in every row, or None.

    The records table shows such a field in place of a separate key column.
    """
    if not rows:
        return None
    keys = [row.get("_key") for row in rows]
    if any(key is None for key in keys):
        return None
    key_texts = [plain_text(key) for key in keys]
    for name in fields:
        if all(plain_text(row.get(name)) == text for row, text in zip(rows, key_texts)):
            return name
    return None


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
        """Replace the table with `rows`: partition, offset and key first, then the fields.

        When a field equals the key in every row, that field takes the key's place: its header
        says `(key)`, it is as narrow as a key, and the key column is left out.
        """
        fields = [name for name in columns if name not in PSEUDO_COLUMNS]
        self.records = list(rows)
        keyed_by = key_field(fields, self.records)
        headers = [
            (Text("p", justify="right"), "_partition"),
            (Text("offset", justify="right"), "_offset"),
        ]
        if keyed_by is None:
            headers.append((Text("key"), "_key"))
        for name in fields:
            title = f"{name} (key)" if name == keyed_by else name
            headers.append((label(truncate_cells(title, MAX_FIELD_WIDTH)), f"field:{name}"))
        cells = []
        for row in self.records:
            line = [cell(row.get("_partition")), cell(row.get("_offset"))]
            if keyed_by is None:
                line.append(cell(row.get("_key"), MAX_KEY_WIDTH))
            line += [cell(row.get(name), MAX_KEY_WIDTH if name == keyed_by else MAX_FIELD_WIDTH)
                     for name in fields]
            cells.append(line)
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

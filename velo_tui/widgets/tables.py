"""Filling a DataTable with columns sized from their cells."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable


def fill_table(table: DataTable, columns: Sequence[tuple[Text, str]], rows: Sequence[Sequence[Text]]) -> None:
    """Replace the columns and rows of `table`; each column is as wide as its widest cell.

    Fixed widths make the table's layout complete as soon as the rows are added. Left to size
    columns itself, a DataTable (Textual 8.2) does so on a later idle pass, so a screen read
    before that pass shows columns as wide as their headers only.
    """
    table.clear(columns=True)
    for index, (label, key) in enumerate(columns):
        width = max([label.cell_len, *(row[index].cell_len for row in rows)])
        table.add_column(label, width=width, key=key)
    table.add_rows(rows)

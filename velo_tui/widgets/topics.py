"""The topics panel: every topic of the session with each partition's low and high watermark."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from velo_tui.widgets.tables import fill_table
from velo_tui.widgets.text import cell, label

#: Narrowest and widest topic name cell; the records panel title shows the whole name.
MIN_TOPIC_WIDTH = 12
MAX_TOPIC_WIDTH = 32

#: Columns the partition, low and high cells and the cell padding take, next to the topic.
WATERMARK_COLUMNS_WIDTH = 20


class TopicsPanel(DataTable):
    """One row per partition; the highlighted row's topic is the target of `h`, `t`, `/`, `e`."""

    BINDINGS = [Binding("enter", "select_cursor", "head", id="topics.head")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._row_topics: list[str] = []
        self._topics: list[Any] = []

    def on_mount(self) -> None:
        self.show_topics([])

    @property
    def highlighted_topic(self) -> str | None:
        """Topic of the highlighted row, if any."""
        if not self._row_topics or self.cursor_row >= len(self._row_topics):
            return None
        return self._row_topics[self.cursor_row]

    def topic_width(self) -> int:
        """Width of the topic cell: what the panel leaves after the watermarks, within bounds."""
        available = self.size.width - WATERMARK_COLUMNS_WIDTH
        return max(MIN_TOPIC_WIDTH, min(MAX_TOPIC_WIDTH, available))

    def on_resize(self) -> None:
        if self._topics:
            self.show_topics(self._topics)

    def show_topics(self, topics: Sequence[Any]) -> None:
        """Replace the rows with `topics` (TopicInfo), keeping the cursor on the same row."""
        cursor = self.cursor_row
        self._topics = list(topics)
        self._row_topics = []
        width = self.topic_width()
        rows = []
        for info in topics:
            partitions = list(info.partitions) or [None]
            for index, marks in enumerate(partitions):
                first = index == 0
                name = cell(info.name, width) if first else Text("")
                role = label(info.role or "", style="dim") if first else Text("")
                if marks is None:
                    rows.append([name, Text("–", style="dim"), Text(""), Text(""), role])
                else:
                    rows.append([name, cell(marks.partition), cell(marks.low), cell(marks.high), role])
                self._row_topics.append(info.name)
        # The role comes last: in a narrow panel it is the column to lose, not the watermarks.
        headers = [
            (Text("topic"), "topic"),
            (Text("p", justify="right"), "partition"),
            (Text("low", justify="right"), "low"),
            (Text("high", justify="right"), "high"),
            (Text("role"), "role"),
        ]
        fill_table(self, headers, rows)
        if self._row_topics:
            self.move_cursor(row=min(cursor, len(self._row_topics) - 1), animate=False)

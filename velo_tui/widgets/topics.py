"""The topics panel: every topic of the session with each partition's low and high watermark."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from velo_tui.widgets.text import cell, label

#: Widest topic name shown; the records panel title shows the whole name.
MAX_TOPIC_WIDTH = 24


class TopicsPanel(DataTable):
    """One row per partition; the highlighted row's topic is the target of `h`, `t`, `/`, `e`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._row_topics: list[str] = []

    def on_mount(self) -> None:
        self.add_column(Text("topic"), key="topic")
        self.add_column(Text("role"), key="role")
        self.add_column(Text("p", justify="right"), key="partition")
        self.add_column(Text("low", justify="right"), key="low")
        self.add_column(Text("high", justify="right"), key="high")

    @property
    def highlighted_topic(self) -> str | None:
        """Topic of the highlighted row, if any."""
        if not self._row_topics or self.cursor_row >= len(self._row_topics):
            return None
        return self._row_topics[self.cursor_row]

    def show_topics(self, topics: Sequence[Any]) -> None:
        """Replace the rows with `topics` (TopicInfo), keeping the cursor on the same row."""
        cursor = self.cursor_row
        self.clear()
        self._row_topics = []
        for info in topics:
            partitions = list(info.partitions) or [None]
            for index, marks in enumerate(partitions):
                first = index == 0
                name = cell(info.name, MAX_TOPIC_WIDTH) if first else Text("")
                role = label(info.role or "", style="dim") if first else Text("")
                if marks is None:
                    row = (name, role, Text("–", style="dim"), Text(""), Text(""))
                else:
                    row = (name, role, cell(marks.partition), cell(marks.low), cell(marks.high))
                self.add_row(*row)
                self._row_topics.append(info.name)
        if self._row_topics:
            self.move_cursor(row=min(cursor, len(self._row_topics) - 1), animate=False)

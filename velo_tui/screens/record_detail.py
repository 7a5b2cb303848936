"""The record detail dialog: one record or DLQ entry in full, with pretty-printed JSON.

For a record it shows topic, partition, offset, timestamp, key and headers. For a DLQ entry it
adds the failure context: statement, stage, error type, field, message, fault tag, recoverable
and failure time. Every value is escaped text, and nothing from the record is read as markup.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from velo_tui.engine.dlq import DeadLetterEntry
from velo_tui.engine.pipeline import PSEUDO_COLUMNS
from velo_tui.widgets.text import escape_control, format_value, label


@dataclass
class DetailContent:
    """Content of the detail dialog: labelled metadata and the message value as text."""

    title: str
    fields: list[tuple[str, str]]
    value: str  # pretty JSON when the value parses, else the raw text
    headers: list[tuple[str, str]] = field(default_factory=list)


def format_timestamp(milliseconds: int | None) -> str:
    """Return a message timestamp as ISO 8601 UTC plus the raw milliseconds."""
    if milliseconds is None:
        return "none"
    try:
        moment = datetime.datetime.fromtimestamp(milliseconds / 1000, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{milliseconds} ms"
    return f"{moment.isoformat(timespec='milliseconds').replace('+00:00', 'Z')} ({milliseconds} ms)"


def pretty_value(value: Any) -> str:
    """Return a message value as indented JSON when it is JSON, else as text."""
    if value is None:
        return "null (tombstone)"
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", errors="backslashreplace")
    elif isinstance(value, str):
        text = value
    else:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _text(value: Any) -> str:
    return "none" if value is None else format_value(value)


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    pairs = []
    for item in items:
        if isinstance(item, dict):
            name, value = item.get("key"), item.get("value")
        else:
            name, value = item
        pairs.append((str(name), _text(value)))
    return pairs


def record_content(record: Any, topic: str, hide_wall_clock: bool = False) -> DetailContent:
    """Describe a record: a `RecordDetail` from the record views, or a row of the records table.

    A DLQ entry's `RecordDetail` carries its failure context, which comes first; with
    `hide_wall_clock` its failure time is left out (snapshot tests freeze the clock).
    """
    if isinstance(record, dict):
        fields_only = {k: v for k, v in record.items() if k not in PSEUDO_COLUMNS}
        return DetailContent(
            title=f"record · {topic}[{_text(record.get('_partition'))}]@{_text(record.get('_offset'))}",
            fields=[
                ("topic", topic),
                ("partition", _text(record.get("_partition"))),
                ("offset", _text(record.get("_offset"))),
                ("timestamp", format_timestamp(record.get("_timestamp"))),
                ("key", _text(record.get("_key"))),
            ],
            value=pretty_value(fields_only),
        )
    fields = [
        ("topic", record.topic),
        ("partition", _text(record.partition)),
        ("offset", _text(record.offset)),
        ("timestamp", format_timestamp(record.timestamp_ms)),
        ("key", _text(record.key)),
    ]
    context = [
        (name, "not shown" if hide_wall_clock and name == "failed at" else value)
        for name, value in getattr(record, "context", [])
    ]
    if context:
        fields = context + [item for item in fields if item[0] != "topic"]
    elif record.label != record.topic:
        fields.insert(0, ("statement", record.label))
    return DetailContent(
        title=f"record · {record.topic}[{_text(record.partition)}]@{_text(record.offset)}",
        fields=fields,
        value=record.value if record.value is not None else "null (tombstone)",
        headers=_header_pairs(record.headers),
    )


def dead_letter_content(entry: DeadLetterEntry, format_instant: Callable[[float], str | None]) -> DetailContent:
    """Describe a DLQ entry with its full failure context."""
    failed_at = format_instant(entry.failed_at) if entry.failed_at else None
    return DetailContent(
        title=f"DLQ entry · {entry.statement} · {entry.error_type}",
        fields=[
            ("statement", entry.statement),
            ("stage", entry.stage),
            ("error type", entry.error_type),
            ("field", _text(entry.field)),
            ("message", entry.message),
            ("source topic", entry.topic),
            ("partition", _text(entry.partition)),
            ("offset", _text(entry.offset)),
            ("timestamp", format_timestamp(entry.timestamp)),
            ("key", _text(entry.key)),
            ("fault tag", _text(entry.fault)),
            ("recoverable", "yes" if entry.recoverable else "no"),
            ("failed at", failed_at or "not shown"),
        ],
        value=pretty_value(entry.value),
        headers=_header_pairs(entry.headers),
    )


def _escaped_block(text: str) -> Text:
    # Escape line by line so that the JSON indentation keeps its line breaks.
    return Text("\n".join(escape_control(line) for line in text.split("\n")), end="")


def detail_renderable(content: DetailContent) -> RenderableType:
    """Lay out metadata, headers and value; every cell is a plain `Text`."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for name, value in content.fields:
        grid.add_row(Text(name), _escaped_block(value))
    parts: list[RenderableType] = [grid]
    if content.headers:
        parts.append(Text("\nheaders", style="bold underline"))
        headers = Table.grid(padding=(0, 2))
        headers.add_column(no_wrap=True)
        headers.add_column(overflow="fold")
        for name, value in content.headers:
            headers.add_row(Text(escape_control(name)), _escaped_block(value))
        parts.append(headers)
    parts.append(Text("\nvalue", style="bold underline"))
    parts.append(_escaped_block(content.value))
    return Group(*parts)


class RecordDetailScreen(ModalScreen[None]):
    """Scrollable detail of one record or DLQ entry; escape closes, c copies the value."""

    BINDINGS = [
        Binding("escape,enter,q", "close", "close", id="detail.close"),
        Binding("c", "copy", "copy value", id="detail.copy"),
    ]

    def __init__(self, content: DetailContent) -> None:
        super().__init__()
        self.content = content

    def compose(self) -> ComposeResult:
        with Vertical(id="detail-dialog", classes="dialog"):
            with VerticalScroll(id="detail-body"):
                yield Static(detail_renderable(self.content), id="detail-content", markup=False)
            yield Static("escape close · c copy value · arrows scroll", classes="dialog-help dialog-keys",
                         markup=False)

    def on_mount(self) -> None:
        self.query_one("#detail-dialog").border_title = label(self.content.title)
        self.query_one("#detail-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.content.value)
        self.app.notify("value copied to the clipboard", markup=False)

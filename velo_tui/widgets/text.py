"""Safe display of record values: control characters escaped, long values cut with an ellipsis.

Record payloads, keys and error messages come from outside, so nothing here parses markup: every
helper returns plain strings or rich `Text` objects built without markup.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.text import Text

#: Widest cell in a table, in terminal columns; the detail view shows the whole value.
MAX_CELL_WIDTH = 32

ELLIPSIS = "…"
NULL_TEXT = "∅"

#: C0 and C1 control characters, DEL, and the Unicode bidirectional controls, which can reorder
#: or hide the text around them in a terminal.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """Replace control characters with visible escapes such as `\\n`, `\\x1b` or `\\u202e`."""
    return _CONTROL.sub(_escape_one, text)


def truncate_cells(text: str, max_width: int) -> str:
    """Cut `text` to at most `max_width` terminal columns, ending in an ellipsis when cut.

    Widths count wide characters (CJK, most emoji) as two columns.
    """
    if max_width < 1:
        return ""
    if cell_len(text) <= max_width:
        return text
    return set_cell_size(text, max_width - 1).rstrip() + ELLIPSIS


def format_value(value: Any) -> str:
    """Return the display form of one field value (JSON for objects and arrays)."""
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return str(value)


def plain_text(value: Any) -> str:
    """Return `value` as one display line with control characters escaped, never cut."""
    return escape_control(format_value(value))


def cell(value: Any, max_width: int = MAX_CELL_WIDTH) -> Text:
    """Build a table cell: escaped, cut to `max_width` columns, numbers right-aligned."""
    if value is None:
        return Text(NULL_TEXT, style="dim", no_wrap=True, end="")
    numeric = isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)
    text = truncate_cells(plain_text(value), max_width)
    return Text(text, no_wrap=True, end="", justify="right" if numeric else "left")


def label(text: str, style: str = "") -> Text:
    """Build a `Text` from a string taken literally (no markup), with control characters escaped."""
    return Text(escape_control(text), style=style, end="")

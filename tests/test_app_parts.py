"""Unit tests of the debugger's pure parts: cell text, progress relay and message coalescing."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from rich.text import Text

from velo_tui.engine.session import SessionEvent
from velo_tui.messages import StatementProgress
from velo_tui.screens.main import ProgressRelay
from velo_tui.screens.record_detail import format_timestamp, pretty_value
from velo_tui.widgets.records import key_field, window_title
from velo_tui.widgets.text import NULL_TEXT, cell, escape_control, format_value, truncate_cells


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain", "plain"),
        ("a\nb", "a\\nb"),
        ("tab\there", "tab\\there"),
        ("esc\x1b[31m", "esc\\x1b[31m"),
        ("bell\x07", "bell\\x07"),
        ("del\x7f", "del\\x7f"),
        ("c1\x9b", "c1\\x9b"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("שלום", "שלום"),
        ("漢字", "漢字"),
        ("🚀", "🚀"),
    ],
)
def test_escape_control_cases(raw, shown):
    assert escape_control(raw) == shown


def test_truncate_counts_wide_characters():
    text = truncate_cells("漢字漢字漢字", 7)
    assert text.endswith("…")
    assert cell_len(text) <= 7


def test_truncate_keeps_short_text():
    assert truncate_cells("short", 10) == "short"


def test_truncate_zero_width_is_empty():
    assert truncate_cells("abc", 0) == ""


def test_cell_is_literal_text():
    rendered = cell("[bold]x")
    assert isinstance(rendered, Text)
    assert rendered.plain == "[bold]x"
    assert rendered.spans == []


def test_cell_null_is_marked():
    assert cell(None).plain == NULL_TEXT


def test_cell_cuts_long_value():
    rendered = cell("x" * 300, 20)
    assert cell_len(rendered.plain) == 20
    assert rendered.plain.endswith("…")


def test_cell_right_aligns_numbers():
    assert cell(42).justify == "right"
    assert cell(True).justify == "left"


def test_format_value_json_for_objects():
    assert format_value({"a": [1, "ש"]}) == '{"a":[1,"ש"]}'


def test_format_value_bytes_escape_invalid_utf8():
    assert format_value(b"ok\xff") == "ok\\xff"


def test_pretty_value_indents_json():
    assert pretty_value(b'{"a":1}') == '{\n  "a": 1\n}'


def test_pretty_value_keeps_other_text():
    assert pretty_value(b"not json") == "not json"


def test_pretty_value_tombstone():
    assert pretty_value(None) == "null (tombstone)"


def test_format_timestamp_utc():
    assert format_timestamp(0) == "1970-01-01T00:00:00.000Z (0 ms)"


class _Page:
    def __init__(self, rows: int, matched: int, offset: int) -> None:
        self.rows = [{}] * rows
        self.matched = matched
        self.total = matched
        self.offset = offset


def test_window_title_whole_topic():
    assert window_title(_Page(5, 5, 0)) == "5 of 5"


def test_window_title_later_page():
    assert window_title(_Page(100, 1_000_000, 100)) == "100 of 1,000,000 (rows 101–200)"


def test_key_field_matches_text():
    rows = [{"_key": b"1871", "id": 1871, "name": "a"}, {"_key": b"3989", "id": 3989, "name": "b"}]
    assert key_field(["name", "id"], rows) == "id"


def test_key_field_none_when_one_differs():
    rows = [{"_key": "a", "name": "a"}, {"_key": "b", "name": "c"}]
    assert key_field(["name"], rows) is None


def test_key_field_none_without_keys():
    rows = [{"_key": None, "name": None}]
    assert key_field(["name"], rows) is None


def test_key_field_none_without_rows():
    assert key_field(["name"], []) is None


def test_progress_relay_drops_bursts():
    posted = []
    relay = ProgressRelay(posted.append, interval_s=3600)
    for done in range(1, 50):
        relay(SessionEvent("batch", "orders", done, 100))
    assert len(posted) == 1


def test_progress_relay_keeps_last_and_lifecycle():
    posted = []
    relay = ProgressRelay(posted.append, interval_s=3600)
    relay(SessionEvent("statement_started", "orders"))
    relay(SessionEvent("batch", "orders", 1, 100))
    relay(SessionEvent("batch", "orders", 50, 100))
    relay(SessionEvent("batch", "orders", 100, 100))
    relay(SessionEvent("statement_finished", "orders", 100, 100, "ok"))
    kinds = [(message.event.kind, message.event.done) for message in posted]
    assert kinds == [("statement_started", 0), ("batch", 1), ("batch", 100), ("statement_finished", 100)]


def test_progress_replaces_same_statement_batch():
    older = StatementProgress(SessionEvent("batch", "orders", 1, 10))
    newer = StatementProgress(SessionEvent("batch", "orders", 2, 10))
    assert older.can_replace(newer)


def test_progress_keeps_other_statement():
    older = StatementProgress(SessionEvent("batch", "orders", 1, 10))
    other = StatementProgress(SessionEvent("batch", "payments", 1, 10))
    assert not older.can_replace(other)


def test_progress_keeps_finished_event():
    finished = StatementProgress(SessionEvent("statement_finished", "orders", 10, 10, "ok"))
    later = StatementProgress(SessionEvent("statement_finished", "orders", 10, 10, "ok"))
    assert not finished.can_replace(later)

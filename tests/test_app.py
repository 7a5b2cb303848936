"""Pilot tests of the full-screen debugger on the example pipelines and on tricky record text."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pyarrow.compute as pc
import pytest
from rich.console import Console
from textual.notifications import Notify

from velo_tui.app import run_app
from velo_tui.commands import COMMANDS
from velo_tui.cli import build_parser
from velo_tui.engine.session import NOT_RUN, OK, RUNNING, SessionOptions
from velo_tui.messages import StatementProgress, TopicsLoaded
from velo_tui.screens.error import ErrorScreen
from velo_tui.screens.help import HelpScreen
from velo_tui.screens.main import MainScreen
from velo_tui.screens.output import CommandOutputScreen
from velo_tui.screens.prompt import PromptScreen
from velo_tui.screens.record_detail import RecordDetailScreen
from velo_tui.widgets.dead_letters import DeadLetterPanel, DeadLetterTable
from velo_tui.widgets.records import MAX_FIELD_WIDTH, RecordsPanel, RecordsTable
from velo_tui.widgets.statements import StatementsPanel
from velo_tui.widgets.topics import TopicsPanel

SIZE = (120, 36)

#: The three-stage shop orders example, whose record key is the order_id, a UUID.
ORDERS_SQL = Path(__file__).resolve().parents[1] / "examples" / "orders" / "orders_pipeline.sql"

#: Records per generated input in the debug pipeline tests: enough that a filter on
#: line_total > 1000 leaves some records out.
RECORDS = 60


def statement_lines(app) -> list[str]:
    panel = app.main_screen.query_one(StatementsPanel)
    return [str(panel.get_option_at_index(index).prompt) for index in range(panel.option_count)]


def table_text(table, row: int, column: int) -> str:
    return str(table.get_cell_at((row, column)))


def column_text(table, row: int, key: str) -> str:
    """Return the text of the cell in `row` of the column with key `key` (`_key`, `field:NAME`)."""
    return str(table.get_cell_at((row, table.get_column_index(key))))


def visible_columns(table) -> list[str]:
    """Return the keys of the columns that fit whole in the table's width, left to right."""
    visible = []
    used = 0
    for key, column in table.columns.items():
        used += column.get_render_width(table)
        if used > table.scrollable_content_region.width:
            break
        visible.append(key.value)
    return visible


class Notifications:
    """Collects the text of every toast an app raises, through `run_test(message_hook=...)`."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, message) -> None:
        if isinstance(message, Notify):
            self.messages.append(message.notification.message)


async def type_text(pilot, text: str) -> None:
    await pilot.press(*["space" if char == " " else char for char in text])


async def replace_input(pilot, text: str) -> None:
    """Replace the text of the focused input (typing a long path key by key is slow)."""
    pilot.app.focused.value = text
    await pilot.pause()


# -- statements --------------------------------------------------------------------------------


async def test_statements_start_not_run(app_factory, debug_sql):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        lines = statement_lines(app)
        panel = app.main_screen.query_one(StatementsPanel)
        assert len(lines) == 3
        assert all("not run" in line for line in lines)
        assert panel.border_title == "statements · 0/3 run"


async def test_step_shows_statement_done(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        first = app.session.states[0]
        lines = statement_lines(app)
        assert first.name == "validated_orders"
        assert first.status == OK
        assert f"done · {first.stats.records_in} in · {first.stats.records_out} out · 0 DLQ" in lines[0]
        assert "not run" in lines[1]
        assert app.main_screen.query_one(StatementsPanel).border_title == "statements · 1/3 run"


async def test_head_shows_first_records(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        expected = app.session.output_table(app.session.states[0])
        panel = app.main_screen.query_one(RecordsPanel)
        offsets = [table_text(panel.table, row, 1) for row in range(panel.table.row_count)]
        assert offsets == [str(offset) for offset in expected.column("_offset").to_pylist()]
        assert panel.border_title == f"records · validated_orders · {expected.num_rows} of {expected.num_rows}"
        assert expected.column("order_id")[0].as_py().startswith(column_text(panel.table, 0, "field:order_id").rstrip("…"))


async def test_continue_stops_after_breakpoint(app_factory, debug_sql, settle):
    notes = Notifications()
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("down", "b", "c")
        await settle(pilot)
        statuses = [state.status for state in app.session.states]
        panel = app.main_screen.query_one(StatementsPanel)
        assert "enriched_orders" in app.breakpoints
        assert statuses == [OK, OK, NOT_RUN]
        assert "paused after enriched_orders (breakpoint)" in panel.border_subtitle
        assert any("Stopped at the breakpoint after enriched_orders" in text for text in notes.messages)


async def test_breakpoint_key_toggles(app_factory, debug_sql):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down", "b")
        set_once = set(app.breakpoints)
        await pilot.press("b")
        assert "final_orders" in set_once
        assert "final_orders" not in app.breakpoints
        assert statement_lines(app)[2].startswith(" ")


async def test_breakpoints_from_spec_and_option(app_factory, debug_sql):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS), breakpoints=("FINAL_ORDERS",))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        lines = statement_lines(app)
        assert app.breakpoints == {"validated_orders", "final_orders"}
        assert lines[0].startswith("●")
        assert lines[2].startswith("●")


async def test_run_key_runs_every_statement(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await settle(pilot)
        panel = app.main_screen.query_one(StatementsPanel)
        assert [state.status for state in app.session.states] == [OK, OK, OK]
        assert panel.border_subtitle == "finished"


# -- records -----------------------------------------------------------------------------------


async def test_filter_narrows_records(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        await pilot.press("slash")
        await type_text(pilot, "line_total > 1000")
        await pilot.press("enter")
        await settle(pilot)
        output = app.session.output_table(app.session.states[0])
        matched = pc.sum(pc.greater(output.column("line_total"), 1000)).as_py()
        panel = app.main_screen.query_one(RecordsPanel)
        assert 0 < matched < output.num_rows
        assert panel.table.row_count == matched
        assert panel.border_title == f"records · validated_orders · {matched} of {matched}"
        assert panel.border_subtitle == f"where line_total > 1000 · {matched} of {output.num_rows} match"


async def test_invalid_filter_keeps_records(app_factory, debug_sql, settle):
    notes = Notifications()
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        await pilot.press("slash")
        await type_text(pilot, "no_such_field > 1")
        await pilot.press("enter")
        await settle(pilot)
        panel = app.main_screen.query_one(RecordsPanel)
        assert panel.table.row_count == RECORDS
        assert panel.border_title == f"records · validated_orders · {RECORDS} of {RECORDS}"
        assert app.main_screen.filter_expression == {}
        assert any("no_such_field" in text for text in notes.messages)


async def test_records_show_several_fields(app_factory, settle):
    app = app_factory(ORDERS_SQL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        table = app.main_screen.query_one(RecordsTable)
        keys = [key.value for key in table.columns]
        fields = [key for key in visible_columns(table) if key.startswith("field:")]
        widths = [column.width for key, column in table.columns.items() if key.value.startswith("field:")]
        header = str(table.columns[table.coordinate_to_cell_key((0, 2)).column_key].label)
        assert "_key" not in keys
        assert header == "order_id (key)"
        assert fields[:4] == ["field:order_id", "field:customer_id", "field:country", "field:quantity"]
        assert max(widths) <= MAX_FIELD_WIDTH


async def test_rejected_filter_keeps_previous(app_factory, debug_sql, settle, tmp_path):
    notes = Notifications()
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    target = tmp_path / "filtered.json"
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("slash")
        await replace_input(pilot, "line_total > 1000")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("slash")
        await replace_input(pilot, "line_total =")
        await pilot.press("enter")
        await settle(pilot)
        screen = app.main_screen
        panel = screen.query_one(RecordsPanel)
        subtitle_after_error = str(panel.border_subtitle)
        await pilot.press("e")
        await replace_input(pilot, str(target))
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        output = app.session.output_table(app.session.states[0])
        matched = pc.sum(pc.greater(output.column("line_total"), 1000)).as_py()
        assert screen.filter_expression == {"validated_orders": "line_total > 1000"}
        assert subtitle_after_error == f"where line_total > 1000 · {matched} of {output.num_rows} match"
        assert any("line_total > 1000 stays in force" in text for text in notes.messages)
        assert len(json.loads(target.read_text(encoding="utf-8"))) == matched
        assert panel.table.row_count == matched
        assert str(panel.border_subtitle).startswith("where line_total > 1000")


async def test_command_head_clears_filter(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("slash")
        await replace_input(pilot, "line_total > 1000")
        await pilot.press("enter")
        await settle(pilot)
        await enter_command(pilot, settle, "head validated_orders -n 3")
        panel = app.main_screen.query_one(RecordsPanel)
        assert app.main_screen.filter_expression == {}
        assert not str(panel.border_subtitle).startswith("where")


async def test_filter_dialog_edits_current(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("slash")
        await replace_input(pilot, "line_total > 1000")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("slash")
        await pilot.pause()
        field = app.screen.query_one("#prompt-input")
        summary = app.screen.summary
        await pilot.press("space", "a", "n", "d", "space", "q", "u", "a", "n", "t", "i", "t", "y", "space", "greater_than_sign", "space", "1")
        edited = field.value
        assert summary == "Current filter: line_total > 1000"
        assert edited == "line_total > 1000 and quantity > 1"


async def test_pages_move_window(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=250))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        panel = app.main_screen.query_one(RecordsPanel)
        first_title = panel.border_title
        await pilot.press("tab", "tab", "n")
        await settle(pilot)
        second_title = panel.border_title
        assert first_title == "records · validated_orders · 100 of 250"
        assert second_title == "records · validated_orders · 100 of 250 (rows 101–200)"
        assert table_text(panel.table, 0, 1) == "100"


async def test_tail_shows_last_records(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=250))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        table = app.main_screen.query_one(RecordsTable)
        assert table.row_count == 100
        assert table_text(table, 99, 1) == "249"


async def test_export_writes_json_and_csv(app_factory, debug_sql, settle, tmp_path):
    notes = Notifications()
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    json_path = tmp_path / "validated.json"
    csv_path = tmp_path / "validated.csv"
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.press("s")
        await settle(pilot)
        for path in (json_path, csv_path):
            await pilot.press("e")
            assert isinstance(app.screen, PromptScreen)
            await replace_input(pilot, str(path))
            await pilot.press("enter")
            await settle(pilot)
        expected = app.session.output_table(app.session.states[0])
    order_ids = expected.column("order_id").to_pylist()
    from_json = json.loads(json_path.read_text(encoding="utf-8"))
    with csv_path.open(newline="", encoding="utf-8") as handle:
        from_csv = list(csv.DictReader(handle))
    assert [row["order_id"] for row in from_json] == order_ids
    assert [row["line_total"] for row in from_json] == expected.column("line_total").to_pylist()
    assert [row["order_id"] for row in from_csv] == order_ids
    assert [float(row["line_total"]) for row in from_csv] == expected.column("line_total").to_pylist()
    assert any(f"Exported {len(order_ids)} records to {csv_path}" in text for text in notes.messages)


async def test_export_bad_folder_toasts(app_factory, debug_sql, settle, tmp_path):
    notes = Notifications()
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    target = tmp_path / "missing" / "out.json"
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("e")
        await replace_input(pilot, str(target))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert any("does not exist" in text for text in notes.messages)
    assert not target.exists()


async def test_record_detail_shows_message(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        await pilot.press("tab", "tab", "down", "enter")
        await settle(pilot)
        screen = app.screen
        fields = dict(screen.content.fields)
        value = json.loads(screen.content.value)
        expected = app.session.output_table(app.session.states[0])
        assert isinstance(screen, RecordDetailScreen)
        assert fields["topic"] == "test_validated_orders"
        assert fields["offset"] == "1"
        assert value["order_id"] == expected.column("order_id")[1].as_py()


# -- DLQ ---------------------------------------------------------------------------------------


async def test_dlq_panel_lists_entries(app_factory, dlq_sql, settle):
    app = app_factory(dlq_sql)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        entries = app.session.dlq.snapshot()
        panel = app.main_screen.query_one(DeadLetterPanel)
        assert len(entries) > 0
        assert panel.table.row_count == len(entries)
        assert panel.border_title == f"DLQ · {len(entries)}"
        assert table_text(panel.table, 0, 3) == entries[0].error_type


async def test_dlq_detail_shows_context(app_factory, dlq_sql, settle):
    app = app_factory(dlq_sql)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("tab", "tab", "tab")
        assert isinstance(app.focused, DeadLetterTable)
        await pilot.press("enter")
        await settle(pilot)
        entry = app.session.dlq.snapshot()[0]
        fields = dict(app.screen.content.fields)
        assert isinstance(app.screen, RecordDetailScreen)
        assert fields["statement"] == entry.statement
        assert fields["stage"] == entry.stage
        assert fields["error type"] == entry.error_type
        assert fields["field"] == entry.field
        assert fields["message"] == entry.message
        assert fields["source topic"] == entry.topic
        assert fields["offset"] == str(entry.offset)
        assert fields["fault tag"] == entry.fault
        assert fields["recoverable"] == ("yes" if entry.recoverable else "no")
        assert fields["failed at"] == "not shown"


# -- responsiveness and cancel -----------------------------------------------------------------


async def test_long_step_stays_responsive(app_factory, debug_sql, settle):
    topics_moved = asyncio.Event()
    progress_seen = asyncio.Event()

    def watch(message) -> None:
        if isinstance(message, StatementProgress) and message.event.kind == "batch":
            progress_seen.set()
        if isinstance(message, TopicsLoaded):
            raw = next(info for info in message.topics if info.name == "test_raw_orders")
            if raw.partitions and raw.partitions[0].high > 0:
                topics_moved.set()

    app = app_factory(debug_sql, SessionOptions(records=1_000_000))
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await pilot.press("s")
        await asyncio.wait_for(topics_moved.wait(), timeout=120)
        await asyncio.wait_for(progress_seen.wait(), timeout=120)
        topics_text = table_text(app.main_screen.query_one(TopicsPanel), 0, 3)
        await pilot.press("question_mark")
        help_opened = isinstance(app.screen, HelpScreen)
        still_running = app.session.states[0].status == RUNNING
        await pilot.press("escape")
        await pilot.press("x")
        await settle(pilot)
        first = app.session.states[0]
        assert help_opened
        assert still_running
        assert int(topics_text) > 0
        assert first.status == NOT_RUN
        assert first.error == "cancelled"
        assert app.main_screen.running is False


async def test_step_after_cancel_runs(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    app.session.cancel()  # a cancel left over from an earlier run must not stop the next step
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        assert app.session.states[0].status == OK


@pytest.mark.parametrize("size", [SIZE, (80, 24)])
async def test_toast_leaves_dlq_visible(app_factory, dlq_sql, settle, size):
    app = app_factory(dlq_sql)
    async with app.run_test(size=size, notifications=True) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        toasts = list(app.screen.query("Toast"))
        dlq_table = app.main_screen.query_one(DeadLetterTable)
        command_bar = app.main_screen.query_one("#command-bar")
        assert toasts
        assert not any(toast.region.overlaps(dlq_table.region) for toast in toasts)
        assert not any(toast.region.overlaps(command_bar.region) for toast in toasts)


@pytest.mark.parametrize("size", [SIZE, (90, 24), (80, 24)])
async def test_footer_palette_key_reaches_edge(app_factory, debug_sql, size):
    app = app_factory(debug_sql)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        palette_key = app.main_screen.query_one("Footer FooterKey.-command-palette")
        assert palette_key.region.right == size[0]


# -- errors, keys, palette, quit ---------------------------------------------------------------


async def test_broker_error_opens_error_dialog(app_factory, tricky_sql, settle, failing_broker):
    app = app_factory(tricky_sql, SessionOptions(broker=failing_broker))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ErrorScreen)
        assert screen.error_title == "broker error"
        assert "notes_out" in screen.message
        assert "failed" in statement_lines(app)[0]


async def test_help_lists_every_binding(app_factory, debug_sql):
    app = app_factory(debug_sql)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        keys = dict(app.screen.keys)
        assert isinstance(app.screen, HelpScreen)
        for key in ("s", "c", "r", "b", "h", "t", "/", "e", "enter", ":", "?", "q", "tab"):
            assert key in keys


async def test_help_lists_each_key_once(app_factory, debug_sql):
    app = app_factory(debug_sql)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        keys = [key for key, _ in app.screen.keys]
        assert keys.count("enter") == 1
        assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("size", [SIZE, (80, 24)])
async def test_help_shows_how_to_close(app_factory, debug_sql, size):
    app = app_factory(debug_sql)
    async with app.run_test(size=size) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        dialog = app.screen.query_one("#help-dialog")
        hint = app.screen.query(".dialog-help").last()
        assert "escape close" in str(hint.render())
        assert dialog.region.contains_region(hint.region)


async def test_palette_offers_every_action(app_factory, debug_sql):
    app = app_factory(debug_sql)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for binding in [*MainScreen.BINDINGS, *(b for b in RecordsTable.BINDINGS if b.key != "enter")]:
            assert any(title.lower().startswith(binding.description) for title in titles), binding.id


def test_bindings_have_ids():
    ids = [binding.id for binding in MainScreen.BINDINGS]
    assert all(ids)
    assert len(set(ids)) == len(ids)


async def test_tab_cycles_panels(app_factory, debug_sql):
    app = app_factory(debug_sql)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        seen = [type(app.focused)]
        for _ in range(4):
            await pilot.press("tab")
            seen.append(type(app.focused))
        assert seen == [StatementsPanel, TopicsPanel, RecordsTable, DeadLetterTable, StatementsPanel]


async def test_colon_focuses_command_bar(app_factory, debug_sql):
    app = app_factory(debug_sql)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon")
        focused_id = app.focused.id
        await pilot.press("escape")
        assert focused_id == "command-bar"
        assert isinstance(app.focused, StatementsPanel)


async def test_command_bar_step(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon")
        await type_text(pilot, "step")
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.states[0].status == OK


async def test_q_quits(app_factory, debug_sql):
    app = app_factory(debug_sql)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0
    assert app.is_running is False


async def test_unknown_break_exits_with_2(app_factory, debug_sql):
    app = app_factory(debug_sql, breakpoints=("no_such_statement",))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
    assert app.return_code == 2
    assert "no_such_statement" in app.startup_error


def test_run_app_missing_file_returns_2(tmp_path, capsys):
    args = build_parser().parse_args([str(tmp_path / "missing.sql")])
    code = run_app(args)
    assert code == 2
    assert "missing.sql" in capsys.readouterr().err


# -- record text -------------------------------------------------------------------------------


async def test_tricky_text_renders_literally(app_factory, tricky_sql, settle):
    app = app_factory(tricky_sql)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        table = app.main_screen.query_one(RecordsTable)
        notes = [column_text(table, row, "field:note") for row in range(table.row_count)]
        assert column_text(table, 0, "field:tag") == "[red]k1"
        assert notes[0] == "[bold]x"
        assert notes[1] == "[/"
        assert notes[2] == "rocket 🚀 party 🎉"
        assert notes[3] == "漢字テキスト中文"
        assert notes[4] == "שלום עולם"
        assert notes[5].startswith("bell\\x07 esc\\x1b[31m t")
        assert notes[6].endswith("…")
        assert len(notes[6]) < 300


async def test_tricky_detail_keeps_full_value(app_factory, tricky_sql, settle):
    app = app_factory(tricky_sql)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        await pilot.press("tab", "tab", *["down"] * 6, "enter")
        await settle(pilot)
        value = json.loads(app.screen.content.value)
        assert isinstance(app.screen, RecordDetailScreen)
        assert value["note"] == "x" * 300


# -- command bar -------------------------------------------------------------------------------


async def enter_command(pilot, settle, line: str) -> None:
    await pilot.press("colon")
    pilot.app.focused.value = line
    await pilot.press("enter")
    await settle(pilot)


async def test_command_bar_sets_breakpoint(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await enter_command(pilot, settle, "b enriched_orders")
        assert "enriched_orders" in app.breakpoints
        assert statement_lines(app)[1].startswith("●")


async def test_command_bar_head_fills_records(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await enter_command(pilot, settle, "s")
        await enter_command(pilot, settle, "head validated_orders -n 3")
        panel = app.main_screen.query_one(RecordsPanel)
        assert panel.table.row_count == 3
        assert panel.border_title == f"records · validated_orders · 3 of {RECORDS}"


async def test_command_bar_topics_opens_output(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await enter_command(pilot, settle, "topics")
        screen = app.screen
        assert isinstance(screen, CommandOutputScreen)
        assert [row[0] for row in screen.rows][0] == "test_raw_orders"


async def test_command_output_keeps_lines(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await enter_command(pilot, settle, "s")
        await enter_command(pilot, settle, "inspect 1")
        screen = app.screen
        body = screen.query_one("#output-body Static")
        console = Console(width=body.size.width, file=io.StringIO(), record=True)
        console.print(body.content)
        shown = console.export_text().splitlines()
        assert isinstance(screen, CommandOutputScreen)
        assert shown[0] == screen.lines[0]
        assert shown[1] == screen.lines[1]
        assert shown[2] == screen.lines[2]


async def test_command_help_wraps_description(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    description = next(spec.description for spec in COMMANDS if spec.name == "filter")
    async with app.run_test(size=SIZE) as pilot:
        await enter_command(pilot, settle, "help filter")
        body = app.screen.query_one("#output-body Static")
        console = Console(width=body.size.width, file=io.StringIO(), record=True)
        console.print(body.content)
        shown = " ".join(console.export_text().split())
        assert isinstance(app.screen, CommandOutputScreen)
        assert " ".join(description.split()) in shown


async def test_command_bar_bad_command_toasts(app_factory, debug_sql, settle):
    notes = Notifications()
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE, message_hook=notes) as pilot:
        await enter_command(pilot, settle, "frobnicate now")
        assert isinstance(app.screen, MainScreen)
        assert any("frobnicate" in text for text in notes.messages)


async def test_command_bar_dlq_record(app_factory, dlq_sql, settle):
    app = app_factory(dlq_sql)
    async with app.run_test(size=SIZE) as pilot:
        await enter_command(pilot, settle, "s")
        await enter_command(pilot, settle, "record dlq 1")
        entry = app.session.dlq.snapshot()[0]
        fields = dict(app.screen.content.fields)
        assert isinstance(app.screen, RecordDetailScreen)
        assert fields["error type"] == entry.error_type
        assert fields["failed at"] == "not shown"


async def test_palette_step_runs(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Step (s)")
        await command.callback()
        await settle(pilot)
        assert app.session.states[0].status == OK


async def test_q_while_running_stops_engine(app_factory, debug_sql):
    started = asyncio.Event()

    def watch(message) -> None:
        if isinstance(message, StatementProgress) and message.event.kind == "batch":
            started.set()

    app = app_factory(debug_sql, SessionOptions(records=1_000_000))
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await pilot.press("s")
        await asyncio.wait_for(started.wait(), timeout=120)
        await pilot.press("q")
    stopped = await asyncio.to_thread(app.engine_idle.wait, 60)
    assert app.return_code == 0
    assert stopped
    assert app.session.states[0].status == NOT_RUN


async def test_run_keys_greyed_when_finished(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        before = screen.check_action("step", ())
        await pilot.press("r")
        await settle(pilot)
        assert before is True
        assert screen.check_action("step", ()) is None
        assert screen.check_action("run", ()) is None
        assert screen.check_action("cancel", ()) is None


async def test_export_dlq_from_panel(app_factory, dlq_sql, settle, tmp_path):
    app = app_factory(dlq_sql)
    target = tmp_path / "dead_letters.csv"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("tab", "tab", "tab", "e")
        await settle(pilot)
        summary = app.screen.summary
        await replace_input(pilot, str(target))
        await pilot.press("enter")
        await settle(pilot)
        entries = app.session.dlq.snapshot()
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert summary == f"DLQ entries ({len(entries)})"
    assert len(rows) == len(entries)
    assert [row["error_type"] for row in rows] == [entry.error_type for entry in entries]


async def test_export_dialog_names_records(app_factory, dlq_sql, settle):
    app = app_factory(dlq_sql)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("slash")
        await replace_input(pilot, "event_type = 'view'")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        records_summary = app.screen.summary
        await pilot.press("escape", "tab", "tab", "tab", "e")
        await settle(pilot)
        dlq_summary = app.screen.summary
        dlq_help = app.screen.help_text
        output = app.session.output_table(app.session.states[0])
        views = pc.sum(pc.equal(output.column("event_type"), "view")).as_py()
        entries = app.session.dlq.snapshot()
        assert records_summary == f"records of processed_events where event_type = 'view' ({views} records)"
        assert dlq_summary == f"DLQ entries ({len(entries)})"
        assert "filter on processed_events does not apply" in dlq_help


async def test_palette_shows_spec_warnings(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Warnings")
        command.callback()
        await settle(pilot)
        header = str(app.main_screen.query_one("#session-header").render())
        assert isinstance(app.screen, CommandOutputScreen)
        assert app.screen.lines == app.session.warnings
        assert f"{len(app.session.warnings)} warning" in header


async def test_head_of_highlighted_topic(app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("tab", "h")
        await settle(pilot)
        panel = app.main_screen.query_one(RecordsPanel)
        assert isinstance(app.focused, TopicsPanel)
        assert panel.border_title == f"records · test_raw_orders · {RECORDS} of {RECORDS}"

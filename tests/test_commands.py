"""Tests of the debug command interpreter, command by command, on real sessions of the
debug-mode pipeline and the DLQ example."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from velo_tui.commands import COMMANDS, CommandInterpreter
from velo_tui.engine.session import Session, SessionOptions

CORPUS = Path("/work/shared/corpus/velostream/tier8_fault_tolerance")
DEBUG_SQL = CORPUS / "73_debug_mode.sql"
DLQ_SQL = CORPUS / "70_dlq_basic.sql"


@pytest.fixture
def session() -> Session:
    opened = Session(DEBUG_SQL, SessionOptions(records=20))
    yield opened
    opened.close()


@pytest.fixture
def interpreter(session: Session) -> CommandInterpreter:
    return CommandInterpreter(session)


@pytest.fixture(scope="module")
def finished() -> CommandInterpreter:
    opened = Session(DEBUG_SQL, SessionOptions(records=20))
    interpreter = CommandInterpreter(opened)
    interpreter.execute("run")
    yield interpreter
    opened.close()


@pytest.fixture(scope="module")
def dlq_interpreter() -> CommandInterpreter:
    opened = Session(DLQ_SQL)
    interpreter = CommandInterpreter(opened)
    interpreter.execute("r")
    yield interpreter
    opened.close()


STEP_LINE = re.compile(
    r"Statement 1: validated_orders completed \(20 records in, 20 out, 0 filtered, 0 DLQ\) in \d+\.\d\d s"
)


# -- running ---------------------------------------------------------------------------------


def test_step_runs_first(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("s")
    assert result.kind == "step"
    assert result.ok
    assert STEP_LINE.fullmatch(result.lines[0])
    assert [state.name for state in result.states] == ["validated_orders"]


def test_step_long_name(interpreter: CommandInterpreter) -> None:
    assert STEP_LINE.fullmatch(interpreter.execute("step").lines[0])


def test_step_rejects_arguments(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("step 2")
    assert result.kind == "error"
    assert not result.ok


def test_step_after_all_ran(finished: CommandInterpreter) -> None:
    result = finished.execute("s")
    assert result.kind == "message"
    assert result.ok
    assert "nothing left to step" in result.lines[0]


@pytest.mark.parametrize("command", ["c", "r"])
def test_continue_run_after_all_ran(finished: CommandInterpreter, command: str) -> None:
    result = finished.execute(command)
    assert result.kind == "message"
    assert len(result.lines) == 1


def test_continue_stops_at_spec_breakpoint(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("c")
    assert [state.name for state in result.states] == ["validated_orders"]
    assert result.lines[-1] == "Hit breakpoint: validated_orders"


def test_continue_stops_at_set_breakpoint(interpreter: CommandInterpreter) -> None:
    interpreter.execute("s")
    interpreter.execute("b enriched_orders")
    result = interpreter.execute("continue")
    assert [state.name for state in result.states] == ["enriched_orders"]
    assert "Hit breakpoint: enriched_orders" in result.lines


def test_continue_without_breakpoints(interpreter: CommandInterpreter) -> None:
    interpreter.execute("cb")
    result = interpreter.execute("c")
    assert len(result.states) == 3
    assert result.lines[-1] == "All 3 statements have run."


def test_run_runs_rest(interpreter: CommandInterpreter, session: Session) -> None:
    result = interpreter.execute("run")
    assert len(result.lines) == 4
    assert session.finished


def test_breakpoints_from_argument(session: Session) -> None:
    interpreter = CommandInterpreter(session, {"final_orders"})
    assert interpreter.breakpoints == {"validated_orders", "final_orders"}


# -- breakpoints ---------------------------------------------------------------------------------


def test_break_by_number(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("b 3")
    assert result.lines == ["Breakpoint set on 'final_orders'"]
    assert "final_orders" in interpreter.breakpoints


def test_break_unknown_statement(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("break nope")
    assert result.kind == "error"
    assert "validated_orders, enriched_orders, final_orders" in result.lines[0]


def test_break_lists_without_argument(interpreter: CommandInterpreter) -> None:
    assert interpreter.execute("b").lines == ["Breakpoints: validated_orders"]


def test_unbreak_removes(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("u validated_orders")
    assert result.lines == ["Breakpoint removed from 'validated_orders'"]
    assert interpreter.breakpoints == set()


def test_unbreak_without_breakpoint(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("unbreak 2")
    assert result.ok
    assert "has no breakpoint" in result.lines[0]


def test_clear_removes_all(interpreter: CommandInterpreter) -> None:
    interpreter.execute("b 2")
    result = interpreter.execute("clear")
    assert result.lines == ["Removed 2 breakpoint(s)"]
    assert interpreter.breakpoints == set()


# -- state ----------------------------------------------------------------------------------------


def test_list_before_run(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("l")
    assert result.kind == "statements"
    assert result.lines[0].startswith(">* 1. [ ] validated_orders")
    assert result.lines[1].endswith("not run")


def test_list_after_step(interpreter: CommandInterpreter) -> None:
    interpreter.execute("s")
    lines = interpreter.execute("list").lines
    assert " 1. [x] validated_orders  ok  20 out" in lines[0]
    assert lines[1].startswith("> ")
    assert lines[0].startswith(" *")


def test_list_table(interpreter: CommandInterpreter) -> None:
    interpreter.execute("s")
    table = interpreter.execute("l").table
    assert table.rows[0][2:6] == ["validated_orders", "ok", "20", "20"]
    assert table.rows[0][-1] == "test_validated_orders"


def test_status_one_line(interpreter: CommandInterpreter) -> None:
    interpreter.execute("s")
    result = interpreter.execute("st")
    assert result.kind == "status"
    assert len(result.lines) == 1
    assert "1/3 statements run" in result.lines[0]
    assert "paused after validated_orders" in result.lines[0]
    assert "breakpoints: validated_orders" in result.lines[0]


def test_status_finished(finished: CommandInterpreter) -> None:
    assert "state: finished · 3/3 statements run" in finished.execute("status").lines[0]


def test_inspect_statement(finished: CommandInterpreter) -> None:
    result = finished.execute("i enriched_orders")
    assert result.kind == "inspect"
    assert "Records: 20 in, 20 out, 0 filtered, 0 DLQ, 0 dropped" in result.lines
    assert "Sink topic: test_enriched_orders (20 messages)" in result.lines
    assert any(line.startswith("Fields: order_id, customer_id") for line in result.lines)
    assert len(result.page.rows) == 5


def test_inspect_by_number(finished: CommandInterpreter) -> None:
    assert finished.execute("inspect 1").title == "inspect: validated_orders"


def test_inspect_needs_statement(finished: CommandInterpreter) -> None:
    result = finished.execute("i")
    assert result.kind == "error"
    assert "usage: inspect <stmt>" in result.lines[0]


# -- topics and records -----------------------------------------------------------------------------


def test_topics_watermarks(finished: CommandInterpreter) -> None:
    result = finished.execute("topics")
    rows = {row[0]: row for row in result.table.rows}
    assert rows["test_raw_orders"][1:] == ["source", "0", "0", "20", "20"]
    assert rows["test_final_orders"][1:] == ["sink", "0", "0", "20", "20"]


def test_schema_fields(finished: CommandInterpreter) -> None:
    result = finished.execute("schema final_orders")
    assert ["routing_key", "VARCHAR"] in result.table.rows
    assert result.kind == "schema"


def test_schema_of_topic(finished: CommandInterpreter) -> None:
    result = finished.execute("schema test_raw_orders")
    assert ["status", "VARCHAR"] in result.table.rows


@pytest.mark.parametrize("line", ["head 1 -n 3", "head validated_orders -n3", "head 1 -n=3", "head 1 3"])
def test_head_count_forms(finished: CommandInterpreter, line: str) -> None:
    result = finished.execute(line)
    assert result.kind == "records"
    assert len(result.page.rows) == 3


def test_head_default_ten(finished: CommandInterpreter) -> None:
    result = finished.execute("head enriched_orders")
    assert len(result.table.rows) == 10
    assert result.title == "head enriched_orders: 10 of 20 records"


def test_tail_last_offsets(finished: CommandInterpreter) -> None:
    result = finished.execute("tail final_orders -n 2")
    assert [row["_offset"] for row in result.page.rows] == [18, 19]


@pytest.mark.parametrize("line", ["head", "head 1 -n 0", "head 1 -n x", "head 1 -n", "head 1 extra"])
def test_head_bad_arguments(finished: CommandInterpreter, line: str) -> None:
    result = finished.execute(line)
    assert result.kind == "error"
    assert len(result.lines) == 1


def test_head_unknown_target(finished: CommandInterpreter) -> None:
    result = finished.execute("head nope")
    assert result.kind == "error"
    assert "no statement or topic named 'nope'" in result.lines[0]


def test_filter_matches(finished: CommandInterpreter) -> None:
    expected = finished.views.count("enriched_orders", "quantity > 50")
    result = finished.execute("filter enriched_orders quantity > 50")
    assert result.page.matched == expected
    assert all(row["quantity"] > 50 for row in result.page.rows)


def test_filter_row_limit(finished: CommandInterpreter) -> None:
    result = finished.execute("filter 2 -n 2 quantity > 0")
    assert len(result.page.rows) == 2
    assert result.page.matched == 20


def test_filter_unknown_field(finished: CommandInterpreter) -> None:
    result = finished.execute("filter 2 prise > 3")
    assert result.kind == "error"
    assert "unknown field 'prise'" in result.lines[0]


def test_filter_missing_expression(finished: CommandInterpreter) -> None:
    result = finished.execute("filter 2")
    assert result.kind == "error"
    assert "usage: filter" in result.lines[0]


def test_export_csv(finished: CommandInterpreter, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    result = finished.execute(f"export final_orders {path} quantity > 50")
    expected = finished.views.count("final_orders", "quantity > 50")
    loaded = duckdb.connect().execute("SELECT count(*) FROM read_csv(?)", [str(path)]).fetchall()[0][0]
    assert result.kind == "export"
    assert loaded == expected
    assert result.lines == [f"Wrote {expected} records of final_orders matching quantity > 50 to {path}"]


def test_export_quoted_path(finished: CommandInterpreter, tmp_path: Path) -> None:
    path = tmp_path / "with space.jsonl"
    result = finished.execute(f"export 1 '{path}'")
    assert result.ok
    assert len(path.read_text().splitlines()) == 20


def test_export_bad_suffix(finished: CommandInterpreter, tmp_path: Path) -> None:
    result = finished.execute(f"export 1 {tmp_path / 'out.txt'}")
    assert result.kind == "error"
    assert ".parquet" in result.lines[0]


def test_record_detail(finished: CommandInterpreter) -> None:
    result = finished.execute("record final_orders 0 4")
    assert result.kind == "record"
    assert result.detail.offset == 4
    assert "value:" in result.lines


def test_record_bad_offset(finished: CommandInterpreter) -> None:
    result = finished.execute("record final_orders 0 x")
    assert result.kind == "error"
    assert "offset 'x'" in result.lines[0]


# -- DLQ ----------------------------------------------------------------------------------------------


def test_dlq_lists_entries(dlq_interpreter: CommandInterpreter) -> None:
    entries = dlq_interpreter.session.dlq.snapshot()
    result = dlq_interpreter.execute("dlq")
    assert result.kind == "dlq"
    assert [row[2] for row in result.table.rows] == [entry.stage for entry in entries]
    assert result.lines[0] == f"{len(entries)} entries stored, 0 dropped"


def test_dlq_by_statement(dlq_interpreter: CommandInterpreter) -> None:
    result = dlq_interpreter.execute("dlq processed_events")
    assert result.page.matched == dlq_interpreter.session.dlq.count
    assert result.title.startswith("dlq of processed_events")


def test_dlq_unknown_statement(dlq_interpreter: CommandInterpreter) -> None:
    assert dlq_interpreter.execute("dlq nope").kind == "error"


def test_dlq_record_context(dlq_interpreter: CommandInterpreter) -> None:
    entry = dlq_interpreter.session.dlq.snapshot()[0]
    result = dlq_interpreter.execute("record dlq 1")
    assert f"stage: {entry.stage}" in result.lines
    assert f"error type: {entry.error_type}" in result.lines


# -- other --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["q", "quit", "exit", "Q"])
def test_quit_aliases(interpreter: CommandInterpreter, line: str) -> None:
    assert interpreter.execute(line).kind == "quit"


@pytest.mark.parametrize("line", ["h", "help", "?"])
def test_help_lists_every_command(interpreter: CommandInterpreter, line: str) -> None:
    result = interpreter.execute(line)
    text = "\n".join(result.lines)
    for spec in COMMANDS:
        assert spec.name in text


def test_help_one_command(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("help tail")
    assert len(result.table.rows) == 1
    assert result.table.rows[0][0] == "tail <stmt|topic> [-n N]"


def test_unknown_command(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("stpe")
    assert result.kind == "error"
    assert result.lines == ["unknown command 'stpe' (did you mean step?); type help to list the commands"]


def test_unclosed_quote(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("export 1 'open.csv")
    assert result.kind == "error"
    assert "close the quote" in result.lines[0]


def test_empty_line(interpreter: CommandInterpreter) -> None:
    result = interpreter.execute("   ")
    assert result.ok
    assert result.lines == []

"""End-to-end tests of `velo-tui FILE.sql --repl`: commands on standard input, output in order."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from velo_tui.commands import CommandResult, ResultTable
from velo_tui.repl import PlainOutput, RichOutput, plain_table

CORPUS = Path("/work/shared/corpus/velostream/tier8_fault_tolerance")
DEBUG_SQL = CORPUS / "73_debug_mode.sql"
DLQ_SQL = CORPUS / "70_dlq_basic.sql"

README_SESSION = ["l", "s", "head validated_orders", "b enriched_orders", "c", "i enriched_orders"]


def run_repl(sql: Path, commands: list[str], *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "velo_tui", str(sql), "--repl", *options],
        input="\n".join(commands) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )


def headers(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("== ")]


def test_readme_session_exit_code() -> None:
    assert run_repl(DEBUG_SQL, README_SESSION).returncode == 0


def test_readme_session_order() -> None:
    result = run_repl(DEBUG_SQL, README_SESSION)
    assert headers(result.stdout) == [
        "== list: 3 statements",  # printed at start-up
        "== list: 3 statements",
        "== step: validated_orders",
        "== head validated_orders: 10 of 10 records",
        "== break",
        "== continue: enriched_orders",
        "== inspect: enriched_orders",
    ]


def test_readme_session_content() -> None:
    stdout = run_repl(DEBUG_SQL, README_SESSION).stdout
    assert "Hit breakpoint: enriched_orders" in stdout
    assert "Breakpoint set on 'enriched_orders'" in stdout
    assert "Statement 1: validated_orders completed (10 records in, 10 out, 0 filtered, 0 DLQ)" in stdout
    assert "Fields: order_id, customer_id, product_id, quantity, unit_price, line_total, order_tier, " \
           "order_type, event_time" in stdout


def test_readme_session_breakpoint_after_step() -> None:
    stdout = run_repl(DEBUG_SQL, README_SESSION).stdout
    assert stdout.index("Statement 2: enriched_orders completed") < stdout.index("Hit breakpoint: enriched_orders")


def test_startup_prints_seed_and_statements() -> None:
    stdout = run_repl(DEBUG_SQL, []).stdout
    assert "seed 0" in stdout
    assert "3. [ ] final_orders" in stdout


def test_seed_option_printed() -> None:
    assert "seed 7" in run_repl(DEBUG_SQL, [], "--seed", "7").stdout


def test_no_prompt_without_terminal() -> None:
    assert "(debug)" not in run_repl(DEBUG_SQL, README_SESSION).stdout


def test_dlq_session_lists_stages() -> None:
    result = run_repl(DLQ_SQL, ["r", "dlq"])
    lines = result.stdout.splitlines()
    start = lines.index("== dlq: 3 entries")
    table = lines[start + 1:]
    assert result.returncode == 0
    assert table[0] == "3 entries stored, 0 dropped"
    assert any("validate" in line and "missing_field" in line for line in table)
    assert any("validate" in line and "wrong_type" in line for line in table)


def test_quit_stops_reading() -> None:
    result = run_repl(DEBUG_SQL, ["q", "s"])
    assert headers(result.stdout)[-1] == "== quit"
    assert "== step" not in result.stdout


def test_bad_command_continues() -> None:
    result = run_repl(DEBUG_SQL, ["nope", "head", "st"])
    assert result.returncode == 0
    assert "error: unknown command 'nope'; type help to list the commands" in result.stdout
    assert "error: usage: head <stmt|topic> [-n N], e.g. head 1 -n 5" in result.stdout
    assert headers(result.stdout)[-1] == "== status"


def test_step_after_all_ran_is_message() -> None:
    result = run_repl(DEBUG_SQL, ["r", "s"])
    assert result.returncode == 0
    assert "nothing left to step" in result.stdout


def test_break_option_sets_breakpoint() -> None:
    result = run_repl(DEBUG_SQL, ["st"], "--break", "final_orders")
    assert "breakpoints: validated_orders, final_orders" in result.stdout


def test_break_option_unknown_statement() -> None:
    result = run_repl(DEBUG_SQL, ["st"], "--break", "nope")
    assert result.returncode == 2
    assert "no statement named 'nope'" in result.stderr


def test_repl_on_terminal_prompts_and_draws() -> None:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "velo_tui", str(DEBUG_SQL), "--repl"],
        stdin=follower, stdout=follower, stderr=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200", "TERM": "xterm"},
    )
    os.close(follower)
    os.write(leader, b"topics\nq\n")
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process exits
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert process.wait(timeout=60) == 0
    output = b"".join(chunks).decode("utf-8", "replace")
    assert "(debug) " in output
    assert "┌" in output
    assert "test_raw_orders" in output


def test_rich_output_keeps_markup_text() -> None:
    stream = io.StringIO()
    result = CommandResult("records", "head x: 1 of 1 records", [],
                           table=ResultTable(["note"], [["[bold]literal[/bold] [red]"]]))
    RichOutput(stream).show(result)
    assert "[bold]literal[/bold] [red]" in stream.getvalue()


def test_plain_output_error_line() -> None:
    stream = io.StringIO()
    PlainOutput(stream).show(CommandResult("error", "head: error", ["bad"], ok=False))
    assert stream.getvalue() == "== head: error\nerror: bad\n"


def test_plain_table_aligns() -> None:
    lines = plain_table(ResultTable(["a", "long name"], [["xyz", "1"], ["q", "22"]]))
    assert lines == ["a    long name", "---  ---------", "xyz  1", "q    22"]


def test_plain_table_clips_long_cells() -> None:
    lines = plain_table(ResultTable(["v"], [["x" * 100]]))
    assert lines[2] == "x" * 59 + "…"

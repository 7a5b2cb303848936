"""`velo-tui FILE.sql --repl`: the line-mode debugger, reading debug commands from standard input.

Each command's output starts with a header line (`== <title>` in plain text), so a script that
feeds commands can follow the session. On a terminal, tables are drawn with rich; record text
is always passed as `rich.text.Text`, never parsed as markup. Without a terminal the output is
plain aligned text. End of input quits, like `q`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TextIO

from velo_tui.cli import EXIT_FAILED, EXIT_OK, session_options
from velo_tui.commands import CommandInterpreter, CommandResult, ResultTable
from velo_tui.engine.session import Session

log = logging.getLogger(__name__)

PROMPT = "(debug) "

#: Result kinds whose lines only repeat their table, so the table is shown instead.
TABLE_ONLY = ("topics", "schema")

#: Result kinds whose lines summarise and whose table follows them.
TABLE_AFTER_LINES = ("records", "inspect", "dlq")

#: Widest cell in plain-text tables; longer text is cut with an ellipsis.
MAX_CELL_WIDTH = 60


def run_repl(args: argparse.Namespace) -> int:
    """Open the session, then run commands from standard input until `q` or end of input."""
    session = Session(args.sql_file, session_options(args))
    try:
        names = {session.pipeline.statement(name).name for name in args.breakpoints}
        interpreter = CommandInterpreter(session, names)
        for warning in session.warnings:
            print(f"velo-tui: warning: {warning}", file=sys.stderr)

        output = RichOutput(sys.stdout) if sys.stdout.isatty() else PlainOutput(sys.stdout)
        output.banner([
            f"velo-tui debugger: {session.pipeline.application} ({session.sql_path})",
            f"seed {session.seed} · {session.broker.description}",
        ])
        output.show(interpreter.execute("list"))
        output.banner(["Type help for the commands, q to quit."])

        _read_commands(interpreter, output, sys.stdin)
    finally:
        session.close()
    return EXIT_FAILED if session.failed else EXIT_OK


def _read_commands(interpreter: CommandInterpreter, output: PlainOutput, stream: TextIO) -> None:
    interactive = stream.isatty()
    if interactive:
        _enable_line_editing()
    while True:
        if interactive:
            try:
                line = input(PROMPT)
            except EOFError:
                print(file=sys.stdout)
                return
        else:
            line = stream.readline()
            if not line:
                return
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        result = interpreter.execute(line)
        output.show(result)
        if result.kind == "quit":
            return


def _enable_line_editing() -> None:
    """Load readline for line editing and history; `input()` then writes its prompt to stdout.

    Without readline, CPython 3.11's `input()` writes the prompt to standard error.
    """
    try:
        import readline  # noqa: F401 - imported for its effect on input()
    except ImportError:
        log.debug("readline is not available; the prompt has no line editing")


class PlainOutput:
    """Writes results as plain aligned text."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def banner(self, lines: list[str]) -> None:
        for line in lines:
            self.stream.write(line + "\n")
        self.stream.flush()

    def show(self, result: CommandResult) -> None:
        self.stream.write(f"== {result.title or result.kind}\n")
        for line in self.body(result):
            self.stream.write(line + "\n")
        self.stream.flush()

    def body(self, result: CommandResult) -> list[str]:
        if result.kind == "error":
            return [f"error: {line}" for line in result.lines]
        if result.table is not None and result.kind in TABLE_ONLY and result.table.rows:
            return plain_table(result.table)
        lines = list(result.lines)
        if result.table is not None and result.kind in TABLE_AFTER_LINES:
            lines.extend(plain_table(result.table))
        return lines


class RichOutput(PlainOutput):
    """Writes results with rich: bold headers and boxed tables; record text is never markup."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        from rich.console import Console

        self.console = Console(file=stream, highlight=False, markup=False, emoji=False)

    def banner(self, lines: list[str]) -> None:
        from rich.text import Text

        for line in lines:
            self.console.print(Text(line))

    def show(self, result: CommandResult) -> None:
        from rich.text import Text

        style = "bold red" if result.kind == "error" else "bold"
        self.console.print(Text(result.title or result.kind, style=style))
        if result.kind == "error":
            for line in result.lines:
                self.console.print(Text(f"error: {line}", style="red"))
            return
        table = result.table if result.table is not None and result.table.rows else None
        if table is not None and result.kind in (*TABLE_ONLY, "help"):
            self.console.print(rich_table(table))
            return
        for line in result.lines:
            self.console.print(Text(line))
        if table is not None and result.kind in TABLE_AFTER_LINES:
            self.console.print(rich_table(table))


def rich_table(data: ResultTable):
    """Build a rich Table from `data`; every header and cell is a Text, so no markup is parsed."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SQUARE, highlight=False)
    for column in data.columns:
        table.add_column(Text(column), overflow="ellipsis", no_wrap=True)
    for row in data.rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def plain_table(data: ResultTable) -> list[str]:
    """Lay out `data` as aligned text columns separated by two spaces, with a header row."""
    if not data.rows:
        return []
    cells = [[_clip(cell) for cell in row] for row in data.rows]
    widths = [len(column) for column in data.columns]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = ["  ".join(name.ljust(widths[i]) for i, name in enumerate(data.columns)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    for row in cells:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return lines


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CELL_WIDTH else text[: MAX_CELL_WIDTH - 1] + "…"

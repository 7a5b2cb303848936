"""The debug command interpreter shared by the debugger's command bar and the `--repl` face.

`CommandInterpreter.execute` takes one command line (`step`, `head orders -n 5`, `filter 2
price>100`, ...) and returns a `CommandResult`: plain lines, an optional table and record page,
and whether the command succeeded. It prints nothing and imports no UI library, so each face
renders results its own way. Breakpoints live here, as a set of statement names the face owns.
"""

from __future__ import annotations

import difflib
import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from velo_tui.engine.errors import BrokerError, Cancelled, InputError
from velo_tui.engine.session import FAILED, NOT_RUN, OK, RUNNING, SessionEvent, StatementState
from velo_tui.engine.views import RecordDetail, RecordPage, TopicViews, display_text

log = logging.getLogger(__name__)

DEFAULT_HEAD_ROWS = 10
DEFAULT_FILTER_ROWS = 20
DEFAULT_DLQ_ROWS = 50
INSPECT_ROWS = 5


@dataclass
class ResultTable:
    """Tabular output: column names and rows of cell text (never markup)."""

    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class CommandResult:
    """The output of one command, for a face to render."""

    #: statements, step, records, topics, schema, status, message, error, help, quit, inspect,
    #: dlq, export or record
    kind: str
    title: str  # one-line header, e.g. "head enriched_orders: 10 of 300 records"
    lines: list[str] = field(default_factory=list)
    page: RecordPage | None = None
    table: ResultTable | None = None
    ok: bool = True
    detail: RecordDetail | None = None  # the `record` command's record
    states: list[StatementState] = field(default_factory=list)  # statements step/continue/run ran


@dataclass(frozen=True)
class CommandSpec:
    """A command's name, aliases, argument synopsis and one-line description for help."""

    name: str
    aliases: tuple[str, ...]
    usage: str
    description: str


COMMANDS = [
    CommandSpec("step", ("s",), "", "run the next statement over all of its input"),
    CommandSpec("continue", ("c",), "", "run statements until one with a breakpoint has completed"),
    CommandSpec("run", ("r",), "", "run all remaining statements"),
    CommandSpec("break", ("b",), "<stmt>", "set a breakpoint on a statement (no argument: list them)"),
    CommandSpec("unbreak", ("u",), "<stmt>", "remove the breakpoint from a statement"),
    CommandSpec("clear", ("cb",), "", "remove every breakpoint"),
    CommandSpec("list", ("l",), "", "list the statements with their status"),
    CommandSpec("inspect", ("i",), "<stmt>", "show a statement's counts, sink topic, fields and first records"),
    CommandSpec("status", ("st",), "", "show the session state in one line"),
    CommandSpec("topics", (), "", "list every topic with per-partition low and high offsets"),
    CommandSpec("schema", (), "<topic|stmt>", "show the field names and types of a topic"),
    CommandSpec("head", (), "<stmt|topic> [-n N]", "show the first N records (default 10)"),
    CommandSpec("tail", (), "<stmt|topic> [-n N]", "show the last N records (default 10)"),
    CommandSpec("filter", (), "<stmt|topic> [-n N] <expr>",
                "show records matching an expression: price>100, status = 'shipped', tier ~ PREM, "
                "and/or, parentheses"),
    CommandSpec("export", (), "<stmt|topic|dlq> <file> [expr]",
                "write records to .json, .jsonl, .csv or .parquet (optionally only those matching expr)"),
    CommandSpec("dlq", (), "[stmt]", "list the DLQ entries, of one statement when given"),
    CommandSpec("record", (), "<stmt|topic> <partition> <offset>",
                "show one record in full: key, headers, timestamp and pretty JSON; "
                "record dlq <n> shows DLQ entry n with its error context"),
    CommandSpec("quit", ("q", "exit"), "", "leave the debugger"),
    CommandSpec("help", ("h", "?"), "[command]", "list the commands, or describe one"),
]

_BY_WORD = {word: spec for spec in COMMANDS for word in (spec.name, *spec.aliases)}


class CommandError(Exception):
    """A bad command or argument; becomes a one-line error result."""


class CommandInterpreter:
    """Runs debug commands against a session; see the module docstring."""

    def __init__(
        self,
        session,  # velo_tui.engine.session.Session
        breakpoints: set[str] | None = None,
        *,
        views: TopicViews | None = None,
        progress: Callable[[SessionEvent], None] | None = None,
    ) -> None:
        self.session = session
        self.views = views or TopicViews(session)
        self.progress = progress
        self.breakpoints: set[str] = set()
        for name in [*session.breakpoints_from_spec(), *(breakpoints or ())]:
            try:
                self.breakpoints.add(session.pipeline.statement(name).name)
            except InputError as error:
                log.warning("breakpoint ignored: %s", error)
        self._handlers: dict[str, Callable[[str], CommandResult]] = {
            "step": self._step, "continue": self._continue, "run": self._run,
            "break": self._break, "unbreak": self._unbreak, "clear": self._clear,
            "list": self._list, "inspect": self._inspect, "status": self._status,
            "topics": self._topics, "schema": self._schema, "head": self._head, "tail": self._tail,
            "filter": self._filter, "export": self._export, "dlq": self._dlq, "record": self._record,
            "quit": self._quit, "help": self._help,
        }

    def execute(self, line: str) -> CommandResult:
        """Run one command line and return its result; errors become `kind="error"` results."""
        text = line.strip()
        if not text:
            return CommandResult("message", "", [])
        word, _, rest = text.partition(" ")
        spec = _BY_WORD.get(word.lower())
        if spec is None:
            return _error(word, _unknown_command(word))
        try:
            return self._handlers[spec.name](rest.strip())
        except (CommandError, InputError) as error:
            return _error(spec.name, str(error))
        except Cancelled as error:
            return _error(spec.name, f"cancelled: {error}")
        except BrokerError as error:
            log.error("command %r failed: %s", text, error)
            return _error(spec.name, f"broker error: {error}")

    # -- running -------------------------------------------------------------------------------

    def _step(self, rest: str) -> CommandResult:
        _no_arguments("step", rest)
        if self.session.finished:
            return self._nothing_left("step")
        state = self.session.step(self.progress)
        return self._ran("step", [state])

    def _continue(self, rest: str) -> CommandResult:
        _no_arguments("continue", rest)
        if self.session.finished:
            return self._nothing_left("continue")
        states = self.session.continue_(self.breakpoints, self.progress)
        return self._ran("continue", states)

    def _run(self, rest: str) -> CommandResult:
        _no_arguments("run", rest)
        if self.session.finished:
            return self._nothing_left("run")
        states = self.session.run_all(self.progress)
        return self._ran("run", states)

    def _nothing_left(self, command: str) -> CommandResult:
        return CommandResult("message", command, [
            f"Every statement has run, so there is nothing left to {command}; "
            "look at the results with head, tail, filter or inspect, or quit with q."
        ])

    def _ran(self, command: str, states: list[StatementState]) -> CommandResult:
        lines = [self._outcome(state) for state in states]
        last = states[-1] if states else None
        if last is not None and last.status == OK and last.name in self.breakpoints and command == "continue":
            lines.append(f"Hit breakpoint: {last.name}")
        elif self.session.finished:
            lines.append(f"All {len(self.session.states)} statements have run.")
        ok = all(state.status != FAILED for state in states)
        names = ", ".join(state.name for state in states)
        return CommandResult("step", f"{command}: {names}", lines, ok=ok, states=list(states))

    def _outcome(self, state: StatementState) -> str:
        number = self.session.states.index(state) + 1
        if state.status == FAILED:
            return f"Statement {number}: {state.name} failed: {state.error}"
        stats = state.stats
        dropped = f", {stats.dlq_dropped} dropped" if stats.dlq_dropped else ""
        return (
            f"Statement {number}: {state.name} completed ({stats.records_in} records in, "
            f"{stats.records_out} out, {stats.filtered} filtered, {stats.dlq} DLQ{dropped}) "
            f"in {stats.duration_s:.2f} s"
        )

    # -- breakpoints -----------------------------------------------------------------------------

    def _break(self, rest: str) -> CommandResult:
        if not rest:
            names = self._breakpoint_names()
            return CommandResult("message", "breakpoints", [f"Breakpoints: {names}"])
        name = self.session.pipeline.statement(_single_argument("break", rest, "<stmt>")).name
        self.breakpoints.add(name)
        return CommandResult("message", "break", [f"Breakpoint set on '{name}'"])

    def _unbreak(self, rest: str) -> CommandResult:
        name = self.session.pipeline.statement(_single_argument("unbreak", rest, "<stmt>")).name
        if name not in self.breakpoints:
            return CommandResult("message", "unbreak", [f"'{name}' has no breakpoint; nothing removed"])
        self.breakpoints.discard(name)
        return CommandResult("message", "unbreak", [f"Breakpoint removed from '{name}'"])

    def _clear(self, rest: str) -> CommandResult:
        _no_arguments("clear", rest)
        count = len(self.breakpoints)
        self.breakpoints.clear()
        return CommandResult("message", "clear", [f"Removed {count} breakpoint(s)"])

    def _breakpoint_names(self) -> str:
        order = [state.name for state in self.session.states]
        names = sorted(self.breakpoints, key=lambda name: order.index(name) if name in order else len(order))
        return ", ".join(names) or "none"

    # -- session state ---------------------------------------------------------------------------

    def _list(self, rest: str) -> CommandResult:
        _no_arguments("list", rest)
        states = self.session.states
        width = max((len(state.name) for state in states), default=0)
        lines = []
        table = ResultTable(["", "#", "statement", "status", "in", "out", "filtered", "DLQ", "sink topic"])
        for number, state in enumerate(states, 1):
            marker = self._marker(number - 1, state)
            done = "x" if state.status in (OK, FAILED) else " "
            lines.append(f"{marker} {number}. [{done}] {state.name:<{width}}  {self._status_text(state)}")
            ran = state.status != NOT_RUN
            stats = state.stats
            table.rows.append([
                marker.strip(), str(number), state.name, state.status.replace("_", " "),
                str(stats.records_in) if ran else "", str(stats.records_out) if ran else "",
                str(stats.filtered) if ran else "", str(stats.dlq) if ran else "",
                state.statement.sink.topic,
            ])
        title = f"list: {len(states)} statements"
        return CommandResult("statements", title, lines, table=table)

    def _marker(self, index: int, state: StatementState) -> str:
        next_mark = ">" if index == self.session.next_index and not self.session.finished else " "
        break_mark = "*" if state.name in self.breakpoints else " "
        return next_mark + break_mark

    @staticmethod
    def _status_text(state: StatementState) -> str:
        if state.status == OK:
            return f"ok  {state.stats.records_out} out"
        if state.status == FAILED:
            return f"failed: {state.error}"
        if state.status == RUNNING:
            return "running"
        return "not run"

    def _status(self, rest: str) -> CommandResult:
        _no_arguments("status", rest)
        session = self.session
        total = len(session.states)
        done = sum(1 for state in session.states if state.status == OK)
        failed = next((state for state in session.states if state.status == FAILED), None)
        if failed is not None:
            state_text = f"failed at {failed.name}"
        elif session.finished:
            state_text = "finished"
        elif session.next_index == 0:
            state_text = f"ready, next: {session.states[0].name}"
        else:
            state_text = (
                f"paused after {session.states[session.next_index - 1].name}, "
                f"next: {session.states[session.next_index].name}"
            )
        line = (
            f"state: {state_text} · {done}/{total} statements run · "
            f"breakpoints: {self._breakpoint_names()} · DLQ: {session.dlq.count} entries"
        )
        return CommandResult("status", "status", [line])

    def _inspect(self, rest: str) -> CommandResult:
        ref = _single_argument("inspect", rest, "<stmt>")
        statement = self.session.pipeline.statement(ref)
        state = self.session.state(statement.name)
        number = self.session.states.index(state) + 1
        stats = state.stats
        lines = [f"Statement {number}: {state.name}  {state.status.replace('_', ' ')}"]
        if state.error:
            lines.append(f"Error: {state.error}")
        lines.append(
            f"Records: {stats.records_in} in, {stats.records_out} out, {stats.filtered} filtered, "
            f"{stats.dlq} DLQ, {stats.dlq_dropped} dropped"
        )
        lines.append(f"Source topic: {statement.source.topic}")
        page = self.views.head(state.name, INSPECT_ROWS)
        lines.append(f"Sink topic: {statement.sink.topic} ({page.total} messages)")
        lines.append(f"Fields: {', '.join(page.columns) or 'none known yet'}")
        if state.assertions:
            passed = sum(1 for result in state.assertions if result.passed)
            lines.append(f"Assertions: {passed} passed, {len(state.assertions) - passed} failed")
        if page.rows:
            lines.append(f"First {len(page.rows)} records:")
        return CommandResult("inspect", f"inspect: {state.name}", lines, page=page, table=_page_table(page))

    # -- topics and records ------------------------------------------------------------------------

    def _topics(self, rest: str) -> CommandResult:
        _no_arguments("topics", rest)
        table = ResultTable(["topic", "role", "partition", "low", "high", "messages"])
        lines = []
        infos = self.views.topics()
        for info in infos:
            if not info.partitions:
                table.rows.append([info.name, info.role, "", "", "", "0"])
                lines.append(f"{info.name} ({info.role}): not created yet")
                continue
            marks = ", ".join(f"p{m.partition} {m.low}..{m.high}" for m in info.partitions)
            lines.append(f"{info.name} ({info.role}): {marks}, {info.total} messages")
            for mark in info.partitions:
                table.rows.append([info.name, info.role, str(mark.partition), str(mark.low), str(mark.high),
                                   str(mark.count)])
        return CommandResult("topics", f"topics: {len(infos)}", lines, table=table)

    def _schema(self, rest: str) -> CommandResult:
        ref = _single_argument("schema", rest, "<topic|stmt>")
        target = self.views.resolve(ref)
        fields = self.views.schema(ref)
        table = ResultTable(["field", "type"], [[name, kind] for name, kind in fields])
        lines = [f"{name}  {kind}" for name, kind in fields] or ["no fields known yet"]
        title = f"schema {target.label}: {len(fields)} fields (topic {target.topic})"
        return CommandResult("schema", title, lines, table=table)

    def _head(self, rest: str) -> CommandResult:
        ref, count = _reference_and_count("head", rest)
        page = self.views.head(ref, count)
        return _records("head", page)

    def _tail(self, rest: str) -> CommandResult:
        ref, count = _reference_and_count("tail", rest)
        page = self.views.tail(ref, count)
        return _records("tail", page)

    def _filter(self, rest: str) -> CommandResult:
        ref, _, expression = rest.partition(" ")
        expression = expression.strip()
        count = DEFAULT_FILTER_ROWS
        if expression.startswith("-n"):
            option, _, expression = expression.partition(" ")
            if option == "-n":
                value, _, expression = expression.strip().partition(" ")
            else:
                value = option.removeprefix("-n").lstrip("=")
            count = _positive("filter", value)
            expression = expression.strip()
        if not ref or not expression:
            raise CommandError("usage: filter <stmt|topic> [-n N] <expr>, e.g. filter orders price>100")
        page = self.views.filter(ref, expression, limit=count)
        return _records("filter", page)

    def _export(self, rest: str) -> CommandResult:
        ref, _, remainder = rest.partition(" ")
        words = _split("export", remainder.strip(), 1)
        if not ref or not words:
            raise CommandError("usage: export <stmt|topic|dlq> <file> [expr], e.g. export 2 orders.csv")
        path = Path(words[0]).expanduser()
        expression = words[1] if len(words) > 1 else None
        written = self.views.export(ref, path, expression)
        target = self.views.resolve(ref)
        matching = f" matching {expression}" if expression else ""
        return CommandResult("export", f"export {target.label}: {written} records",
                             [f"Wrote {written} records of {target.label}{matching} to {path}"])

    def _dlq(self, rest: str) -> CommandResult:
        statement = None
        if rest:
            statement = self.session.pipeline.statement(_single_argument("dlq", rest, "[stmt]")).name
        expression = "statement = '" + statement.replace("'", "''") + "'" if statement else None
        page = self.views.page("dlq", 0, DEFAULT_DLQ_ROWS, expression)
        dlq = self.session.dlq
        if statement:
            counts = dlq.counts_for(statement)
            stored, dropped = counts.stored, counts.dropped
            by_stage, by_type = counts.by_stage, counts.by_error_type
        else:
            stored, dropped, by_stage, by_type = dlq.count, dlq.dropped, dlq.by_stage, dlq.by_error_type
        lines = [f"{stored} entries stored, {dropped} dropped"]
        if by_stage:
            lines.append("by stage: " + ", ".join(f"{k} {v}" for k, v in sorted(by_stage.items())))
            lines.append("by error type: " + ", ".join(f"{k} {v}" for k, v in sorted(by_type.items())))
        if page.truncated:
            lines.append(f"showing the first {len(page.rows)}; export dlq <file> writes them all")
        columns = ["#", "statement", "stage", "error_type", "field", "partition", "offset", "message", "fault"]
        table = ResultTable(columns)
        for number, row in enumerate(page.rows, page.offset + 1):
            table.rows.append([str(number)] + [display_text(row[c]) if row[c] is not None else ""
                                               for c in columns[1:]])
        scope = f" of {statement}" if statement else ""
        return CommandResult("dlq", f"dlq{scope}: {page.matched} entries", lines, page=page, table=table)

    def _record(self, rest: str) -> CommandResult:
        words = _split("record", rest)
        if len(words) == 2 and words[0].lower() == "dlq":
            detail = self.views.dlq_record(_positive("record", words[1]) - 1)
        elif len(words) == 3:
            partition = _whole("record", words[1], "partition")
            offset = _whole("record", words[2], "offset")
            detail = self.views.record(words[0], partition, offset)
        else:
            raise CommandError("usage: record <stmt|topic> <partition> <offset>, or record dlq <n>")
        lines = [f"{name}: {value}" for name, value in detail.context]
        lines.append(f"topic {detail.topic}, partition {detail.partition}, offset {detail.offset}")
        lines.append(f"timestamp: {detail.timestamp_text or 'none'} ({detail.timestamp_ms})")
        lines.append(f"key: {display_text(detail.key)}")
        for name, value in detail.headers:
            lines.append(f"header {display_text(name)}: {display_text(value)}")
        lines.append("value:" if detail.value is not None else "value: null (tombstone)")
        if detail.value is not None:
            lines.extend(detail.value.splitlines())
        title = f"record {detail.label} {detail.partition}:{detail.offset}"
        return CommandResult("record", title, lines, detail=detail)

    # -- other -------------------------------------------------------------------------------------

    def _quit(self, rest: str) -> CommandResult:
        return CommandResult("quit", "quit", [])

    def _help(self, rest: str) -> CommandResult:
        if rest:
            spec = _BY_WORD.get(rest.strip().lower())
            if spec is None:
                raise CommandError(_unknown_command(rest.strip()))
            specs = [spec]
        else:
            specs = COMMANDS
        table = ResultTable(["command", "description"])
        lines = []
        for spec in specs:
            words = " | ".join([*spec.aliases, spec.name])
            synopsis = f"{words} {spec.usage}".strip()
            table.rows.append([synopsis, spec.description])
            lines.append(f"{synopsis:<44} {spec.description}")
        if not rest:
            lines.append("<stmt> is a statement name or its number from 1; <topic> is a topic name.")
        return CommandResult("help", "help", lines, table=table)


# -- helpers -----------------------------------------------------------------------------------------


def _error(command: str, message: str) -> CommandResult:
    return CommandResult("error", f"{command}: error", [message], ok=False)


def _unknown_command(word: str) -> str:
    close = difflib.get_close_matches(word.lower(), list(_BY_WORD), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown command '{word}'{hint}; type help to list the commands"


def _split(command: str, text: str, maxsplit: int = -1) -> list[str]:
    """Split arguments like a shell (quotes group words); with `maxsplit`, keep the rest raw."""
    if maxsplit >= 0:
        lexer = shlex.shlex(text, posix=True)
        lexer.whitespace_split = True
        words = []
        try:
            while len(words) < maxsplit:
                word = lexer.get_token()
                if word is None:
                    return words
                words.append(word)
        except ValueError as error:
            raise CommandError(f"{command}: {error}; close the quote") from None
        remainder = lexer.instream.read().strip()
        return words + ([remainder] if remainder else [])
    try:
        return shlex.split(text)
    except ValueError as error:
        raise CommandError(f"{command}: {error}; close the quote") from None


def _no_arguments(command: str, rest: str) -> None:
    if rest:
        raise CommandError(f"{command} takes no arguments, got '{rest}'")


def _single_argument(command: str, rest: str, usage: str) -> str:
    words = _split(command, rest)
    if len(words) != 1:
        raise CommandError(f"usage: {command} {usage} (a name or a number from 1)")
    return words[0]


def _positive(command: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise CommandError(f"{command}: '{text}' is not a whole number") from None
    if value < 1:
        raise CommandError(f"{command}: the count must be 1 or more, got {value}")
    return value


def _whole(command: str, text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise CommandError(f"{command}: {name} '{text}' is not a whole number") from None
    if value < 0:
        raise CommandError(f"{command}: {name} must be 0 or more, got {value}")
    return value


def _reference_and_count(command: str, rest: str) -> tuple[str, int]:
    """Parse `<ref> [-n N]`; `-nN`, `-n=N` and a bare trailing N also set the count."""
    words = _split(command, rest)
    ref = None
    count = DEFAULT_HEAD_ROWS
    index = 0
    while index < len(words):
        word = words[index]
        if word == "-n":
            if index + 1 >= len(words):
                raise CommandError(f"{command}: -n needs a number of records")
            count = _positive(command, words[index + 1])
            index += 2
            continue
        if word.startswith("-n"):
            count = _positive(command, word[2:].lstrip("="))
        elif ref is None:
            ref = word
        elif word.isdigit():
            count = _positive(command, word)
        else:
            raise CommandError(f"usage: {command} <stmt|topic> [-n N]; '{word}' is not understood")
        index += 1
    if ref is None:
        raise CommandError(f"usage: {command} <stmt|topic> [-n N], e.g. {command} 1 -n 5")
    return ref, count


def _page_table(page: RecordPage) -> ResultTable:
    rows = [[display_text(row.get(column)) for column in page.columns] for row in page.rows]
    return ResultTable(list(page.columns), rows)


def _records(command: str, page: RecordPage) -> CommandResult:
    count = len(page.rows)
    if page.expression:
        title = f"{command} {page.label}: {count} of {page.matched} matching records ({page.total} in all)"
    else:
        title = f"{command} {page.label}: {count} of {page.total} records"
    lines = []
    if count == 0:
        lines.append("no records match" if page.expression else f"topic {page.topic} has no records yet")
    return CommandResult("records", title, lines, page=page, table=_page_table(page))

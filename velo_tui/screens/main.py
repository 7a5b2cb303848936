"""The debugger's main screen: the panels, the key bindings and the workers that call the engine.

Engine work (stepping statements, reading topics, exporting) runs in thread workers, one group per
concern, so the screen keeps responding to keys while a statement runs over a million records. Workers
only post messages from `velo_tui.messages`; the handlers here own every widget update.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, OptionList, Static
from textual.worker import Worker, WorkerState

from velo_tui.engine.errors import BrokerError, Cancelled, InputError, VeloError
from velo_tui.engine.session import FAILED, OK, RUNNING, SessionEvent
from velo_tui.messages import (
    PROGRESS_KINDS,
    CommandFinished,
    DeadLettersLoaded,
    DetailLoaded,
    EngineFailed,
    ExportCounted,
    ExportFinished,
    OutcomeFailed,
    RecordsFailed,
    RecordsLoaded,
    RunFinished,
    RunOutcome,
    StatementProgress,
    TopicsLoaded,
)
from velo_tui.screens.error import ErrorScreen
from velo_tui.screens.help import HelpScreen
from velo_tui.screens.output import CommandOutputScreen
from velo_tui.screens.prompt import EXPORT_HELP, PromptScreen, export_prompt, export_summary, filter_prompt
from velo_tui.screens.record_detail import RecordDetailScreen, dead_letter_content, record_content
from velo_tui.widgets.command_bar import CommandBar
from velo_tui.widgets.dead_letters import DeadLetterPanel, DeadLetterTable
from velo_tui.widgets.records import PAGE_SIZE, RecordsPanel, RecordsRequest, RecordsTable
from velo_tui.widgets.statements import StatementsPanel
from velo_tui.widgets.text import label
from velo_tui.widgets.topics import TopicsPanel

if TYPE_CHECKING:
    from velo_tui.app import VeloApp

log = logging.getLogger(__name__)

#: Minimum time between two progress messages from one running statement, in seconds.
PROGRESS_INTERVAL_S = 0.1

#: How often the topics and DLQ panels are re-read while a statement runs, in seconds.
TOPICS_REFRESH_S = 0.5

#: Reference that names the DLQ entries in export, as the record views spell it.
DLQ_TARGET = "dlq"

#: Focus order of the panels for tab and shift+tab.
PANEL_ORDER = ("#statements", "#topics", "#records-table", "#dlq-table")

#: Command-bar words that the screen handles itself, because they run the engine, open a
#: dialog or quit; every other command goes to the command interpreter.
SCREEN_COMMANDS = {
    "s": "step", "step": "step",
    "c": "continue", "continue": "continue",
    "r": "run", "run": "run",
    "q": "quit", "quit": "quit", "exit": "quit",
    "h": "help", "help": "help", "?": "help",
}


class ProgressRelay:
    """Forwards engine progress events to the screen, at most one per interval and kind.

    Called on the worker thread; `post` must be thread-safe (`post_message` is).
    """

    def __init__(self, post: Callable[[StatementProgress], object], interval_s: float = PROGRESS_INTERVAL_S) -> None:
        self.post = post
        self.interval_s = interval_s
        self._last: dict[tuple[str, str], float] = {}

    def __call__(self, event: SessionEvent) -> None:
        if event.kind in PROGRESS_KINDS:
            key = (event.statement, event.kind)
            now = time.monotonic()
            last = self._last.get(key)
            if last is not None and now - last < self.interval_s and event.done < event.total:
                return
            self._last[key] = now
        self.post(StatementProgress(event))


class MainScreen(Screen):
    """Statements and topics on the left, records and DLQ on the right, command bar below."""

    BINDINGS = [
        Binding("s", "step", "step", id="step", tooltip="Run the next statement"),
        Binding("c", "continue", "continue", id="continue",
                tooltip="Run statements until one with a breakpoint has completed"),
        Binding("r", "run", "run", id="run", tooltip="Run every remaining statement"),
        Binding("b", "toggle_breakpoint", "breakpoint", id="breakpoint",
                tooltip="Set or remove a breakpoint on the highlighted statement"),
        Binding("h", "head", "head", id="head", tooltip="Show the first records of the target"),
        Binding("t", "tail", "tail", id="tail", tooltip="Show the last records of the target"),
        Binding("slash", "filter", "filter", key_display="/", id="filter",
                tooltip="Show only the target's records that match an expression"),
        Binding("e", "export", "export", id="export",
                tooltip="Write the target's records (filtered, if a filter is set) to a file"),
        Binding("enter", "detail", "detail", id="detail",
                tooltip="Open the highlighted record or DLQ entry in full"),
        Binding("colon", "command_bar", "command", key_display=":", id="command-bar",
                tooltip="Type a debug command"),
        Binding("question_mark", "help", "help", key_display="?", id="help",
                tooltip="List keys and commands"),
        Binding("q", "quit", "quit", id="quit", tooltip="Leave the debugger"),
        Binding("x", "cancel", "cancel", id="cancel",
                tooltip="Stop the running statement after its current micro-batch"),
        Binding("tab", "focus_panel(1)", "next panel", show=False, id="next-panel",
                tooltip="Move the focus to the next panel"),
        Binding("shift+tab", "focus_panel(-1)", "previous panel", show=False, id="previous-panel",
                tooltip="Move the focus to the previous panel"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.running = False
        self.progress: dict[str, SessionEvent] = {}
        self.paused_after: str | None = None
        self.records_request: RecordsRequest | None = None
        self.pending_request: RecordsRequest | None = None
        self.records_page: Any = None
        self.filter_expression: dict[str, str] = {}
        self._topics_timer: Timer | None = None
        self._last_panel = "#statements"
        self._export_prompt: PromptScreen | None = None

    @property
    def velo(self) -> VeloApp:
        return self.app  # type: ignore[return-value]

    # -- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(self._header_text(), id="session-header", markup=False)
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield StatementsPanel(id="statements")
                yield TopicsPanel(id="topics")
            with Vertical(id="right"):
                yield RecordsPanel(id="records-panel")
                yield DeadLetterPanel(id="dlq-panel")
        yield CommandBar(id="command-bar", cursor_blink=self.velo.cursor_blink)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        for selector in ("#statements", "#topics", "#records-panel", "#dlq-panel"):
            self.query_one(selector).add_class("panel")
        self.query_one("#topics").border_title = "topics"
        self.refresh_statements()
        self.query_one(StatementsPanel).focus()
        self.load_topics()
        self.load_dead_letters()

    def _header_text(self) -> str:
        session = self.velo.session
        text = (
            f"velo-tui · {session.pipeline.application} · {session.sql_path.name} · "
            f"seed {session.seed} · {session.broker.description}"
        )
        count = len(session.warnings)
        if count:
            text += f" · {count} warning{'s' if count != 1 else ''} (palette: Warnings)"
        return text

    # -- statements ----------------------------------------------------------------------------

    def refresh_statements(self) -> None:
        """Redraw the statements panel and its title from the session's states."""
        session = self.velo.session
        panel = self.query_one(StatementsPanel)
        panel.show_states(session.states, self.velo.breakpoints, self.progress, self.velo.format_duration)
        done = sum(1 for state in session.states if state.status in (OK, FAILED))
        panel.border_title = label(f"statements · {done}/{len(session.states)} run")
        panel.border_subtitle = label(self._statements_subtitle())

    def _statements_subtitle(self) -> str:
        session = self.velo.session
        running = next((s.name for s in session.states if s.status == RUNNING), None)
        if running:
            return f"running {running} · x cancels"
        if session.failed:
            return "stopped: a statement failed"
        if session.finished:
            return "finished"
        if self.paused_after:
            return f"paused after {self.paused_after} (breakpoint)"
        count = len(self.velo.breakpoints)
        return f"{count} breakpoint{'s' if count != 1 else ''}" if count else ""

    def highlighted_statement(self) -> str | None:
        return self.query_one(StatementsPanel).highlighted_name

    # -- running statements --------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None greys a key out in the footer: nothing to run, or nothing to cancel.
        if action in ("step", "continue", "run"):
            return None if self.running or self.velo.session.finished else True
        if action == "cancel":
            return True if self.running else None
        return True

    def action_step(self) -> None:
        self.start_run("step")

    def action_continue(self) -> None:
        self.start_run("continue")

    def action_run(self) -> None:
        self.start_run("run")

    def start_run(self, command: str) -> None:
        """Start `step`, `continue` or `run` in the engine worker, unless one is running."""
        session = self.velo.session
        if self.running:
            self.velo.notify("A statement is running; wait for it or press x to cancel it.",
                             severity="warning", markup=False)
            return
        if session.finished:
            self.velo.notify("Every statement has run; there is nothing left to run.",
                             severity="warning", markup=False)
            return
        self.running = True
        self.paused_after = None
        self.progress.clear()
        # A cancel that came while no statement ran (quitting races, a stale request) would stop
        # this run before its first micro-batch, so the flag starts clear.
        session.cancel_event.clear()
        self.velo.engine_idle.clear()
        self._topics_timer = self.set_interval(TOPICS_REFRESH_S, self.refresh_while_running)
        self.run_engine(command, set(self.velo.breakpoints))
        self.refresh_statements()
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def run_engine(self, command: str, breakpoints: set[str]) -> None:
        session = self.velo.session
        relay = ProgressRelay(self.post_message)
        outcome = RunOutcome(command, [])
        log.info("engine %s started", command)
        try:
            if command == "step":
                outcome.ran = [session.step(relay)]
            elif command == "continue":
                outcome.ran = session.continue_(breakpoints, relay)
                last = outcome.ran[-1] if outcome.ran else None
                expected = {name.lower() for name in breakpoints}
                if last is not None and last.status == OK and last.name.lower() in expected and not session.finished:
                    outcome.stopped_at_breakpoint = last.name
            else:
                outcome.ran = session.run_all(relay)
        except Cancelled:
            outcome.cancelled = True
        except VeloError as error:
            outcome.error = error
            log.error("engine %s failed: %s", command, error)
        finally:
            self.velo.engine_idle.set()
            self.post_message(RunFinished(outcome))

    def refresh_while_running(self) -> None:
        """Re-read watermarks and DLQ entries so both panels move while a statement runs."""
        self.load_topics()
        self.load_dead_letters()

    def action_cancel(self) -> None:
        if not self.running:
            self.velo.notify("Nothing is running.", markup=False)
            return
        self.velo.session.cancel()
        self.velo.notify("Cancelling after the current micro-batch…", markup=False)

    @on(StatementProgress)
    def on_statement_progress(self, message: StatementProgress) -> None:
        event = message.event
        if event.kind == "statement_finished":
            self.progress.pop(event.statement, None)
            self.load_dead_letters()
        else:
            self.progress[event.statement] = event
        self.refresh_statements()

    @on(RunFinished)
    def on_run_finished(self, message: RunFinished) -> None:
        outcome = message.outcome
        self.running = False
        self.refresh_bindings()
        self.progress.clear()
        if self._topics_timer is not None:
            self._topics_timer.stop()
            self._topics_timer = None
        self.paused_after = outcome.stopped_at_breakpoint
        self.refresh_statements()
        if outcome.ran:
            self.query_one(StatementsPanel).highlight_name(outcome.ran[-1].name)
        self.load_topics()
        self.load_dead_letters()
        if self.records_request is not None:
            self.load_records(self.records_request)
        self._report_outcome(outcome)

    def _report_outcome(self, outcome: RunOutcome) -> None:
        notify = self.velo.notify
        if outcome.cancelled:
            notify("Cancelled; the statement that was running did not complete.",
                   severity="warning", markup=False)
            return
        if isinstance(outcome.error, InputError):
            notify(str(outcome.error), severity="warning", markup=False)
            return
        if outcome.error is not None:
            title = "broker error" if isinstance(outcome.error, BrokerError) else "engine error"
            self.velo.push_screen(ErrorScreen(title, str(outcome.error)))
            return
        failed = next((state for state in outcome.ran if state.status == FAILED), None)
        if failed is not None:
            self.velo.push_screen(ErrorScreen(f"statement {failed.name} failed", failed.error or "unknown error"))
            return
        if not outcome.ran:
            return
        last = outcome.ran[-1]
        stats = last.stats
        summary = (f"{last.name} done: {stats.records_in:,} in · {stats.records_out:,} out · "
                   f"{stats.dlq:,} DLQ")
        if outcome.stopped_at_breakpoint:
            notify(f"Stopped at the breakpoint after {last.name}. {summary}", title="breakpoint", markup=False)
        elif self.velo.session.finished:
            notify(f"Every statement has run. {summary}", markup=False)
        else:
            notify(summary, markup=False)

    # -- breakpoints ---------------------------------------------------------------------------

    def action_toggle_breakpoint(self) -> None:
        name = self.highlighted_statement()
        if name is None:
            return
        self.velo.toggle_breakpoint(name)
        self.refresh_statements()

    # -- topics and DLQ ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="topics")
    def load_topics(self) -> None:
        self.post_message(TopicsLoaded(self.velo.views.topics()))

    @on(TopicsLoaded)
    def on_topics_loaded(self, message: TopicsLoaded) -> None:
        panel = self.query_one(TopicsPanel)
        panel.show_topics(message.topics)
        panel.border_title = label(f"topics · {len(message.topics)}")

    @work(thread=True, exclusive=True, exit_on_error=False, group="dlq")
    def load_dead_letters(self) -> None:
        entries = self.velo.views.dlq_entries()
        self.post_message(DeadLettersLoaded(entries, len(entries)))

    @on(DeadLettersLoaded)
    def on_dead_letters_loaded(self, message: DeadLettersLoaded) -> None:
        self.query_one(DeadLetterPanel).show_entries(message.entries, message.total, self.velo.session.dlq.dropped)

    # -- records -------------------------------------------------------------------------------

    def current_target(self) -> str | None:
        """Return the statement or topic that head, tail, filter and export act on.

        The target follows the focus: the highlighted topic when the topics panel has the focus,
        the DLQ when the DLQ panel has it (for export), else the highlighted statement.
        """
        focused = self.focused
        if isinstance(focused, TopicsPanel):
            return focused.highlighted_topic
        if isinstance(focused, DeadLetterTable):
            return DLQ_TARGET
        if isinstance(focused, RecordsTable) and self.records_request is not None:
            return self.records_request.target
        return self.highlighted_statement()

    def _records_target(self) -> str | None:
        target = self.current_target()
        if target == DLQ_TARGET:
            target = self.records_request.target if self.records_request else self.highlighted_statement()
        return target

    def action_head(self) -> None:
        target = self._records_target()
        if target is not None:
            self.load_records(RecordsRequest(target, "head", expression=self.filter_expression.get(target)))

    def action_tail(self) -> None:
        target = self._records_target()
        if target is not None:
            self.load_records(RecordsRequest(target, "tail", expression=self.filter_expression.get(target)))

    def action_next_page(self) -> None:
        request, page = self.records_request, self.records_page
        if request is None or page is None:
            return
        matched = page.matched if page.matched is not None else page.total
        start = page.offset + len(page.rows)
        if start >= matched:
            self.velo.notify("This is the last page.", markup=False)
            return
        self.load_records(RecordsRequest(request.target, "page", start, request.limit, request.expression))

    def action_previous_page(self) -> None:
        request, page = self.records_request, self.records_page
        if request is None or page is None:
            return
        if page.offset <= 0:
            self.velo.notify("This is the first page.", markup=False)
            return
        start = max(0, page.offset - request.limit)
        self.load_records(RecordsRequest(request.target, "page", start, request.limit, request.expression))

    def load_records(self, request: RecordsRequest) -> None:
        """Fetch a page in the records worker; the panel keeps its page until the new one arrives."""
        self.pending_request = request
        self.fetch_records(request)

    @work(thread=True, exclusive=True, exit_on_error=False, group="records")
    def fetch_records(self, request: RecordsRequest) -> None:
        views = self.velo.views
        try:
            offset = request.offset
            if request.mode == "tail":
                offset = max(0, views.count(request.target, request.expression) - request.limit)
            page = views.page(request.target, offset, request.limit, request.expression)
        except VeloError as error:
            log.info("%s of %s failed: %s", request.mode, request.target, error)
            self.post_message(RecordsFailed(request, str(error)))
            return
        self.post_message(RecordsLoaded(request, page))

    @on(RecordsLoaded)
    def on_records_loaded(self, message: RecordsLoaded) -> None:
        if message.request != self.pending_request:
            return  # the response to an older request arrived late
        self.pending_request = None
        self.records_request = message.request
        self.records_page = message.page
        self._set_filter(message.request.target, message.request.expression)
        self.query_one(RecordsPanel).show_page(message.request, message.page)

    @on(RecordsFailed)
    def on_records_failed(self, message: RecordsFailed) -> None:
        request = message.request
        if request == self.pending_request:
            self.pending_request = None
        text = message.message
        if request.mode == "filter":
            # The shown page, its title and the filter state stay as they were, so the toast
            # names the filter that head, tail, paging and export still use.
            previous = self.filter_expression.get(request.target)
            text += f"\nThe filter {previous} stays in force." if previous else "\nNo filter is set."
        self.velo.notify(text, title=f"{request.mode} {request.target}", severity="error", markup=False)

    def _set_filter(self, target: str, expression: str | None) -> None:
        """Record the filter of the page now shown for `target`, so export and paging use it."""
        if expression:
            self.filter_expression[target] = expression
        else:
            self.filter_expression.pop(target, None)

    def action_filter(self) -> None:
        target = self._records_target()
        if target is None:
            return

        def apply(expression: str | None) -> None:
            # The filter state changes only when the filtered page arrives: an invalid
            # expression leaves the previous filter in force.
            if expression is None:
                return
            if expression:
                self.load_records(RecordsRequest(target, "filter", 0, PAGE_SIZE, expression))
            else:
                self.load_records(RecordsRequest(target, "head"))

        self.velo.push_screen(filter_prompt(target, self.filter_expression.get(target, ""),
                                            self.velo.cursor_blink), apply)

    # -- export --------------------------------------------------------------------------------

    def action_export(self) -> None:
        """Open the export dialog for the focused panel's records, saying which and how many."""
        target = self.current_target()
        if target is None:
            return
        dlq = target == DLQ_TARGET
        expression = None if dlq else self.filter_expression.get(target)
        help_text = EXPORT_HELP
        shown = self.records_request
        if dlq and shown is not None and shown.expression:
            help_text += (f" The filter on {shown.target} does not apply here: to export those "
                          "records, focus the records panel and press e.")

        def write(path: str | None) -> None:
            self._export_prompt = None
            if path:
                self.export_records(target, path, expression)

        prompt = export_prompt(f"{target}.json", export_summary(target, expression, None, dlq=dlq),
                               help_text, self.velo.cursor_blink)
        self._export_prompt = prompt
        self.velo.push_screen(prompt, write)
        self.count_export(target, expression)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export-count")
    def count_export(self, target: str, expression: str | None) -> None:
        try:
            count = self.velo.views.count(target, expression)
        except VeloError as error:
            log.info("counting the records of %s to export failed: %s", target, error)
            self.post_message(ExportCounted(target, expression, None, str(error)))
            return
        self.post_message(ExportCounted(target, expression, count))

    @on(ExportCounted)
    def on_export_counted(self, message: ExportCounted) -> None:
        prompt = self._export_prompt
        if prompt is None or prompt is not self.velo.screen:
            return  # the dialog was closed before the count arrived
        summary = export_summary(message.target, message.expression, message.count,
                                 dlq=message.target == DLQ_TARGET, error=message.error)
        prompt.set_summary(summary)

    @work(thread=True, exclusive=False, exit_on_error=False, group="export")
    def export_records(self, target: str, path: str, expression: str | None) -> None:
        try:
            count = self.velo.views.export(target, Path(path), expression)
        except InputError as error:
            self.post_message(OutcomeFailed(f"export of {target}", str(error)))
            return
        except (VeloError, OSError) as error:
            log.error("export of %s to %s failed: %s", target, path, error)
            self.post_message(EngineFailed(f"export of {target} failed", str(error)))
            return
        self.post_message(ExportFinished(path, count))

    @on(ExportFinished)
    def on_export_finished(self, message: ExportFinished) -> None:
        self.velo.notify(f"Exported {message.count:,} records to {message.path}", title="export", markup=False)

    # -- detail --------------------------------------------------------------------------------

    def action_detail(self) -> None:
        focused = self.focused
        if isinstance(focused, RecordsTable):
            self.open_record()
        elif isinstance(focused, DeadLetterTable):
            self.open_dead_letter()
        elif isinstance(focused, TopicsPanel | StatementsPanel):
            self.action_head()

    def open_record(self) -> None:
        record = self.query_one(RecordsTable).highlighted_record
        if record is None or self.records_page is None:
            return
        self.fetch_detail(self.records_page.label, record)

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail")
    def fetch_detail(self, ref: str, record: dict[str, Any]) -> None:
        try:
            detail = self.velo.views.record(ref, record["_partition"], record["_offset"])
        except VeloError as error:
            self.post_message(OutcomeFailed("record detail", str(error)))
            return
        self.post_message(DetailLoaded(detail))

    @on(DetailLoaded)
    def on_detail_loaded(self, message: DetailLoaded) -> None:
        self.open_detail(message.detail)

    def open_detail(self, detail: Any) -> None:
        content = record_content(detail, detail.topic, hide_wall_clock=self.velo.frozen_clock)
        self.velo.push_screen(RecordDetailScreen(content))

    def open_dead_letter(self) -> None:
        entry = self.query_one(DeadLetterTable).highlighted_entry
        if entry is not None:
            self.velo.push_screen(RecordDetailScreen(dead_letter_content(entry, self.velo.format_instant)))

    @on(DataTable.RowSelected)
    def on_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if isinstance(event.data_table, RecordsTable):
            self.open_record()
        elif isinstance(event.data_table, DeadLetterTable):
            self.open_dead_letter()
        elif isinstance(event.data_table, TopicsPanel):
            self.action_head()

    @on(OptionList.OptionSelected, "#statements")
    def on_statement_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_head()

    # -- command bar ---------------------------------------------------------------------------

    def action_command_bar(self) -> None:
        focused = self.focused
        if focused is not None and focused.id is not None:
            self._last_panel = f"#{focused.id}"
        self.query_one(CommandBar).open()

    @on(CommandBar.Left)
    def on_command_bar_left(self, event: CommandBar.Left) -> None:
        self.query_one(self._last_panel).focus()

    @on(CommandBar.Entered)
    def on_command_entered(self, event: CommandBar.Entered) -> None:
        self.query_one(self._last_panel).focus()
        words = event.line.split()
        handled = SCREEN_COMMANDS.get(words[0].lower()) if len(words) == 1 else None
        if handled in ("step", "continue", "run"):
            self.start_run(handled)
        elif handled == "quit":
            self.action_quit()
        elif handled == "help":
            self.action_help()
        else:
            # Record views are safe to read while a statement runs; a command that runs the
            # engine waits for the session's lock in its own worker.
            self.run_command(event.line)

    @work(thread=True, exclusive=True, exit_on_error=False, group="command")
    def run_command(self, line: str) -> None:
        result = self.velo.interpreter.execute(line)
        self.post_message(CommandFinished(line, result))

    @on(CommandFinished)
    def on_command_finished(self, message: CommandFinished) -> None:
        self.show_command_result(message.result)
        self.refresh_statements()

    def show_command_result(self, result: Any) -> None:
        """Show a command's result: records in the records panel, tables in a dialog, the rest as a toast."""
        notify = self.velo.notify
        if not result.ok:
            notify("\n".join(result.lines) or result.title, title=result.title, severity="error", markup=False)
        elif result.kind == "quit":
            self.action_quit()
        elif result.kind == "records" and result.page is not None:
            self.show_command_page(result)
        elif result.kind == "record" and result.detail is not None:
            self.open_detail(result.detail)
        elif result.table is not None:
            lines = result.lines if result.kind in ("dlq", "inspect") else []
            self.velo.push_screen(CommandOutputScreen(result.title, lines, result.table.columns, result.table.rows,
                                                      wrap=result.kind == "help"))
        elif result.lines:
            notify("\n".join(result.lines), title=result.title, markup=False)
        if result.kind == "step":
            self.load_topics()
            self.load_dead_letters()

    def show_command_page(self, result: Any) -> None:
        page = result.page
        mode = result.title.split(" ", 1)[0]
        request = RecordsRequest(page.label, mode, page.offset, max(len(page.rows), 1), page.expression)
        self._set_filter(page.label, page.expression)
        self.pending_request = None  # a page still being fetched must not replace this one
        self.records_request = request
        self.records_page = page
        self.query_one(RecordsPanel).show_page(request, page)
        self.velo.notify(result.title, markup=False)

    # -- dialogs, focus, quit ------------------------------------------------------------------

    def help_keys(self) -> list[tuple[str, str]]:
        """Return (key, description) for every binding of this screen and the records table.

        A records-panel key that the screen binds too (enter opens the record either way) is
        listed once, with the screen's description.
        """
        keys = [(binding.key_display or binding.key, binding.tooltip or binding.description)
                for binding in self.BINDINGS if isinstance(binding, Binding)]
        listed = {key for key, _ in keys}
        keys += [(binding.key, f"records panel: {binding.description}")
                 for binding in RecordsTable.BINDINGS
                 if isinstance(binding, Binding) and binding.key not in listed]
        return keys

    def action_help(self) -> None:
        self.velo.push_screen(HelpScreen(self.help_keys()))

    def action_focus_panel(self, step: int) -> None:
        visible = [selector for selector in PANEL_ORDER if self.query_one(selector).display]
        focused = self.focused
        current = f"#{focused.id}" if focused is not None and focused.id else None
        index = visible.index(current) if current in visible else -1
        self.query_one(visible[(index + step) % len(visible)]).focus()

    def action_quit(self) -> None:
        self.velo.quit_debugger()

    # -- errors --------------------------------------------------------------------------------

    @on(OutcomeFailed)
    def on_outcome_failed(self, message: OutcomeFailed) -> None:
        self.velo.notify(message.message, title=message.title, severity="error", markup=False)

    @on(EngineFailed)
    def on_engine_failed(self, message: EngineFailed) -> None:
        self.velo.push_screen(ErrorScreen(message.title, message.message))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        worker = event.worker
        error = worker.error
        log.error("worker %s (%s) failed: %r", worker.name, worker.group, error, exc_info=error)
        if worker.group == "engine":
            self.running = False
            self.refresh_bindings()
            if self._topics_timer is not None:
                self._topics_timer.stop()
                self._topics_timer = None
            self.refresh_statements()
        self.velo.push_screen(ErrorScreen(f"{worker.group} failed", f"{type(error).__name__}: {error}"))

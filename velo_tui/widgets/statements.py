"""The statements panel: each statement of the pipeline with its status, counts and breakpoint."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from rich.text import Text
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from velo_tui.engine.session import FAILED, OK, RUNNING, SessionEvent, StatementState
from velo_tui.widgets.text import escape_control, truncate_cells

BREAKPOINT_MARK = "●"
STATUS_MARKS = {"not_run": "○", RUNNING: "◐", OK: "✓", FAILED: "✗"}
STATUS_STYLES = {"not_run": "dim", RUNNING: "bold yellow", OK: "green", FAILED: "bold red"}

#: Widest error message shown under a failed statement; the error dialog shows all of it.
MAX_ERROR_WIDTH = 60


def status_line(
    state: StatementState,
    progress: SessionEvent | None,
    format_duration: Callable[[float], str | None],
) -> str:
    """Return the second line of a statement's entry: its status and counts."""
    stats = state.stats
    if state.status == RUNNING:
        if progress is None:
            return "running"
        if progress.kind == "input":
            return f"running · producing input {progress.done:,}/{progress.total:,}"
        if progress.kind == "batch":
            return f"running · {progress.done:,}/{progress.total:,} in"
        return "running"
    if state.status == OK:
        text = f"done · {stats.records_in:,} in · {stats.records_out:,} out · {stats.dlq:,} DLQ"
        if stats.dlq_dropped:
            text += f" · {stats.dlq_dropped:,} dropped"
        duration = format_duration(stats.duration_s)
        return f"{text} · {duration}" if duration else text
    if state.status == FAILED:
        message = truncate_cells(escape_control(state.error or "unknown error"), MAX_ERROR_WIDTH)
        return f"failed · {message}"
    if state.error == "cancelled":
        return "not run · cancelled"
    return "not run"


def statement_prompt(
    number: int,
    state: StatementState,
    has_breakpoint: bool,
    progress: SessionEvent | None,
    format_duration: Callable[[float], str | None],
) -> Text:
    """Build the two-line entry of one statement (no markup: names come from the SQL file)."""
    # Lines longer than the panel end in an ellipsis instead of wrapping under the mark column.
    text = Text(end="", no_wrap=True, overflow="ellipsis")
    text.append(BREAKPOINT_MARK if has_breakpoint else " ", style="bold red")
    text.append(f" {number}. ")
    text.append(STATUS_MARKS.get(state.status, "?") + " ", style=STATUS_STYLES.get(state.status, ""))
    text.append(escape_control(state.name), style="bold")
    text.append("\n     ")
    text.append(status_line(state, progress, format_duration), style=STATUS_STYLES.get(state.status, ""))
    return text


class StatementsPanel(OptionList):
    """Statements in execution order; the highlighted one is the target of `b`, `h`, `t`."""

    BINDINGS = [Binding("enter", "select", "head", id="statements.head")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._names: list[str] = []

    @property
    def highlighted_name(self) -> str | None:
        """Name of the highlighted statement, if any."""
        if self.highlighted is None or self.highlighted >= len(self._names):
            return None
        return self._names[self.highlighted]

    def show_states(
        self,
        states: list[StatementState],
        breakpoints: Collection[str],
        progress: Mapping[str, SessionEvent],
        format_duration: Callable[[float], str | None],
    ) -> None:
        """Redraw every entry; the highlight stays where it was."""
        marked = {name.lower() for name in breakpoints}
        prompts = [
            statement_prompt(number, state, state.name.lower() in marked,
                             progress.get(state.name), format_duration)
            for number, state in enumerate(states, start=1)
        ]
        names = [state.name for state in states]
        if names != self._names:
            highlighted = self.highlighted
            self._names = names
            self.set_options(Option(prompt, id=f"statement-{index}") for index, prompt in enumerate(prompts))
            if names:
                self.highlighted = min(highlighted or 0, len(names) - 1)
            return
        for index, prompt in enumerate(prompts):
            self.replace_option_prompt_at_index(index, prompt)

    def highlight_name(self, name: str) -> None:
        """Move the highlight to the statement called `name`."""
        if name in self._names:
            self.highlighted = self._names.index(name)

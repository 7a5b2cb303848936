"""Messages that thread workers post to the debugger's main screen.

Workers never touch widgets; they post one of these and the screen's handlers update the panels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from velo_tui.engine.session import SessionEvent, StatementState

#: Event kinds that only report a count moving forward; a newer one makes an older one useless.
PROGRESS_KINDS = frozenset({"input", "batch"})


class StatementProgress(Message):
    """A `SessionEvent` from a running statement (input production or a finished micro-batch)."""

    def __init__(self, event: SessionEvent) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        # A burst of micro-batch events collapses into the newest one of the same statement and
        # kind; started and finished events are never dropped.
        return (
            isinstance(message, StatementProgress)
            and self.event.kind in PROGRESS_KINDS
            and message.event.kind == self.event.kind
            and message.event.statement == self.event.statement
        )


@dataclass
class RunOutcome:
    """Outcome of a step, continue or run: the statements that ran and why it stopped."""

    command: str  # "step", "continue" or "run"
    ran: list[StatementState]
    stopped_at_breakpoint: str | None = None
    cancelled: bool = False
    error: Exception | None = None


class RunFinished(Message):
    """A step, continue or run has ended (normally, at a breakpoint, cancelled or failed)."""

    def __init__(self, outcome: RunOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class RecordsLoaded(Message):
    """A page of records for the records panel."""

    def __init__(self, request: Any, page: Any) -> None:
        super().__init__()
        self.request = request
        self.page = page


class RecordsFailed(Message):
    """A records request failed, for example on an invalid filter expression."""

    def __init__(self, request: Any, message: str) -> None:
        super().__init__()
        self.request = request
        self.message = message


class TopicsLoaded(Message):
    """Per-partition watermarks of every topic of the session."""

    def __init__(self, topics: list[Any]) -> None:
        super().__init__()
        self.topics = topics

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TopicsLoaded)


class DeadLettersLoaded(Message):
    """The DLQ entries to list, and how many the DLQ stores in all."""

    def __init__(self, entries: list[Any], total: int) -> None:
        super().__init__()
        self.entries = entries
        self.total = total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DeadLettersLoaded)


class DetailLoaded(Message):
    """The full form of one record, for the record detail dialog."""

    def __init__(self, detail: Any) -> None:
        super().__init__()
        self.detail = detail


class ExportFinished(Message):
    """An export has written `count` records to `path`."""

    def __init__(self, path: str, count: int) -> None:
        super().__init__()
        self.path = path
        self.count = count


class ExportCounted(Message):
    """The records an export would write have been counted (`count`), or counting failed (`error`)."""

    def __init__(self, target: str, expression: str | None, count: int | None, error: str | None = None) -> None:
        super().__init__()
        self.target = target
        self.expression = expression
        self.count = count
        self.error = error


class CommandFinished(Message):
    """A command-bar line has been executed by the command interpreter."""

    def __init__(self, line: str, result: Any) -> None:
        super().__init__()
        self.line = line
        self.result = result


class OutcomeFailed(Message):
    """A view or export request failed with a message for the user (shown as a toast)."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title = title
        self.message = message


class EngineFailed(Message):
    """The engine raised an error that needs the error dialog."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title = title
        self.message = message

"""The dead-letter queue: every record that fails at any stage, with the context to debug it.

Entries are kept in memory up to `max_size`. Failures beyond it, or while the DLQ is disabled,
are counted as dropped, so every failed record is accounted for either way.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pyarrow as pa

from velo_tui.engine.broker.base import make_produce_batch

log = logging.getLogger(__name__)

#: Stages at which a record can fail, in pipeline order.
STAGES = ("decode", "validate", "cast", "execute", "encode", "produce")

#: Default bound on stored entries when neither the SQL nor the spec sets `dlq_max_size`.
DEFAULT_MAX_SIZE = 100_000


@dataclass
class DeadLetterEntry:
    """One failed record: the message as consumed plus where and why it failed."""

    statement: str
    stage: str
    error_type: str
    message: str
    topic: str
    partition: int | None
    offset: int | None
    timestamp: int | None  # message timestamp, ms since the epoch
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    field: str | None = None  # JSON path of the offending field where known
    recoverable: bool = False  # True when retrying the same bytes could succeed
    failed_at: float = 0.0  # Unix time in seconds
    fault: str | None = None  # fault ledger key when the record was injected
    fault_id: str | None = None

    def to_json(self) -> dict:
        """Return the entry as JSON-ready data; bytes become text (invalid UTF-8 escaped).

        Headers stay a list of `{"key", "value"}` objects in message order, because a message
        may repeat a header key (a record hit by two faults carries two `velo.fault` headers).
        """
        data = asdict(self)
        data["key"] = _text(self.key)
        data["value"] = _text(self.value)
        data["headers"] = [{"key": name, "value": _text(value)} for name, value in self.headers]
        return data


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    return data.decode("utf-8", errors="backslashreplace")


@dataclass
class DeadLetterCounts:
    """Failure counts of one statement; the stage and error type counters include dropped ones."""

    stored: int = 0
    dropped: int = 0
    by_stage: Counter[str] = field(default_factory=Counter)
    by_error_type: Counter[str] = field(default_factory=Counter)


#: Prefix of the headers that carry an entry's context on the DLQ topic.
CONTEXT_HEADER_PREFIX = "velo.dlq."


def dead_letter_messages(entries: list[DeadLetterEntry]) -> pa.Table:
    """Build the DLQ topic messages of `entries`: the original key, value, timestamp and headers,
    with the failure context added as `velo.dlq.*` headers."""
    headers = []
    for entry in entries:
        context = {
            "statement": entry.statement,
            "stage": entry.stage,
            "error_type": entry.error_type,
            "message": entry.message,
            "topic": entry.topic,
            "partition": "" if entry.partition is None else str(entry.partition),
            "offset": "" if entry.offset is None else str(entry.offset),
            "field": entry.field or "",
            "recoverable": "true" if entry.recoverable else "false",
            "fault": entry.fault or "",
        }
        pairs = [
            {"key": CONTEXT_HEADER_PREFIX + name, "value": value.encode("utf-8")}
            for name, value in context.items()
        ]
        pairs += [
            {"key": name, "value": value}
            for name, value in entry.headers
            if not name.startswith(CONTEXT_HEADER_PREFIX)
        ]
        headers.append(pairs)
    return make_produce_batch(
        [entry.value for entry in entries],
        [entry.key for entry in entries],
        [entry.timestamp for entry in entries],
        headers,
    )


class DeadLetterQueue:
    """Bounded store of dead-letter entries with counts by stage, error type and fault."""

    def __init__(
        self,
        max_size: int = DEFAULT_MAX_SIZE,
        enabled: bool = True,
        publisher: Callable[[list[DeadLetterEntry]], None] | None = None,
    ) -> None:
        self.max_size = max_size
        self.enabled = enabled
        self.entries: list[DeadLetterEntry] = []
        self.by_stage: Counter[str] = Counter()
        self.by_error_type: Counter[str] = Counter()
        self.by_fault: Counter[str] = Counter()
        self.per_statement: dict[str, DeadLetterCounts] = {}
        self.dropped = 0
        self._publisher = publisher
        self._lock = threading.Lock()

    def add(self, entries: list[DeadLetterEntry], enabled: bool | None = None) -> None:
        """Store `entries` (or count them as dropped when full or disabled) and publish them."""
        if not entries:
            return
        accept = self.enabled if enabled is None else enabled
        stored: list[DeadLetterEntry] = []
        with self._lock:
            for entry in entries:
                self.by_stage[entry.stage] += 1
                self.by_error_type[entry.error_type] += 1
                if entry.fault:
                    self.by_fault[entry.fault] += 1
                counts = self.counts_for(entry.statement)
                counts.by_stage[entry.stage] += 1
                counts.by_error_type[entry.error_type] += 1
                if accept and len(self.entries) < self.max_size:
                    self.entries.append(entry)
                    stored.append(entry)
                    counts.stored += 1
                else:
                    self.dropped += 1
                    counts.dropped += 1
        if stored and self._publisher is not None:
            self._publisher(stored)
        log.debug("DLQ: %d stored, %d dropped so far", len(self.entries), self.dropped)

    @property
    def count(self) -> int:
        return len(self.entries)

    def for_statement(self, name: str) -> list[DeadLetterEntry]:
        with self._lock:
            return [entry for entry in self.entries if entry.statement == name]

    def snapshot(self) -> list[DeadLetterEntry]:
        with self._lock:
            return list(self.entries)

    def counts_for(self, statement: str) -> DeadLetterCounts:
        """Return the (live) failure counts of `statement`."""
        return self.per_statement.setdefault(statement, DeadLetterCounts())

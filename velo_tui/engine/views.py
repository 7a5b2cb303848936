"""Record views over the topics of a debug session: head, tail, filter, pages, counts, schema,
topic watermarks, record detail, DLQ entries and export.

Every result comes from DuckDB over the broker's Arrow messages. A topic's messages (from the
offsets where the session started) are cached per topic until its watermarks change. The views
own their DuckDB connection and serialise its use with a lock, so a face may call them from
worker threads while a statement runs in another thread.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from velo_tui.engine.broker.base import PartitionWatermarks
from velo_tui.engine.decode import ColumnSpec, columns_from_schema
from velo_tui.engine.dlq import DeadLetterEntry
from velo_tui.engine.errors import InputError
from velo_tui.engine.export import copy_to, export_options
from velo_tui.engine.filters import CompiledFilter, compile_filter
from velo_tui.engine.infer import infer_columns, infer_columns_from_messages
from velo_tui.engine.relations import (
    DLQ_COLUMNS,
    PSEUDO_COLUMNS,
    ROW,
    DeadLetterRelation,
    RecordDetail,
    Relation,
    TopicRelation,
)

log = logging.getLogger(__name__)

__all__ = [
    "RecordDetail", "RecordPage", "Target", "TopicInfo", "TopicViews", "display_text",
    "infer_columns",
]

#: The reference that names the DLQ entries of the session.
DLQ_REF = "dlq"

#: Messages sampled to infer the columns of a topic that has no known schema.
INFER_SAMPLE = 1000

#: Topics whose messages stay cached; the least recently used one is dropped beyond this.
MAX_CACHED_TOPICS = 6


@dataclass
class Target:
    """The records a reference names: a statement's sink topic, a topic, or the DLQ entries."""

    label: str  # the statement name, the topic name, or "dlq"
    kind: str  # "statement", "topic" or "dlq"
    topic: str
    statement: str | None = None  # the statement whose sink this is (or that writes the topic)
    #: Known columns; None when they must be inferred from the topic's messages.
    columns: list[ColumnSpec] | None = None


@dataclass
class RecordPage:
    """A window of records, after an optional filter, ready for a table."""

    label: str
    topic: str
    columns: list[str]  # field names in order; rows also carry the pseudo-columns
    #: Fields plus _partition, _offset, _timestamp and _key; DLQ rows also carry _entry, the
    #: entry's 0-based position for `TopicViews.dlq_record`.
    rows: list[dict[str, Any]]
    total: int  # messages the session wrote to the topic (DLQ: entries stored)
    matched: int  # records that pass the filter (total without one)
    offset: int  # index of the first row in the matched records
    expression: str | None = None

    @property
    def truncated(self) -> bool:
        return len(self.rows) < self.matched


@dataclass
class TopicInfo:
    """A topic with its role in the pipeline and its per-partition watermarks."""

    name: str
    role: str  # "source", "sink", "intermediate", "dlq" or "other"
    partitions: list[PartitionWatermarks] = field(default_factory=list)
    total: int = 0  # messages between the low and high watermarks
    session_messages: int = 0  # messages written since the session started
    producer: str | None = None  # statement that writes the topic
    consumers: list[str] = field(default_factory=list)  # statements that read it


class TopicViews:
    """Record views over a session's topics; every public method is thread-safe."""

    def __init__(self, session) -> None:  # session: velo_tui.engine.session.Session
        self.session = session
        self._con = duckdb.connect()
        self._lock = threading.RLock()
        self._relations: OrderedDict[str, Relation] = OrderedDict()
        self._numbers = itertools.count(1)

    # -- references ----------------------------------------------------------------------------

    def resolve(self, ref: str) -> Target:
        """Return the target that `ref` names.

        `ref` is a statement name or 1-based number, a topic, a source or sink name from a WITH
        clause (meaning its topic), or `dlq` for the DLQ entries.
        """
        text = str(ref).strip()
        if not text:
            raise InputError("a statement, topic or 'dlq' is missing; " + self._choices())
        pipeline = self.session.pipeline
        statement = self._statement(text)
        if statement is not None:
            state = self.session.state(statement.name)
            return Target(statement.name, "statement", statement.sink.topic, statement.name,
                          list(state.output_columns) or None)
        if text.lower() == DLQ_REF:
            return Target(DLQ_REF, "dlq", self.session.dlq_topic, None, list(DLQ_COLUMNS))
        topic = self._topic_named(text)
        if topic is not None:
            producer = pipeline.producer_of(topic)
            return Target(text, "topic", topic, producer.name if producer else None,
                          self._topic_columns(topic))
        raise InputError(f"no statement or topic named '{text}'; " + self._choices())

    def _statement(self, text: str):
        statements = self.session.pipeline.statements
        if text.isdigit():
            number = int(text)
            return statements[number - 1] if 1 <= number <= len(statements) else None
        return next((s for s in statements if s.name.lower() == text.lower()), None)

    def _topic_named(self, text: str) -> str | None:
        """Return the topic called `text`, or the topic of the source or sink named `text` in SQL."""
        if text in self._known_topics():
            return text
        for statement in self.session.pipeline.statements:
            for endpoint in (statement.source, statement.sink):
                if endpoint.name.lower() == text.lower():
                    return endpoint.topic
        return None

    def _known_topics(self) -> list[str]:
        topics = self.session.pipeline.topics() + [self.session.dlq_topic]
        for name in self.session.broker.list_topics():
            if name not in topics:
                topics.append(name)
        return topics

    def _choices(self) -> str:
        statements = ", ".join(
            f"{number}. {s.name}" for number, s in enumerate(self.session.pipeline.statements, 1)
        )
        topics = ", ".join(self.session.pipeline.topics() + [self.session.dlq_topic])
        return f"statements: {statements}; topics: {topics}; or {DLQ_REF} for the DLQ entries"

    def _topic_columns(self, topic: str) -> list[ColumnSpec] | None:
        """Return the known columns of `topic`: its writer's output, else its readers' schema."""
        pipeline = self.session.pipeline
        producer = pipeline.producer_of(topic)
        if producer is not None:
            return list(self.session.state(producer.name).output_columns) or None
        for statement in pipeline.statements:
            if statement.source.topic != topic:
                continue
            try:
                schema = self.session.source_schema(statement)
            except InputError as error:
                log.debug("no schema for topic %s: %s", topic, error)
                return None
            if schema is not None:
                return columns_from_schema(schema)
        return None

    # -- cached relations ------------------------------------------------------------------------

    def _relation(self, target: Target) -> Relation:
        if target.kind == "dlq":
            return self._dead_letter_relation(target)
        marks = self.session.broker.watermarks(target.topic)
        version = tuple((m.partition, m.low, m.high) for m in marks)
        cached = self._relations.get(target.topic)
        if cached is not None and cached.version == version and (
            target.columns is None or _same_columns(cached.columns, target.columns)
        ):
            cached.label = target.label
            self._relations.move_to_end(target.topic)
            return cached
        messages = self.session.broker.read_all(target.topic, self.session.offsets_for(target.topic))
        columns = target.columns
        if columns is None:
            columns = infer_columns_from_messages(messages.slice(0, INFER_SAMPLE))
        if cached is not None:
            cached.drop()
        relation = TopicRelation(self._con, next(self._numbers), target.label, target.topic, messages,
                                 columns, version)
        self._relations[target.topic] = relation
        self._relations.move_to_end(target.topic)
        while len(self._relations) > MAX_CACHED_TOPICS:
            _, evicted = self._relations.popitem(last=False)
            evicted.drop()
        log.debug("cached %d message(s) of topic %s", relation.total, target.topic)
        return relation

    def _dead_letter_relation(self, target: Target) -> Relation:
        entries = self.session.dlq.snapshot()
        cached = self._relations.get("\0dlq")
        if cached is not None and cached.version == len(entries):
            return cached
        if cached is not None:
            cached.drop()
        relation = DeadLetterRelation(self._con, target.topic, entries)
        self._relations["\0dlq"] = relation
        return relation

    def warm(self, ref: str) -> None:
        """Cache `ref`'s messages and the typed values of all its fields, so filters run fast."""
        with self._lock:
            relation = self._relation(self.resolve(ref))
            relation.materialise([c.name for c in relation.columns])

    # -- records ---------------------------------------------------------------------------------

    def page(self, ref: str, offset: int, limit: int, expression: str | None = None) -> RecordPage:
        """Return `limit` records from index `offset` of the records that match `expression`."""
        offset = max(0, int(offset))
        limit = max(0, int(limit))
        with self._lock:
            target = self.resolve(ref)
            relation = self._relation(target)
            if expression is not None and expression.strip():
                compiled = self._compile(relation, expression)
                positions = self._matching_positions(relation, compiled)
                matched = len(positions)
                chosen = positions[offset:offset + limit]
            else:
                expression = None
                matched = relation.total
                chosen = np.arange(offset, min(offset + limit, matched), dtype=np.int64)
            window = relation.window(chosen).drop_columns([ROW])
            rows = window.to_pylist()
        return RecordPage(
            label=target.label, topic=target.topic, columns=[c.name for c in relation.columns],
            rows=rows, total=relation.total, matched=matched, offset=offset, expression=expression,
        )

    def head(self, ref: str, n: int = 10) -> RecordPage:
        """Return the first `n` records in (partition, offset) order."""
        return self.page(ref, 0, n)

    def tail(self, ref: str, n: int = 10) -> RecordPage:
        """Return the last `n` records in (partition, offset) order."""
        with self._lock:
            total = self._relation(self.resolve(ref)).total
            return self.page(ref, max(0, total - max(0, n)), n)

    def filter(self, ref: str, expression: str, limit: int = 100) -> RecordPage:
        """Return the first `limit` records that match `expression`, and how many match."""
        if not expression or not expression.strip():
            raise InputError("the filter expression is empty; write one like price > 100")
        return self.page(ref, 0, limit, expression)

    def count(self, ref: str, expression: str | None = None) -> int:
        """Return how many records of `ref` match `expression` (all of them without one)."""
        with self._lock:
            relation = self._relation(self.resolve(ref))
            if expression is None or not expression.strip():
                return relation.total
            compiled = self._compile(relation, expression)
            query = f"SELECT count(*) FROM {relation.view} WHERE {compiled.where}"
            return int(self._run(relation, compiled, query).fetchall()[0][0])

    def schema(self, ref: str) -> list[tuple[str, str]]:
        """Return (field name, DuckDB type) of each field of `ref`, inferred where none is known."""
        with self._lock:
            relation = self._relation(self.resolve(ref))
            return [(c.name, c.duckdb_type) for c in relation.columns]

    def record(self, ref: str, partition: int | None, offset: int | None) -> RecordDetail:
        """Return one record in full.

        For `dlq` it is the first entry from that partition and offset, where None matches an
        entry without one (a record rejected before it reached a topic). Rows of a DLQ page
        carry `_entry`, the exact entry for `dlq_record`.
        """
        with self._lock:
            target = self.resolve(ref)
            relation = self._relation(target)
            position = relation.position_of(partition, offset)
            if position is None:
                raise InputError(
                    f"{target.label} has no record at partition {partition}, offset {offset}; "
                    f"use head or tail to see the offsets it holds"
                )
            detail = relation.detail(position)
        detail.label = target.label
        return detail

    def dlq_record(self, index: int) -> RecordDetail:
        """Return DLQ entry number `index` (0-based, in the order they were stored) in full."""
        with self._lock:
            relation = self._relation(self.resolve(DLQ_REF))
            if not 0 <= index < relation.total:
                raise InputError(
                    f"DLQ entry {index + 1} was not found; the DLQ holds {relation.total} entries, "
                    "numbered from 1"
                )
            return relation.detail(index)

    def dlq_entries(self, statement: str | None = None) -> list[DeadLetterEntry]:
        """Return the stored DLQ entries, of one statement (name or number) when given."""
        entries = self.session.dlq.snapshot()
        if statement is None:
            return entries
        name = self.session.pipeline.statement(statement).name
        return [entry for entry in entries if entry.statement == name]

    # -- topics ----------------------------------------------------------------------------------

    def topics(self) -> list[TopicInfo]:
        """Return every topic of the pipeline, the DLQ topic and other topics on the broker."""
        pipeline = self.session.pipeline
        infos = []
        for name in self._known_topics():
            marks = self.session.broker.watermarks(name)
            starts = self.session.offsets_for(name)
            producer = pipeline.producer_of(name)
            consumers = [s.name for s in pipeline.statements if s.source.topic == name]
            infos.append(TopicInfo(
                name=name,
                role=self._role(name, producer is not None, bool(consumers)),
                partitions=list(marks),
                total=sum(m.count for m in marks),
                session_messages=sum(m.high - max(m.low, starts.get(m.partition, 0)) for m in marks),
                producer=producer.name if producer else None,
                consumers=consumers,
            ))
        return infos

    def _role(self, name: str, written: bool, read: bool) -> str:
        if name == self.session.dlq_topic:
            return "dlq"
        if written and read:
            return "intermediate"
        if written:
            return "sink"
        if read:
            return "source"
        return "other"

    # -- export ----------------------------------------------------------------------------------

    def export(self, ref: str, path: Path, expression: str | None = None) -> int:
        """Write the records of `ref` (those matching `expression`) to `path`; return the count.

        The format follows the suffix: .json, .jsonl, .ndjson, .csv or .parquet.
        """
        path = Path(path)
        export_options(path)
        with self._lock:
            relation = self._relation(self.resolve(ref))
            where = ""
            if expression is not None and expression.strip():
                compiled = self._compile(relation, expression)
                where = f" WHERE {compiled.inline}"
            relation.materialise([c.name for c in relation.columns])
            select = relation.export_select() if relation.columns else ", ".join(
                c.name for c in PSEUDO_COLUMNS
            )
            query = f"SELECT {select} FROM {relation.view}{where} ORDER BY {ROW}"
            try:
                return copy_to(self._con, query, path)
            except duckdb.Error as error:
                raise InputError(
                    f"export of {relation.label} to {path} failed: {_first_line(error)}"
                ) from error

    # -- helpers ---------------------------------------------------------------------------------

    def _compile(self, relation: Relation, expression: str) -> CompiledFilter:
        compiled = compile_filter(expression, relation.filter_columns)
        relation.materialise(compiled.fields)
        return compiled

    def _matching_positions(self, relation: Relation, compiled: CompiledFilter) -> np.ndarray:
        query = f"SELECT {ROW} FROM {relation.view} WHERE {compiled.where} ORDER BY {ROW}"
        result = self._run(relation, compiled, query).fetchnumpy()[ROW]
        return np.asarray(result, dtype=np.int64)

    def _run(self, relation: Relation, compiled: CompiledFilter, query: str) -> duckdb.DuckDBPyConnection:
        try:
            return self._con.execute(query, compiled.params)
        except duckdb.Error as error:
            raise InputError(
                f"filter '{compiled.expression}' failed on {relation.label}: {_first_line(error)}"
            ) from error

    def close(self) -> None:
        with self._lock:
            self._relations.clear()
            self._con.close()


def _same_columns(left: list[ColumnSpec], right: list[ColumnSpec]) -> bool:
    return [(c.name, c.duckdb_type) for c in left] == [(c.name, c.duckdb_type) for c in right]


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def display_text(value: Any) -> str:
    """Return a cell value as one line of text: null as "null", control characters escaped."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
        return text[:-3] if value.microsecond and value.microsecond % 1000 == 0 else text
    if isinstance(value, (date, time, Decimal, int, float)):
        return str(value)
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(char: str) -> str:
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


"""Run one statement over its source topic, micro-batch by micro-batch.

Each micro-batch is consumed from the broker, decoded and validated, run through the
translated SELECT in DuckDB, encoded as JSON and produced to the sink topic. A record that fails
at any stage becomes a DLQ entry and the batch goes on. A failing SQL batch is split in halves
until the failing records are isolated, so one poison record never costs its batch.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from velo_tui.engine.broker.base import Broker
from velo_tui.engine.decode import FAILURE_SCHEMA, Decoder
from velo_tui.engine.dlq import DeadLetterEntry, DeadLetterQueue
from velo_tui.engine.encode import encode_table, finish_encoding
from velo_tui.engine.errors import Cancelled, VeloError
from velo_tui.engine.fused import FusedStatement, fuse_statement, with_row_numbers
from velo_tui.engine.pipeline import ROW_ID_COLUMN, SOURCE_RELATION, Statement

log = logging.getLogger(__name__)

#: Kafka's default limit on one message (`message.max.bytes`, about 1 MiB). Both brokers apply
#: it, so a record too large for Kafka fails the same way on the embedded broker.
DEFAULT_MAX_MESSAGE_BYTES = 1_048_576

FAULT_HEADER = "velo.fault"
FAULT_ID_HEADER = "velo.fault.id"

#: DuckDB errors that depend on the data of a row. Any other error (a binder error, say) is a
#: defect of the statement and fails it as a whole.
ROW_ERRORS = (
    duckdb.ConversionException,
    duckdb.OutOfRangeException,
    duckdb.InvalidInputException,
    duckdb.InvalidTypeException,
    duckdb.TypeMismatchException,
)


#: Worker threads per statement: one per core, at most two. Each micro-batch in flight holds
#: its decoded rows in memory. NOTE: more than two workers were not measured.
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))


class StatementFailed(VeloError):
    """The statement itself is wrong (not one of its records): it stops with this message."""


@dataclass
class StatementStats:
    """Per-statement counters; `records_in == records_out + filtered + dlq + dlq_dropped`."""

    records_in: int = 0
    records_out: int = 0
    filtered: int = 0
    dlq: int = 0
    dlq_dropped: int = 0
    batches: int = 0
    duration_s: float = 0.0
    batch_latencies_s: list[float] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.dlq + self.dlq_dropped

    @property
    def balanced(self) -> bool:
        return self.records_in == self.records_out + self.filtered + self.dlq + self.dlq_dropped


@dataclass
class _BatchResult:
    """A micro-batch processed up to producing: what the executor's own thread still does."""

    messages: pa.Table  # the consumed batch
    outputs: list[pa.Table]  # PRODUCE_SCHEMA batches for the sink topic, in order
    failures: pa.Table  # FAILURE_SCHEMA
    passed_sql: int  # rows that passed decoding and the SELECT without error
    executed: int  # rows the SELECT returned
    started: float  # time.perf_counter() when its processing began


@dataclass
class BatchProgress:
    """Progress of a running statement, sent after every micro-batch."""

    statement: str
    records_in: int
    records_total: int
    records_out: int
    errors: int


class StatementExecutor:
    """Runs one statement over everything its source topic holds when the run starts."""

    def __init__(
        self,
        statement: Statement,
        broker: Broker,
        decoder: Decoder,
        dlq: DeadLetterQueue,
        *,
        setup_sql: list[str] | tuple[str, ...] = (),
        dlq_enabled: bool = True,
        batch_size: int = 1000,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        delay_ms: Callable[[], int] | None = None,
        start_offsets: Mapping[int, int] | None = None,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.statement = statement
        self.broker = broker
        self.decoder = decoder
        self.dlq = dlq
        self.dlq_enabled = dlq_enabled
        self.batch_size = batch_size
        self.max_message_bytes = max_message_bytes
        self.delay_ms = delay_ms
        self.start_offsets = dict(start_offsets or {})
        self.stats = StatementStats()
        self.workers = max(1, workers)
        self.setup_sql = list(setup_sql)
        # Per connection: the bound fused query, or False when the statement has none.
        self._fused: dict[int, FusedStatement | bool] = {}
        self._local = threading.local()
        self._worker_connections: list[duckdb.DuckDBPyConnection] = []
        self.con = duckdb.connect()
        # The workers already run one micro-batch per core, and a query over one micro-batch
        # gains less from DuckDB's own threads than their coordination costs.
        self.con.execute(f"SET threads = {max(1, (os.cpu_count() or 1) // self.workers)}")
        for sql in setup_sql:
            self.con.execute(sql)

    def run(
        self,
        progress: Callable[[BatchProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> StatementStats:
        """Process every message of the source topic; return the statement's counters."""
        statement = self.statement
        marks = self.broker.watermarks(statement.source.topic)
        self._check_nothing_deleted(marks)
        total = sum(
            mark.high - max(mark.low, self.start_offsets.get(mark.partition, 0))
            for mark in marks
        )
        self.broker.create_topic(statement.sink.topic, statement.sink.partitions)
        log.info(
            "statement %s: reading %d message(s) from %s, writing to %s",
            statement.name, total, statement.source.topic, statement.sink.topic,
        )
        started = time.perf_counter()
        # Worker threads decode, query and encode the next micro-batches, because DuckDB releases
        # the GIL. This thread produces finished batches and records their DLQ entries strictly
        # in consumption order, so the sink topic and the DLQ are the same as one by one.
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="velo-batch")
        pending: deque[Future[_BatchResult]] = deque()
        try:
            batches = self.broker.consume(
                statement.source.topic, self.batch_size, self.start_offsets
            )
            for messages in batches:
                self._check_cancel(cancel)
                pending.append(pool.submit(self._compute, messages))
                if len(pending) >= self.workers:
                    self._check_cancel(cancel)
                    self._complete(pending.popleft().result(), total, progress)
            while pending:
                self._check_cancel(cancel)
                self._complete(pending.popleft().result(), total, progress)
            # The statement is done only once the sink and DLQ topics hold all its messages.
            self.broker.flush()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self._close_worker_connections()
            self.stats.duration_s = time.perf_counter() - started
        log.info(
            "statement %s: %d in, %d out, %d filtered, %d DLQ, %d dropped in %.3f s",
            statement.name, self.stats.records_in, self.stats.records_out, self.stats.filtered,
            self.stats.dlq, self.stats.dlq_dropped, self.stats.duration_s,
        )
        return self.stats

    def _check_nothing_deleted(self, marks: list) -> None:
        """Fail when the broker deleted messages this session wrote before the statement read them.

        Retention or compaction on a Kafka topic can remove messages below the session's start
        offsets, and reading on from the low watermark would lose them without a count.
        """
        # A partition without a start offset did not exist when the session opened: it starts at 0.
        deleted = sum(
            max(0, mark.low - self.start_offsets.get(mark.partition, 0)) for mark in marks
        )
        if deleted:
            topic = self.statement.source.topic
            raise StatementFailed(
                f"{deleted} message(s) of topic {topic} were deleted by the broker (retention or "
                f"compaction) before statement {self.statement.name} read them; raise the "
                f"topic's retention.ms (velo-tui creates topics with retention.ms=-1) and run again"
            )

    def check(self, columns: pa.Schema) -> None:
        """Run the translated SELECT on an empty relation to surface binder errors up front."""
        self._run_sql(columns.empty_table())

    # -- one micro-batch ---------------------------------------------------------------------

    def _check_cancel(self, cancel: threading.Event | None) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"statement {self.statement.name} cancelled")

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """Return the calling worker thread's connection: a cursor on this executor's database."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = self.con.cursor()
            for sql in self.setup_sql:
                con.execute(sql)
            self._local.con = con
            self._worker_connections.append(con)
        return con

    def _close_worker_connections(self) -> None:
        for con in self._worker_connections:
            con.close()
        self._worker_connections.clear()
        self._local = threading.local()
        self._fused.clear()

    def _compute(self, messages: pa.Table) -> _BatchResult:
        """Process one micro-batch up to the messages to produce (in a worker thread)."""
        started = time.perf_counter()
        con = self._connection()
        encoded_tables, failures, passed_sql = self._encode_batch(con, messages)
        outputs = []
        for table in encoded_tables:
            encoded = finish_encoding(table, messages, self.statement.key_column)
            failures.append(encoded.failures)
            batch, too_large = self._split_oversized(encoded.messages, encoded.rows)
            failures.append(too_large)
            if batch.num_rows:
                outputs.append(batch)
        return _BatchResult(
            messages=messages,
            outputs=outputs,
            failures=pa.concat_tables(failures) if failures else FAILURE_SCHEMA.empty_table(),
            passed_sql=passed_sql,
            executed=sum(table.num_rows for table in encoded_tables),
            started=started,
        )

    def _complete(
        self,
        result: _BatchResult,
        total: int,
        progress: Callable[[BatchProgress], None] | None,
    ) -> None:
        """Produce a processed micro-batch, record its DLQ entries and count it (this thread)."""
        self.stats.records_in += result.messages.num_rows
        produced = 0
        for batch in result.outputs:
            self.broker.produce(self.statement.sink.topic, batch)
            produced += batch.num_rows
        self.stats.records_out += produced
        self.stats.filtered += result.passed_sql - result.executed
        self._dead_letter(result.messages, result.failures)
        self._apply_delay()
        self.stats.batches += 1
        # Latency runs from the start of the batch's processing until its last message is
        # handed to the broker (Kafka: queued, not yet acknowledged).
        self.stats.batch_latencies_s.append(time.perf_counter() - result.started)
        if progress is not None:
            progress(
                BatchProgress(
                    self.statement.name, self.stats.records_in, total,
                    self.stats.records_out, self.stats.errors,
                )
            )

    def _encode_batch(
        self, con: duckdb.DuckDBPyConnection, messages: pa.Table
    ) -> tuple[list[pa.Table], list[pa.Table], int]:
        """Decode, run the SELECT and encode; return encoded tables, failures and the count of
        rows that passed the SELECT without error (filtered or not)."""
        if self.decoder.trusted:
            encoded_tables = self._run_fused(con, with_row_numbers(messages))
            if encoded_tables is not None:
                return encoded_tables, [], messages.num_rows

        decoded = self.decoder.decode(con, messages)
        if decoded.rows.num_rows and not self.decoder.trusted:
            encoded_tables = self._run_fused(con, decoded.rows)
            if encoded_tables is not None:
                return encoded_tables, [decoded.failures], decoded.rows.num_rows

        results, execute_failures = self._execute(decoded.rows, con)
        encoded_tables = [
            encode_table(con, result, self.statement.key_column)
            for result in results
            if result.num_rows
        ]
        passed_sql = decoded.rows.num_rows - sum(f.num_rows for f in execute_failures)
        return encoded_tables, [decoded.failures, *execute_failures], passed_sql

    def _run_fused(self, con: duckdb.DuckDBPyConnection, table: pa.Table) -> list[pa.Table] | None:
        """Run the fused query over `table`; None means: use the separate queries instead."""
        fused = self._fused.get(id(con))
        if fused is None:
            decoded_schema = None if self.decoder.trusted else table.schema
            fused = fuse_statement(con, self.statement, self.decoder, decoded_schema) or False
            self._fused[id(con)] = fused
        if fused is False or table.schema != fused.input_schema:
            return None
        try:
            return [fused.run(con, table)]
        except duckdb.Error as error:
            # A record made the query fail: the separate queries isolate it.
            log.debug("statement %s: fused query failed (%s); running the batch step by step",
                      self.statement.name, _first_line(error))
            return None

    def _execute(
        self, rows: pa.Table, con: duckdb.DuckDBPyConnection | None = None
    ) -> tuple[list[pa.Table], list[pa.Table]]:
        """Run the SELECT; on a row error, split the batch to isolate the failing rows."""
        if rows.num_rows == 0:
            return [], []
        try:
            return [self._run_sql(rows, con)], []
        except ROW_ERRORS as error:
            if rows.num_rows == 1:
                row_id = rows.column(ROW_ID_COLUMN)[0].as_py()
                return [], [_sql_failure(row_id, error)]
            middle = rows.num_rows // 2
            left_results, left_failures = self._execute(rows.slice(0, middle), con)
            right_results, right_failures = self._execute(rows.slice(middle), con)
            return left_results + right_results, left_failures + right_failures
        except duckdb.Error as error:
            raise StatementFailed(
                f"statement {self.statement.name} (line {self.statement.line}) failed in "
                f"DuckDB: {_first_line(error)}"
            ) from error

    def _run_sql(self, rows: pa.Table, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        con = con or self.con
        con.register(SOURCE_RELATION, rows)
        try:
            return con.sql(self.statement.duckdb_sql).to_arrow_table()
        finally:
            con.unregister(SOURCE_RELATION)

    def _split_oversized(self, batch: pa.Table, rows: pa.Array) -> tuple[pa.Table, pa.Table]:
        sizes = pc.binary_length(batch.column("value"))
        too_large = pc.fill_null(pc.greater(sizes, self.max_message_bytes), False)
        if not pc.any(too_large).as_py():
            return batch, FAILURE_SCHEMA.empty_table()
        bad_rows = rows.filter(too_large)
        bad_sizes = sizes.filter(too_large).to_pylist()
        count = len(bad_sizes)
        failures = pa.Table.from_arrays(
            [
                bad_rows,
                pa.array(["produce"] * count),
                pa.array(["record_too_large"] * count),
                pa.nulls(count, pa.string()),
                pa.array(
                    [
                        f"the output record is {size} bytes, over the {self.max_message_bytes}-byte "
                        "message limit (message.max.bytes)"
                        for size in bad_sizes
                    ]
                ),
            ],
            schema=FAILURE_SCHEMA,
        )
        return batch.filter(pc.invert(too_large)), failures

    def _apply_delay(self) -> None:
        if self.delay_ms is None:
            return
        delay = self.delay_ms()
        if delay > 0:
            # The slow_processing fault: this wait is the injected behaviour itself.
            time.sleep(delay / 1000)

    # -- dead letters ------------------------------------------------------------------------

    def _dead_letter(self, messages: pa.Table, failures: pa.Table) -> None:
        if failures.num_rows == 0:
            return
        failures = failures.sort_by(ROW_ID_COLUMN)
        origin = messages.take(failures.column(ROW_ID_COLUMN)).to_pylist()
        now = time.time()
        entries = []
        for message, failure in zip(origin, failures.to_pylist(), strict=True):
            headers = [(h["key"], h["value"]) for h in message["headers"] or []]
            fault = first_header(headers, FAULT_HEADER)
            fault_id = first_header(headers, FAULT_ID_HEADER)
            entries.append(
                DeadLetterEntry(
                    statement=self.statement.name,
                    stage=failure["stage"],
                    error_type=failure["error_type"],
                    message=_with_hint(failure, message["value"]),
                    topic=self.statement.source.topic,
                    partition=message["partition"],
                    offset=message["offset"],
                    timestamp=message["timestamp"],
                    key=message["key"],
                    value=message["value"],
                    headers=headers,
                    field=failure["field"],
                    # A record over the message size limit fails again unchanged; a produce
                    # failure of any other kind may pass on a retry.
                    recoverable=(
                        failure["stage"] == "produce" and failure["error_type"] != "record_too_large"
                    ),
                    failed_at=now,
                    fault=fault.decode("utf-8", "replace") if fault else None,
                    fault_id=fault_id.decode("utf-8", "replace") if fault_id else None,
                )
            )
        before_stored = self.dlq.counts_for(self.statement.name).stored
        before_dropped = self.dlq.counts_for(self.statement.name).dropped
        self.dlq.add(entries, enabled=self.dlq_enabled)
        counts = self.dlq.counts_for(self.statement.name)
        self.stats.dlq += counts.stored - before_stored
        self.stats.dlq_dropped += counts.dropped - before_dropped
        for entry in entries[:3]:
            log.debug(
                "statement %s: %s/%s at %s[%s]@%s: %s", entry.statement, entry.stage,
                entry.error_type, entry.topic, entry.partition, entry.offset, entry.message,
            )


def first_header(headers: list[tuple[str, bytes]], name: str) -> bytes | None:
    """Return the first value of header `name`: a record altered by several faults carries the
    fault that made it invalid first (a duplicate of a malformed record adds its tag after)."""
    return next((value for key, value in headers if key == name), None)


def _sql_failure(row_id: int, error: duckdb.Error) -> pa.Table:
    text = _first_line(error)
    lowered = text.lower()
    if "division by zero" in lowered:
        stage, error_type = "execute", "division_by_zero"
    elif isinstance(error, duckdb.ConversionException):
        stage, error_type = "cast", "conversion_error"
    elif isinstance(error, duckdb.OutOfRangeException) or "out of range" in lowered:
        stage, error_type = "execute", "out_of_range"
    else:
        stage, error_type = "execute", _snake(type(error).__name__)
    return pa.Table.from_pylist(
        [{ROW_ID_COLUMN: row_id, "stage": stage, "error_type": error_type, "field": None,
          "message": text}],
        schema=FAILURE_SCHEMA,
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _snake(name: str) -> str:
    name = name.removesuffix("Exception").removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() or "error"


def _with_hint(failure: dict, value: bytes | None) -> str:
    """Add a hint when a missing field is present under another letter case."""
    message = failure["message"]
    field_name = failure["field"]
    if failure["error_type"] != "missing_field" or not field_name or value is None:
        return message
    text = value.decode("utf-8", errors="replace")
    match = re.search(r'"(' + re.escape(field_name) + r')"\s*:', text, flags=re.IGNORECASE)
    if match and match.group(1) != field_name:
        return f"{message}; the record has '{match.group(1)}', which differs only in letter case"
    return message

"""Fill a statement's source topic before it runs: generated records, a data file, or the output
of an earlier query, passed through the fault plan and produced in micro-batches.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from velo_tui.engine.broker.base import PRODUCE_SCHEMA, Broker, make_produce_batch
from velo_tui.engine.errors import Cancelled, InputError, SourceLocation

log = logging.getLogger(__name__)

#: Records generated and produced per chunk, so memory grows with this, not with the record count.
GENERATION_CHUNK = 50_000

#: Threads that generate chunks ahead of the one being faulted and produced.
GENERATION_WORKERS = 2

#: How often a paced wait watching both the cancel and the stop event looks at the second one.
PACE_POLL_S = 0.05


@dataclass
class InputPlan:
    """Plan of the records to produce to one source topic before its statement runs."""

    statement: str
    source: str
    topic: str
    partitions: int
    schema: object | None  # velo_tui.engine.schema.Schema
    records: int = 0
    rate_per_second: float | None = None
    from_topic: str | None = None  # from_previous: copy this topic
    from_offsets: dict[int, int] | None = None  # where this session's messages of from_topic start
    data_file: Path | None = None
    key_field: str | None = None
    seed: int = 0
    location: SourceLocation | None = None


@dataclass
class InputProgress:
    """Progress of filling one source topic."""

    topic: str
    produced: int
    total: int


def input_seed(seed: int, source: str) -> int:
    """Derive a stable per-source seed, so two sources of one run get different data."""
    return (seed * 1_000_003 + zlib.crc32(source.encode("utf-8"))) % (2**63)


class InputProducer:
    """Produces one `InputPlan` to the broker, applying faults and the message size limit."""

    def __init__(
        self,
        broker: Broker,
        fault_plan: object | None,
        max_message_bytes: int,
        on_rejected: Callable[[InputPlan, pa.Table, list[str]], None],
    ) -> None:
        self.broker = broker
        self.fault_plan = fault_plan
        self.max_message_bytes = max_message_bytes
        self.on_rejected = on_rejected

    def produce(
        self,
        plan: InputPlan,
        progress: Callable[[InputProgress], None] | None = None,
        cancel: threading.Event | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Fill `plan.topic`; return how many messages were produced.

        `cancel` abandons the statement (raising Cancelled); `stop` only ends production early,
        keeping what was produced, as stress mode's `--duration` does.
        """
        self.broker.create_topic(plan.topic, plan.partitions)
        log.info("input %s: producing to %s (%d record(s) planned)", plan.source, plan.topic,
                 plan.records)
        produced = 0
        started = time.monotonic()
        total = plan.records
        for batch in self._batches(plan):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"filling topic {plan.topic} cancelled")
            batch = self._accept(plan, batch)
            if batch.num_rows:
                self.broker.produce(plan.topic, batch)
                produced += batch.num_rows
            total = max(total, produced)
            if progress is not None:
                progress(InputProgress(plan.topic, produced, total))
            self._pace(plan, produced, started, cancel, stop)
            if stop is not None and stop.is_set():
                log.info("input %s: production stopped after %d of %d message(s)",
                         plan.source, produced, plan.records)
                break
        # The statement reads the topic next: wait until the broker has stored every message.
        self.broker.flush()
        log.info("input %s: produced %d message(s) to %s", plan.source, produced, plan.topic)
        return produced

    def _batches(self, plan: InputPlan):
        if plan.from_topic is not None:
            for messages in self.broker.consume(plan.from_topic, GENERATION_CHUNK, plan.from_offsets):
                yield make_produce_batch(
                    messages.column("value"), messages.column("key"),
                    messages.column("timestamp"), messages.column("headers"),
                )
            return
        if plan.data_file is not None:
            yield from self._faulted(plan, read_data_file(plan.data_file, plan.key_field, plan.location))
            return
        if plan.schema is None or plan.records <= 0:
            return
        yield from self._generated(plan)

    def _generated(self, plan: InputPlan):
        """Yield the generated chunks of `plan`, faulted, in order.

        Worker threads generate the next chunks (the JSON encoding runs in DuckDB, which
        releases the GIL) while this thread applies faults, which must see the chunks in order.
        """
        from velo_tui.engine.generate import generate_records

        chunk = self._chunk_size(plan)
        pool = ThreadPoolExecutor(max_workers=GENERATION_WORKERS, thread_name_prefix="velo-generate")
        pending: deque[Future[pa.Table]] = deque()
        try:
            for start in range(0, plan.records, chunk):
                pending.append(pool.submit(
                    generate_records, plan.schema, min(chunk, plan.records - start), plan.seed,
                    key_field=plan.key_field, start_index=start,
                ))
                if len(pending) > GENERATION_WORKERS:
                    yield from self._faulted(plan, pending.popleft().result())
            while pending:
                yield from self._faulted(plan, pending.popleft().result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _chunk_size(plan: InputPlan) -> int:
        if plan.rate_per_second:
            # Small chunks keep the pace smooth: about ten chunks a second.
            return max(1, min(GENERATION_CHUNK, int(plan.rate_per_second // 10) or 1))
        return GENERATION_CHUNK

    def _faulted(self, plan: InputPlan, batch: pa.Table):
        if self.fault_plan is not None:
            batch = self.fault_plan.apply(batch, plan.schema, plan.source)
        yield batch

    def _accept(self, plan: InputPlan, batch: pa.Table) -> pa.Table:
        sizes = pc.binary_length(batch.column("value"))
        too_large = pc.fill_null(pc.greater(sizes, self.max_message_bytes), False)
        if not pc.any(too_large).as_py():
            return batch
        rejected = batch.filter(too_large)
        messages = [
            f"the input record is {size} bytes, over the {self.max_message_bytes}-byte message "
            f"limit (message.max.bytes), so it never reached topic {plan.topic}"
            for size in sizes.filter(too_large).to_pylist()
        ]
        self.on_rejected(plan, rejected, messages)
        return batch.filter(pc.invert(too_large))

    @staticmethod
    def _pace(
        plan: InputPlan,
        produced: int,
        started: float,
        cancel: threading.Event | None,
        stop: threading.Event | None = None,
    ) -> None:
        if not plan.rate_per_second:
            return
        due = started + produced / plan.rate_per_second
        # Pacing to rate_per_second is the requested behaviour; cancel or stop ends the wait early.
        events = [event for event in (cancel, stop) if event is not None]
        while (wait := due - time.monotonic()) > 0:
            if any(event.is_set() for event in events):
                return
            if len(events) == 1:
                events[0].wait(wait)
            elif events:
                events[0].wait(min(wait, PACE_POLL_S))
            else:
                time.sleep(wait)


def read_data_file(path: Path, key_field: str | None, location: SourceLocation | None) -> pa.Table:
    """Read a CSV, JSON or JSON-lines file into a produce batch of JSON values."""
    if not path.is_file():
        raise InputError(
            f"data file {path} was not found; fix data_file or create the file", location
        )
    suffix = path.suffix.lower()
    reader = {
        ".csv": "read_csv_auto",
        ".json": "read_json_auto",
        ".jsonl": "read_json_auto",
        ".ndjson": "read_json_auto",
    }.get(suffix)
    if reader is None:
        raise InputError(
            f"data file {path} has an unknown format; use .csv, .json, .jsonl or .ndjson", location
        )
    con = duckdb.connect()
    literal = "'" + str(path).replace("'", "''") + "'"
    key = "NULL::BLOB"
    try:
        if key_field:
            quoted = '"' + key_field.replace('"', '""') + '"'
            key = f"CAST(CAST(t.{quoted} AS VARCHAR) AS BLOB)"
        table = con.sql(
            f"SELECT CAST(to_json(t) AS BLOB) AS value, {key} AS key FROM {reader}({literal}) t"
        ).to_arrow_table()
    except duckdb.Error as error:
        raise InputError(f"data file {path} could not be read: {error}", location) from error
    return make_produce_batch(table.column("value"), table.column("key")).cast(PRODUCE_SCHEMA)

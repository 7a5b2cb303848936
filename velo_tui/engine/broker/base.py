"""The broker interface: topics of partitioned, offset-addressed messages exchanged as Arrow tables.

Messages cross this interface in batches, never one by one, so the executor stays vectorised.
A consumed batch follows `MESSAGE_SCHEMA`. A batch to produce follows `PRODUCE_SCHEMA`, whose
`partition` may be null to let the broker choose (by key hash, or round robin for null keys).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER_TYPE = pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())]))

MESSAGE_SCHEMA = pa.schema(
    [
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", pa.int64()),  # milliseconds since the Unix epoch
        ("key", pa.binary()),
        ("value", pa.binary()),  # null for a tombstone
        ("headers", HEADER_TYPE),
    ]
)

PRODUCE_SCHEMA = pa.schema(
    [
        ("partition", pa.int32()),  # null: the broker chooses
        ("timestamp", pa.int64()),
        ("key", pa.binary()),
        ("value", pa.binary()),
        ("headers", HEADER_TYPE),
    ]
)


@dataclass(frozen=True)
class PartitionWatermarks:
    """Low and high watermark of one partition; `high` is the offset the next message gets."""

    partition: int
    low: int
    high: int

    @property
    def count(self) -> int:
        return self.high - self.low


def empty_messages() -> pa.Table:
    """Return an empty consumed batch."""
    return MESSAGE_SCHEMA.empty_table()


def make_produce_batch(
    values: pa.Array | list[bytes | None],
    keys: pa.Array | list[bytes | None] | None = None,
    timestamps: pa.Array | list[int | None] | None = None,
    headers: pa.Array | list | None = None,
    partitions: pa.Array | list[int | None] | None = None,
) -> pa.Table:
    """Build a batch for `Broker.produce`; omitted columns are null."""
    length = len(values)

    def column(data, arrow_type: pa.DataType) -> pa.Array:
        if data is None:
            return pa.nulls(length, arrow_type)
        if isinstance(data, pa.ChunkedArray):
            data = data.combine_chunks()
        if isinstance(data, pa.Array):
            return data if data.type == arrow_type else data.cast(arrow_type)
        return pa.array(data, arrow_type)

    return pa.Table.from_arrays(
        [
            column(partitions, pa.int32()),
            column(timestamps, pa.int64()),
            column(keys, pa.binary()),
            column(values, pa.binary()),
            column(headers, HEADER_TYPE),
        ],
        schema=PRODUCE_SCHEMA,
    )


_thread_local = threading.local()


def choose_partitions(batch: pa.Table, count: int, round_robin_start: int) -> pa.Array:
    """Pick a partition per message of a produce batch with `count` (> 1) partitions.

    A given partition is kept; a keyed message goes to DuckDB's `hash(key) % count`; a message
    without key takes the next partition round robin from `round_robin_start`. Both brokers use
    this rule, so a record lands on the same partition and offset wherever it runs.
    """
    con = getattr(_thread_local, "connection", None)
    if con is None:
        con = _thread_local.connection = duckdb.connect()
    unplaced = pc.and_(pc.is_null(batch.column("partition")), pc.is_null(batch.column("key")))
    # Position of each unkeyed message among the unkeyed ones, so the round robin has no gaps.
    sequence = np.cumsum(np.asarray(unplaced.combine_chunks(), dtype=np.int64)) - 1
    placed = pa.table(
        {
            "key": batch.column("key"),
            "partition": batch.column("partition"),
            "round_robin": pa.array((sequence + round_robin_start) % count, pa.int64()),
        }
    )
    con.register("velo_placement", placed)
    try:
        chosen = con.sql(
            f"""
            SELECT CAST(CASE
                WHEN partition IS NOT NULL THEN partition
                WHEN key IS NOT NULL THEN hash(key) % {int(count)}
                ELSE round_robin
            END AS INTEGER) AS partition
            FROM velo_placement
            """
        ).to_arrow_table()
    finally:
        con.unregister("velo_placement")
    return chosen.column(0).combine_chunks()


def null_key_count(batch: pa.Table) -> int:
    """Count the messages that take a round-robin partition (no partition and no key)."""
    unplaced = pc.and_(pc.is_null(batch.column("partition")), pc.is_null(batch.column("key")))
    return int(pc.sum(pc.cast(unplaced, pa.int64())).as_py() or 0)


class Broker(ABC):
    """Store of topics: the embedded broker or a Kafka cluster.

    Implementations must be safe to call from two threads at once (the debugger reads topics
    while a statement runs), and must keep per-partition order.
    """

    #: Short description for reports and screens, never containing secrets.
    description: str = "broker"

    @abstractmethod
    def create_topic(self, topic: str, partitions: int = 1) -> None:
        """Create `topic` with `partitions` partitions; an existing topic is left as it is."""

    @abstractmethod
    def delete_topic(self, topic: str) -> None:
        """Delete `topic` and its messages; a missing topic is ignored."""

    @abstractmethod
    def list_topics(self) -> list[str]:
        """Return the names of all topics, sorted."""

    @abstractmethod
    def partition_count(self, topic: str) -> int:
        """Return how many partitions `topic` has (0 when it does not exist)."""

    @abstractmethod
    def produce(self, topic: str, batch: pa.Table) -> None:
        """Append a `PRODUCE_SCHEMA` batch to `topic`, creating the topic when missing.

        May return before the messages are stored: the Kafka broker only queues them. A read of
        `topic` (`consume`, `watermarks`, `read_all`) still returns every message produced
        before it. Raises `BrokerError` for failures known by then; `flush` reports the others.
        """

    def flush(self, timeout_s: float | None = None) -> None:
        """Return once every produced message is stored; raise `BrokerError` otherwise.

        `timeout_s` limits how long a flush may go without progress (Kafka: default 30 s).
        The default does nothing, for brokers whose `produce` stores messages before returning.
        """

    @abstractmethod
    def consume(
        self,
        topic: str,
        max_batch: int = 1000,
        start_offsets: Mapping[int, int] | None = None,
    ) -> Iterator[pa.Table]:
        """Yield `MESSAGE_SCHEMA` batches of at most `max_batch` messages.

        Each partition is read from `start_offsets[partition]` when given, else from its low
        watermark. Reading ends at the high watermarks taken when iteration starts, so an empty
        topic ends at once. Each batch holds messages of one partition in offset order.
        """

    @abstractmethod
    def watermarks(self, topic: str) -> list[PartitionWatermarks]:
        """Return the low and high watermark of every partition of `topic`."""

    def read_all(self, topic: str, start_offsets: Mapping[int, int] | None = None) -> pa.Table:
        """Return every message of `topic` (from `start_offsets`) as one table."""
        batches = list(self.consume(topic, max_batch=100_000, start_offsets=start_offsets))
        if not batches:
            return empty_messages()
        return pa.concat_tables(batches)

    def close(self) -> None:
        """Release connections; the default has none."""

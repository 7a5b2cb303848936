"""The embedded broker: topics kept in this process as Arrow tables, laid out as Kafka stores them.

Each partition is a list of immutable Arrow chunks plus its high watermark. Producing appends a
chunk; consuming slices chunks without copying the stored columns and adds each message's
partition and offset. Offsets start at 0 and never repeat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from velo_tui.engine.broker.base import (
    MESSAGE_SCHEMA,
    PRODUCE_SCHEMA,
    Broker,
    PartitionWatermarks,
    choose_partitions,
    null_key_count,
)
from velo_tui.engine.errors import InputError

log = logging.getLogger(__name__)


#: Columns a partition stores per message. Partition and offset follow from a message's position
#: (offsets start at 0 and are contiguous), so they are built only when messages are read.
STORED_SCHEMA = pa.schema([MESSAGE_SCHEMA.field(name) for name in ("timestamp", "key", "value", "headers")])


@dataclass
class _Partition:
    chunks: list[pa.Table] = field(default_factory=list)  # STORED_SCHEMA
    high: int = 0


class EmbeddedBroker(Broker):
    """In-process broker; the default when no Kafka cluster is given."""

    description = "embedded broker"

    def __init__(self) -> None:
        self._topics: dict[str, list[_Partition]] = {}
        self._lock = threading.RLock()
        self._round_robin: dict[str, int] = {}

    def create_topic(self, topic: str, partitions: int = 1) -> None:
        if partitions < 1:
            raise InputError(f"topic '{topic}' needs at least 1 partition, got {partitions}")
        with self._lock:
            if topic not in self._topics:
                self._topics[topic] = [_Partition() for _ in range(partitions)]
                log.debug("created topic %s with %d partition(s)", topic, partitions)

    def delete_topic(self, topic: str) -> None:
        with self._lock:
            self._topics.pop(topic, None)

    def list_topics(self) -> list[str]:
        with self._lock:
            return sorted(self._topics)

    def partition_count(self, topic: str) -> int:
        with self._lock:
            return len(self._topics.get(topic, ()))

    def produce(self, topic: str, batch: pa.Table) -> None:
        if batch.schema != PRODUCE_SCHEMA:
            batch = batch.select(PRODUCE_SCHEMA.names).cast(PRODUCE_SCHEMA)
        self.create_topic(topic)
        if batch.num_rows == 0:
            return
        with self._lock:
            partitions = self._topics[topic]
            assigned = self._assign_partitions(topic, batch, len(partitions))
            if len(partitions) == 1:
                self._append(partitions[0], 0, batch)
                return
            for number in range(len(partitions)):
                selected = batch.filter(pc.equal(assigned, number))
                if selected.num_rows:
                    self._append(partitions[number], number, selected)

    def _assign_partitions(self, topic: str, batch: pa.Table, count: int) -> pa.Array:
        """Pick a partition per message: the given one, else a key hash, else round robin."""
        given = batch.column("partition").combine_chunks()
        if count == 1:
            if pc.any(pc.greater(given, 0)).as_py():
                raise InputError(f"topic '{topic}' has 1 partition; a message asked for another")
            return pa.nulls(batch.num_rows, pa.int32())
        start = self._round_robin.get(topic, 0)
        self._round_robin[topic] = start + null_key_count(batch)
        result = choose_partitions(batch, count, start)
        if pc.any(pc.greater_equal(result, count)).as_py():
            raise InputError(f"topic '{topic}' has {count} partitions; a message asked for more")
        return result

    @staticmethod
    def _append(partition: _Partition, number: int, batch: pa.Table) -> None:
        chunk = pa.Table.from_arrays(
            [batch.column(name) for name in STORED_SCHEMA.names], schema=STORED_SCHEMA
        )
        partition.chunks.append(chunk)
        partition.high += batch.num_rows

    def consume(
        self,
        topic: str,
        max_batch: int = 1000,
        start_offsets: Mapping[int, int] | None = None,
    ) -> Iterator[pa.Table]:
        with self._lock:
            partitions = [list(p.chunks) for p in self._topics.get(topic, ())]
        starts = start_offsets or {}
        # Interleave partitions batch by batch, as a Kafka consumer assigned all of them would.
        readers = [
            _slice_chunks(_skip(chunks, starts.get(number, 0)), max_batch, number, max(0, starts.get(number, 0)))
            for number, chunks in enumerate(partitions)
        ]
        while readers:
            still_open = []
            for reader in readers:
                batch = next(reader, None)
                if batch is not None:
                    yield batch
                    still_open.append(reader)
            readers = still_open

    def stored_bytes(self) -> int:
        """Return the bytes of Arrow buffers that all topics' messages occupy."""
        with self._lock:
            return sum(
                chunk.nbytes
                for partitions in self._topics.values()
                for partition in partitions
                for chunk in partition.chunks
            )

    def watermarks(self, topic: str) -> list[PartitionWatermarks]:
        with self._lock:
            return [
                PartitionWatermarks(number, 0, partition.high)
                for number, partition in enumerate(self._topics.get(topic, ()))
            ]

    def read_all(self, topic: str, start_offsets: Mapping[int, int] | None = None) -> pa.Table:
        starts = start_offsets or {}
        with self._lock:
            partitions = [list(p.chunks) for p in self._topics.get(topic, ())]
        tables = []
        for number, chunks in enumerate(partitions):
            first = max(0, starts.get(number, 0))
            kept = _skip(chunks, first)
            if kept:
                tables.append(_with_position(pa.concat_tables(kept), number, first))
        if not tables:
            return MESSAGE_SCHEMA.empty_table()
        return pa.concat_tables(tables)


def _skip(chunks: list[pa.Table], offset: int) -> list[pa.Table]:
    """Drop the messages before `offset` from a partition's chunks (offsets start at 0)."""
    if offset <= 0:
        return list(chunks)
    kept = []
    position = 0
    for chunk in chunks:
        end = position + chunk.num_rows
        if end > offset:
            kept.append(chunk.slice(max(0, offset - position)))
        position = end
    return kept


def _with_position(stored: pa.Table, partition: int, first_offset: int) -> pa.Table:
    """Return stored messages as a `MESSAGE_SCHEMA` batch; their offsets run from `first_offset`."""
    rows = stored.num_rows
    return pa.Table.from_arrays(
        [
            pa.array(np.full(rows, partition, dtype=np.int32)),
            pa.array(np.arange(first_offset, first_offset + rows, dtype=np.int64)),
            *stored.columns,
        ],
        schema=MESSAGE_SCHEMA,
    )


def _slice_chunks(
    chunks: list[pa.Table], max_batch: int, partition: int, first_offset: int
) -> Iterator[pa.Table]:
    """Yield batches of at most `max_batch` messages across `chunks`, whose first message has
    `first_offset`, without copying the stored columns where possible."""
    pending: list[pa.Table] = []
    pending_rows = 0
    offset = first_offset
    for chunk in chunks:
        position = 0
        while position < chunk.num_rows:
            take = min(max_batch - pending_rows, chunk.num_rows - position)
            pending.append(chunk.slice(position, take))
            pending_rows += take
            position += take
            if pending_rows == max_batch:
                stored = pending[0] if len(pending) == 1 else pa.concat_tables(pending)
                yield _with_position(stored, partition, offset)
                offset += pending_rows
                pending, pending_rows = [], 0
    if pending_rows:
        stored = pending[0] if len(pending) == 1 else pa.concat_tables(pending)
        yield _with_position(stored, partition, offset)

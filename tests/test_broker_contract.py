"""Behaviour every broker shares, checked on the embedded broker and on real Kafka."""

from __future__ import annotations

import pyarrow as pa
import pytest

from velo_tui.engine.broker.base import MESSAGE_SCHEMA, make_produce_batch
from velo_tui.engine.errors import InputError


def test_create_topic_lists_and_counts(broker, new_topic):
    topic = new_topic()
    broker.create_topic(topic, partitions=3)

    assert topic in broker.list_topics()
    assert broker.partition_count(topic) == 3


def test_missing_topic_has_no_partitions(broker, new_topic):
    topic = new_topic()

    assert broker.partition_count(topic) == 0
    assert broker.watermarks(topic) == []
    assert topic not in broker.list_topics()


def test_create_existing_topic_keeps_it(broker, new_topic):
    topic = new_topic()
    broker.create_topic(topic, partitions=2)
    broker.produce(topic, make_produce_batch([b"kept"], partitions=[1]))

    broker.create_topic(topic, partitions=5)

    assert broker.partition_count(topic) == 2
    assert broker.read_all(topic).column("value").to_pylist() == [b"kept"]


def test_list_topics_sorted(broker, new_topic):
    names = [new_topic() for _ in range(3)]
    for name in names:
        broker.create_topic(name)

    listed = [name for name in broker.list_topics() if name in names]

    assert listed == sorted(names)


def test_list_topics_hides_internal(broker):
    assert not any(name.startswith("__") for name in broker.list_topics())


def test_round_trip_keeps_fields(broker, new_topic):
    topic = new_topic()
    keys = [b"k1", None, b"k3", b"k1"]
    values = [b'{"id": 1}', b'{"id": 2}', None, b"\x00\xffbinary"]
    timestamps = [1_700_000_000_000, 1_700_000_000_001, 1_600_000_000_000, 1_700_000_005_000]
    headers = [
        [{"key": "trace", "value": b"abc"}, {"key": "empty", "value": None}],
        None,
        [{"key": "source", "value": b"\x01\x02"}],
        None,
    ]
    broker.create_topic(topic)

    broker.produce(topic, make_produce_batch(values, keys, timestamps, headers))
    table = broker.read_all(topic)

    assert table.schema == MESSAGE_SCHEMA
    assert table.column("key").to_pylist() == keys
    assert table.column("value").to_pylist() == values
    assert table.column("timestamp").to_pylist() == timestamps
    assert table.column("headers").to_pylist() == headers
    assert table.column("offset").to_pylist() == [0, 1, 2, 3]
    assert table.column("partition").to_pylist() == [0, 0, 0, 0]


def test_produce_creates_missing_topic(broker, new_topic):
    topic = new_topic()

    broker.produce(topic, make_produce_batch([b"a", b"b"]))

    assert broker.partition_count(topic) == 1
    assert broker.read_all(topic).column("value").to_pylist() == [b"a", b"b"]


def test_produce_appends_offsets(broker, new_topic):
    topic = new_topic()

    broker.produce(topic, make_produce_batch([b"a", b"b"]))
    broker.produce(topic, make_produce_batch([b"c"]))
    table = broker.read_all(topic)

    assert table.column("offset").to_pylist() == [0, 1, 2]
    assert table.column("value").to_pylist() == [b"a", b"b", b"c"]


def test_flush_stores_produced(broker, new_topic):
    topic = new_topic()
    broker.create_topic(topic, partitions=2)

    broker.produce(topic, make_produce_batch([b"a", b"b", b"c"], partitions=[0, 1, 1]))
    broker.flush()

    assert [m.high for m in broker.watermarks(topic)] == [1, 2]


def test_flush_without_produce(broker, new_topic):
    topic = new_topic()
    broker.create_topic(topic)

    broker.flush()

    assert [m.high for m in broker.watermarks(topic)] == [0]


def test_partition_order_three_partitions(broker, new_topic):
    topic = new_topic()
    broker.create_topic(topic, partitions=3)
    count = 600
    keys = [f"key-{i % 7}".encode() for i in range(count)]
    values = [str(i).encode() for i in range(count)]

    broker.produce(topic, make_produce_batch(values, keys))
    batches = list(broker.consume(topic, max_batch=50))

    table = pa.concat_tables(batches)
    assert table.num_rows == count
    assert sorted(int(v) for v in table.column("value").to_pylist()) == list(range(count))
    for batch in batches:
        assert len(set(batch.column("partition").to_pylist())) == 1
        assert batch.num_rows <= 50
    rows = table.to_pylist()
    for partition in range(3):
        offsets = [r["offset"] for r in rows if r["partition"] == partition]
        assert offsets == list(range(len(offsets)))
    partitions_of_key: dict[bytes, set[int]] = {}
    sequence_of_key: dict[bytes, list[int]] = {}
    for row in rows:
        partitions_of_key.setdefault(row["key"], set()).add(row["partition"])
        sequence_of_key.setdefault(row["key"], []).append(int(row["value"]))
    for key, partitions in partitions_of_key.items():
        assert len(partitions) == 1, key
    for key, sequence in sequence_of_key.items():
        assert sequence == sorted(sequence), key


def test_explicit_partitions(broker, new_topic):
    topic = new_topic()
    broker.create_topic(topic, partitions=3)

    broker.produce(
        topic, make_produce_batch([b"a", b"b", b"c", b"d"], partitions=[2, 0, 2, 1])
    )
    rows = broker.read_all(topic).to_pylist()

    placed = {(r["partition"], r["offset"]): r["value"] for r in rows}
    assert placed == {(0, 0): b"b", (1, 0): b"d", (2, 0): b"a", (2, 1): b"c"}


def test_partition_out_of_range(broker, new_topic):
    topic = new_topic()
    broker.create_topic(topic, partitions=2)

    with pytest.raises(InputError) as raised:
        broker.produce(topic, make_produce_batch([b"x"], partitions=[5]))

    assert topic in str(raised.value)


def test_watermarks_match_produced(broker, new_topic):
    topic = new_topic()
    broker.create_topic(topic, partitions=3)
    partitions = [0] * 5 + [2] * 2

    broker.produce(topic, make_produce_batch([b"v"] * 7, partitions=partitions))
    marks = broker.watermarks(topic)

    assert [m.partition for m in marks] == [0, 1, 2]
    assert [m.low for m in marks] == [0, 0, 0]
    assert [m.high for m in marks] == [5, 0, 2]
    assert [m.count for m in marks] == [5, 0, 2]


def test_empty_topic_ends_at_once(broker, new_topic):
    topic = new_topic()
    broker.create_topic(topic, partitions=2)

    assert list(broker.consume(topic)) == []
    assert broker.read_all(topic).num_rows == 0


def test_missing_topic_consumes_nothing(broker, new_topic):
    assert list(broker.consume(new_topic())) == []


def test_consume_max_batch(broker, new_topic):
    topic = new_topic()
    broker.produce(topic, make_produce_batch([str(i).encode() for i in range(25)]))

    sizes = [batch.num_rows for batch in broker.consume(topic, max_batch=10)]

    assert sizes == [10, 10, 5]


def test_consume_stops_at_start_watermark(broker, new_topic):
    topic = new_topic()
    broker.produce(topic, make_produce_batch([b"first", b"second"]))

    reader = broker.consume(topic, max_batch=1)
    first = next(reader)
    broker.produce(topic, make_produce_batch([b"late"]))
    rest = list(reader)

    assert first.column("value").to_pylist() == [b"first"]
    assert [b.column("value").to_pylist() for b in rest] == [[b"second"]]


def test_consume_from_start_offsets(broker, new_topic):
    topic = new_topic()
    broker.create_topic(topic, partitions=2)
    broker.produce(
        topic, make_produce_batch([b"a0", b"a1", b"a2", b"b0"], partitions=[0, 0, 0, 1])
    )

    table = broker.read_all(topic, start_offsets={0: 2, 1: 1})

    assert table.column("value").to_pylist() == [b"a2"]
    assert table.column("offset").to_pylist() == [2]


def test_large_message_round_trip(broker, new_topic):
    topic = new_topic()
    large = bytes(range(256)) * (5 * 1024 * 1024 // 256)

    broker.produce(topic, make_produce_batch([b"small", large, b"after"]))
    values = broker.read_all(topic).column("value").to_pylist()

    assert len(values) == 3
    assert values[1] == large
    assert values[2] == b"after"


def test_delete_topic(broker, new_topic):
    topic = new_topic()
    broker.produce(topic, make_produce_batch([b"gone"]))

    broker.delete_topic(topic)

    assert topic not in broker.list_topics()
    assert broker.partition_count(topic) == 0


def test_delete_missing_topic(broker, new_topic):
    topic = new_topic()

    broker.delete_topic(topic)

    assert topic not in broker.list_topics()

"""Partition placement shared by both brokers, and messages deleted by Kafka before a read."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from velo_tui.engine.broker import make_produce_batch
from velo_tui.engine.broker.embedded import EmbeddedBroker
from velo_tui.engine.broker.kafka import KafkaBroker
from velo_tui.engine.session import FAILED, Session, SessionOptions

pytestmark = pytest.mark.kafka


def _placement(broker, topic: str) -> list[tuple[int, int, bytes | None, bytes]]:
    table = broker.read_all(topic)
    rows = zip(
        table.column("partition").to_pylist(),
        table.column("offset").to_pylist(),
        table.column("key").to_pylist(),
        table.column("value").to_pylist(),
        strict=True,
    )
    return sorted(rows)


def test_partition_placement_matches(kafka_address: str) -> None:
    topic = f"placement-{uuid.uuid4().hex[:12]}"
    keys = [f"k{i % 7}".encode() if i % 3 else None for i in range(60)]
    values = [f"v{i}".encode() for i in range(60)]
    embedded = EmbeddedBroker()
    kafka = KafkaBroker(kafka_address)
    try:
        for broker in (embedded, kafka):
            broker.create_topic(topic, 3)
            broker.produce(topic, make_produce_batch(values[:25], keys[:25]))
            broker.produce(topic, make_produce_batch(values[25:], keys[25:]))
        assert _placement(kafka, topic) == _placement(embedded, topic)
    finally:
        kafka.delete_topic(topic)
        kafka.close()


def test_deleted_messages_fail_statement(kafka_address: str, pipelines_dir: Path) -> None:
    kafka = KafkaBroker(kafka_address)
    session = Session(pipelines_dir / "chain.sql", SessionOptions(broker=kafka))
    topic = session.state("valid_orders").statement.source.topic
    admin = AdminClient({"bootstrap.servers": kafka_address})

    def delete_input(event) -> None:
        # Once every input record is on the topic, delete them, as retention would.
        if event.kind == "input" and event.done == event.total:
            high = kafka.watermarks(topic)[0].high
            futures = admin.delete_records([TopicPartition(topic, 0, high)])
            for future in futures.values():
                future.result(timeout=30)

    try:
        state = session.step(delete_input)
        assert state.status == FAILED
        assert "were deleted by the broker" in state.error
        assert topic in state.error
    finally:
        session.close()


def test_deleted_messages_new_topic(kafka_address: str, tmp_path: Path, pipelines_dir: Path) -> None:
    """The source topic does not exist when the session opens, so its messages start at 0."""
    sql = (pipelines_dir / "chain.sql").read_text(encoding="utf-8")
    suffix = uuid.uuid4().hex[:10]
    sql = sql.replace("'chain_orders'", f"'chain_orders_{suffix}'")
    (tmp_path / "chain.sql").write_text(sql, encoding="utf-8")
    for name in ("chain.test.yaml",):
        (tmp_path / name).write_text((pipelines_dir / name).read_text(encoding="utf-8"))
    schemas = pipelines_dir.parent / "schemas"
    kafka = KafkaBroker(kafka_address)
    session = Session(tmp_path / "chain.sql", SessionOptions(broker=kafka, schemas_dir=schemas))
    topic = f"chain_orders_{suffix}"
    admin = AdminClient({"bootstrap.servers": kafka_address})

    def delete_input(event) -> None:
        if event.kind == "input" and event.done == event.total:
            high = kafka.watermarks(topic)[0].high
            for future in admin.delete_records([TopicPartition(topic, 0, high)]).values():
                future.result(timeout=30)

    try:
        state = session.step(delete_input)
        assert state.status == FAILED
        assert "25 message(s)" in state.error
    finally:
        kafka.delete_topic(topic)
        session.close()

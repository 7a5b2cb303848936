"""Tests that the engine above the broker behaves the same on the embedded broker and on Apache Kafka.

Sessions over the example pipelines and the pipelines in tests/data/kafka give the same reports,
DLQ entries, DLQ topic messages and sink topic messages on both brokers.

Each test runs once per broker through the `session_factory` fixture; the tests that compare the two
brokers open both themselves and need VELO_TEST_KAFKA.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from velo_tui.engine.broker.base import Broker
from velo_tui.engine.broker.embedded import EmbeddedBroker
from velo_tui.engine.report import build_report
from velo_tui.engine.session import OK, Session, SessionOptions

DATA = Path(__file__).resolve().parent / "data" / "kafka"

#: Example pipelines run on both brokers: a DLQ basics demo, every fault type, a three-stage chain.
CORPUS_PIPELINES = ("70_dlq_basic", "72_fault_injection", "73_debug_mode")

DLQ_CONTEXT_HEADERS = (
    "velo.dlq.statement",
    "velo.dlq.stage",
    "velo.dlq.error_type",
    "velo.dlq.message",
    "velo.dlq.topic",
    "velo.dlq.partition",
    "velo.dlq.offset",
    "velo.dlq.field",
    "velo.dlq.recoverable",
    "velo.dlq.fault",
)


def corpus_sql(corpus_dir: Path, name: str) -> Path:
    return corpus_dir / "tier8_fault_tolerance" / f"{name}.sql"


def relative_offset(session: Session, topic: str, partition: int | None, offset: int | None) -> int | None:
    """Return `offset` counted from where this session's messages of the partition start."""
    if partition is None or offset is None:
        return offset
    return offset - session.offsets_for(topic).get(partition, 0)


def comparable_report(session: Session) -> dict[str, Any]:
    """Return the session's report without what differs between runs and brokers.

    Durations, the broker description and DLQ failure times are removed. DLQ entry offsets count
    from the session's start offsets, because a Kafka topic may hold messages of earlier runs.
    """
    report = json.loads(json.dumps(build_report(session)))
    del report["duration_s"]
    del report["broker"]
    for statement in report["statements"]:
        del statement["duration_s"]
    for entry in report["dlq"]["entries"]:
        del entry["failed_at"]
        entry["offset"] = relative_offset(session, entry["topic"], entry["partition"], entry["offset"])
    return report


def session_messages(session: Session, topic: str) -> list[dict[str, Any]]:
    """Return this session's messages of `topic` in partition and offset order, offsets counted
    from the session's start offsets."""
    table = session.broker.read_all(topic, session.offsets_for(topic))
    rows = sorted(table.to_pylist(), key=lambda row: (row["partition"], row["offset"]))
    for row in rows:
        row["offset"] = relative_offset(session, topic, row["partition"], row["offset"])
    return rows


def header_map(message: dict[str, Any]) -> dict[str, bytes | None]:
    return {header["key"]: header["value"] for header in message["headers"] or []}


def comparable_messages(session: Session, topic: str) -> list[dict[str, Any]]:
    """Return `session_messages`, with the source offset in each DLQ message's `velo.dlq.offset`
    header also counted from the session's start offsets."""
    messages = session_messages(session, topic)
    for message in messages:
        headers = header_map(message)
        if not headers.get("velo.dlq.offset"):
            continue
        source = headers["velo.dlq.topic"].decode()
        partition = int(headers["velo.dlq.partition"])
        offset = relative_offset(session, source, partition, int(headers["velo.dlq.offset"]))
        for header in message["headers"]:
            if header["key"] == "velo.dlq.offset":
                header["value"] = str(offset).encode()
    return messages


def run_on(broker: Broker, sql_path: Path, **options: object) -> Session:
    """Open a session on `broker`, run every statement and return the session (still open)."""
    session = Session(sql_path, SessionOptions(broker=broker, **options))
    session.run_all()
    return session


def run_on_both(kafka_address: str, sql_path: Path, **options: object) -> tuple[Session, Session]:
    """Run `sql_path` on a new embedded broker and on Kafka; return both sessions."""
    from velo_tui.engine.broker.kafka import KafkaBroker

    embedded = run_on(EmbeddedBroker(), sql_path, **options)
    kafka = run_on(KafkaBroker(kafka_address), sql_path, **options)
    return embedded, kafka


def topics_of(session: Session) -> list[str]:
    """Return every sink topic of the session's pipeline and its DLQ topic."""
    return [state.statement.sink.topic for state in session.states] + [session.dlq_topic]


# -- the example pipelines ---------------------------------------------------------------------


@pytest.mark.parametrize("name", CORPUS_PIPELINES)
def test_corpus_pipeline_passes(session_factory, corpus_dir, name):
    session = session_factory(corpus_sql(corpus_dir, name))

    session.run_all()
    report = build_report(session)

    assert report["passed"], report
    for statement in report["statements"]:
        assert statement["status"] == OK, statement
        assert statement["accounting_ok"], statement


@pytest.mark.kafka
@pytest.mark.parametrize("name", CORPUS_PIPELINES)
def test_corpus_reports_match(kafka_address, corpus_dir, name):
    embedded, kafka = run_on_both(kafka_address, corpus_sql(corpus_dir, name))

    try:
        assert comparable_report(kafka) == comparable_report(embedded)
        for topic in topics_of(embedded):
            assert comparable_messages(kafka, topic) == comparable_messages(embedded, topic), topic
        for state in kafka.states:
            sink_messages = session_messages(kafka, state.statement.sink.topic)
            assert state.stats.records_out > 0, state.name
            assert len(sink_messages) == state.stats.records_out, state.name
    finally:
        embedded.close()
        kafka.close()


# -- DLQ and faults ------------------------------------------------------------------------------


def test_dlq_topic_contains_entries(session_factory):
    session = session_factory(DATA / "malformed.sql")

    session.run_all()
    entries = session.dlq.snapshot()
    messages = session_messages(session, session.dlq_topic)

    assert session.dlq_topic == "kafka_e2e_meters.dlq"
    assert len(entries) > 0
    assert len(messages) == len(entries)
    for entry, message in zip(entries, messages, strict=True):
        headers = header_map(message)
        for name in DLQ_CONTEXT_HEADERS:
            assert name in headers, name
        assert headers["velo.dlq.statement"] == entry.statement.encode()
        assert headers["velo.dlq.stage"] == entry.stage.encode()
        assert headers["velo.dlq.error_type"] == entry.error_type.encode()
        assert headers["velo.dlq.topic"] == entry.topic.encode()
        assert headers["velo.dlq.partition"] == str(entry.partition).encode()
        assert headers["velo.dlq.offset"] == str(entry.offset).encode()
        assert message["key"] == entry.key
        assert message["value"] == entry.value
        assert message["timestamp"] == entry.timestamp


def test_dlq_entries_point_at_source(session_factory):
    session = session_factory(DATA / "malformed.sql")

    session.run_all()
    source_topic = session.states[0].statement.source.topic
    source = {
        (row["partition"], row["offset"]): row
        for row in session.broker.read_all(source_topic, session.offsets_for(source_topic)).to_pylist()
    }
    entries = session.dlq.snapshot()

    assert len(entries) > 0
    for entry in entries:
        origin = source[(entry.partition, entry.offset)]
        assert entry.topic == source_topic
        assert origin["value"] == entry.value
        assert entry.fault is not None, entry
        assert entry.fault.startswith("malformed_records."), entry.fault


def test_dlq_bound_drops_rest(session_factory):
    session = session_factory(DATA / "malformed.sql", spec_path=DATA / "small_dlq.test.yaml")

    session.run_all()
    report = build_report(session)
    messages = session_messages(session, session.dlq_topic)

    assert report["dlq"]["count"] == 5
    assert report["dlq"]["dropped"] > 0
    assert len(messages) == 5
    assert report["statements"][0]["dlq_dropped"] == report["dlq"]["dropped"]
    assert report["accounting"]["holds"]


@pytest.mark.kafka
@pytest.mark.parametrize("spec", ["malformed.test.yaml", "small_dlq.test.yaml"])
def test_dlq_entries_match(kafka_address, spec):
    embedded, kafka = run_on_both(kafka_address, DATA / "malformed.sql", spec_path=DATA / spec)

    try:
        embedded_report = comparable_report(embedded)
        kafka_report = comparable_report(kafka)
        assert embedded_report["dlq"]["count"] > 0
        assert kafka_report["dlq"] == embedded_report["dlq"]
        assert kafka_report["statements"] == embedded_report["statements"]
        assert kafka_report["faults"] == embedded_report["faults"]
        assert comparable_messages(kafka, kafka.dlq_topic) == comparable_messages(
            embedded, embedded.dlq_topic
        )
    finally:
        embedded.close()
        kafka.close()


# -- partitions ----------------------------------------------------------------------------------


def test_partitioned_source_read_completely(session_factory):
    # Small micro-batches make every partition arrive in several pieces.
    session = session_factory(DATA / "partitioned.sql", batch_size=25)

    session.run_all()
    state = session.states[0]
    source_topic = state.statement.source.topic
    starts = session.offsets_for(source_topic)
    marks = session.broker.watermarks(source_topic)
    rows = [json.loads(m["value"]) for m in session_messages(session, state.statement.sink.topic)]

    assert state.status == OK
    assert len(marks) == 3
    assert len(rows) == 240
    assert sorted(row["seq"] for row in rows) == list(range(240))
    for mark in marks:
        first = starts.get(mark.partition, 0)
        assert mark.high > first, f"partition {mark.partition} received nothing"
        origin = [row["source_offset"] for row in rows if row["source_partition"] == mark.partition]
        assert origin == list(range(first, mark.high)), f"partition {mark.partition}"


def test_partitioned_key_order_kept(session_factory):
    session = session_factory(DATA / "partitioned.sql", batch_size=25)

    session.run_all()
    sink_topic = session.states[0].statement.sink.topic
    rows = [json.loads(m["value"]) for m in session_messages(session, sink_topic)]
    partitions_of_device: dict[str, set[int]] = {}
    sequence_of_device: dict[str, list[int]] = {}
    for row in rows:
        partitions_of_device.setdefault(row["device"], set()).add(row["source_partition"])
        sequence_of_device.setdefault(row["device"], []).append(row["seq"])

    assert len(sequence_of_device) == 11
    for device, partitions in partitions_of_device.items():
        assert len(partitions) == 1, device
    for device, sequence in sequence_of_device.items():
        assert sequence == sorted(sequence), device


@pytest.mark.kafka
def test_partitioned_counts_match(kafka_address):
    # Which partition a key lands on is the broker's choice (the embedded broker and librdkafka
    # hash keys differently), so the records are compared as a set, with the counts.
    embedded, kafka = run_on_both(kafka_address, DATA / "partitioned.sql", batch_size=25)

    try:
        embedded_report = comparable_report(embedded)
        kafka_report = comparable_report(kafka)
        sink_topic = embedded.states[0].statement.sink.topic
        embedded_rows = [json.loads(m["value"]) for m in session_messages(embedded, sink_topic)]
        kafka_rows = [json.loads(m["value"]) for m in session_messages(kafka, sink_topic)]
        assert kafka_report["passed"]
        assert kafka_report["statements"][0]["records_in"] == embedded_report["statements"][0]["records_in"]
        assert kafka_report["statements"][0]["records_out"] == embedded_report["statements"][0]["records_out"]
        assert sorted((r["seq"], r["device"]) for r in kafka_rows) == sorted(
            (r["seq"], r["device"]) for r in embedded_rows
        )
    finally:
        embedded.close()
        kafka.close()


# -- sessions one after another ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["72_fault_injection", "73_debug_mode"])
def test_second_session_reads_own_messages(session_factory, corpus_dir, name):
    sql_path = corpus_sql(corpus_dir, name)
    first = session_factory(sql_path)
    first.run_all()
    first_report = comparable_report(first)
    first_messages = {topic: comparable_messages(first, topic) for topic in topics_of(first)}
    first_ends = {
        topic: {mark.partition: mark.high for mark in first.broker.watermarks(topic)}
        for topic in first.pipeline.topics()
    }

    second = session_factory(sql_path)
    second.run_all()

    for topic, ends in first_ends.items():
        assert second.offsets_for(topic) == ends, topic
    assert comparable_report(second) == first_report
    for topic, messages in first_messages.items():
        assert comparable_messages(second, topic) == messages, topic


def test_second_session_counts_equal(session_factory):
    first = session_factory(DATA / "malformed.sql")
    first.run_all()
    second = session_factory(DATA / "malformed.sql")
    second.run_all()

    first_stats = first.states[0].stats
    second_stats = second.states[0].stats
    assert second_stats.records_in == first_stats.records_in
    assert second_stats.records_out == first_stats.records_out
    assert second_stats.dlq == first_stats.dlq
    assert second.dlq.count == first.dlq.count


# -- record views --------------------------------------------------------------------------------

#: View requests compared between brokers: (method, reference, argument).
VIEW_REQUESTS = (
    ("head", "billed_readings", 7),
    ("tail", "billed_readings", 7),
    ("filter", "billed_readings", "kwh > 25 and phase = 2"),
    ("filter", "billed_readings", "meter_id ~ m-0 or cost < 1"),
    ("head", "kafka_e2e_meter_readings", 12),
    ("tail", "meter_readings", 5),
    ("head", "dlq", 50),
    ("filter", "dlq", "stage = 'validate'"),
    ("head", "kafka_e2e_meters.dlq", 50),
)


def comparable_page(session: Session, page) -> dict[str, Any]:
    """Return a record page as data, with offsets counted from the session's start offsets.

    DLQ entry rows name the source topic, partition and offset of the failed record. Other rows
    carry the partition and offset of the record in the page's topic.
    """
    rows = []
    for row in page.rows:
        row = dict(row)
        if page.label == "dlq":
            row["offset"] = relative_offset(session, row["topic"], row["partition"], row["offset"])
            row["_offset"] = relative_offset(session, row["topic"], row["_partition"], row["_offset"])
        else:
            row["_offset"] = relative_offset(session, page.topic, row["_partition"], row["_offset"])
        rows.append(row)
    return {
        "label": page.label,
        "topic": page.topic,
        "columns": page.columns,
        "total": page.total,
        "matched": page.matched,
        "rows": rows,
    }


def view_pages(session: Session) -> list[dict[str, Any]]:
    from velo_tui.engine.views import TopicViews

    views = TopicViews(session)
    try:
        return [comparable_page(session, getattr(views, method)(ref, argument))
                for method, ref, argument in VIEW_REQUESTS]
    finally:
        views.close()


def test_views_return_records(session_factory):
    session = session_factory(DATA / "malformed.sql")
    session.run_all()

    pages = view_pages(session)

    for (method, ref, argument), page in zip(VIEW_REQUESTS, pages, strict=True):
        assert page["rows"], f"{method} {ref} {argument}"
        assert page["matched"] >= len(page["rows"]), f"{method} {ref} {argument}"


@pytest.mark.kafka
def test_views_match_between_brokers(kafka_address):
    embedded, kafka = run_on_both(kafka_address, DATA / "malformed.sql")

    try:
        embedded_pages = view_pages(embedded)
        kafka_pages = view_pages(kafka)
        for request, kafka_page, embedded_page in zip(VIEW_REQUESTS, kafka_pages, embedded_pages, strict=True):
            assert kafka_page == embedded_page, request
    finally:
        embedded.close()
        kafka.close()


@pytest.mark.parametrize("sql_name", ["malformed.sql", "partitioned.sql"])
def test_views_topics_match_produced(session_factory, sql_name):
    from velo_tui.engine.views import TopicViews

    session = session_factory(DATA / sql_name)
    session.run_all()
    state = session.states[0]
    produced = {
        state.statement.source.topic: state.inputs_produced,
        state.statement.sink.topic: state.stats.records_out,
        session.dlq_topic: session.dlq.count,
    }
    views = TopicViews(session)

    infos = {info.name: info for info in views.topics()}
    views.close()

    for topic, count in produced.items():
        info = infos[topic]
        starts = session.offsets_for(topic)
        from_start = sum(mark.high - starts.get(mark.partition, 0) for mark in info.partitions)
        assert info.session_messages == count, topic
        assert from_start == count, topic
        assert len(info.partitions) == session.broker.partition_count(topic), topic
    assert len(infos[state.statement.source.topic].partitions) == state.statement.source.partitions

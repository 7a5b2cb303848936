"""Tests of the record views over a real session of the debug-mode pipeline and the DLQ example,
checked against DuckDB's own results over the same messages."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from velo_tui.engine.broker.base import make_produce_batch
from velo_tui.engine.broker.embedded import EmbeddedBroker
from velo_tui.engine.errors import InputError
from velo_tui.engine.session import Session, SessionOptions
from velo_tui.engine.views import TopicViews, display_text, infer_columns

CORPUS = Path("/work/shared/corpus/velostream/tier8_fault_tolerance")
DEBUG_SQL = CORPUS / "73_debug_mode.sql"
DLQ_SQL = CORPUS / "70_dlq_basic.sql"


@pytest.fixture(scope="module")
def session() -> Session:
    opened = Session(DEBUG_SQL, SessionOptions(records=300))
    opened.run_all()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def views(session: Session) -> TopicViews:
    return TopicViews(session)


@pytest.fixture(scope="module")
def dlq_session() -> Session:
    opened = Session(DLQ_SQL)
    opened.run_all()
    yield opened
    opened.close()


def output_table(session: Session, name: str) -> pa.Table:
    return session.output_table(session.state(name))


def duckdb_count(table: pa.Table, predicate: str) -> int:
    con = duckdb.connect()
    con.register("output", table)
    return con.execute(f"SELECT count(*) FROM output WHERE {predicate}").fetchall()[0][0]


def positions(page) -> list[tuple[int, int]]:
    return [(row["_partition"], row["_offset"]) for row in page.rows]


def test_head_first_records(session: Session, views: TopicViews) -> None:
    expected = output_table(session, "enriched_orders").sort_by([("_partition", "ascending"), ("_offset", "ascending")])
    page = views.head("enriched_orders", 5)
    assert positions(page) == list(zip(expected["_partition"].to_pylist()[:5], expected["_offset"].to_pylist()[:5]))
    assert [row["order_id"] for row in page.rows] == expected["order_id"].to_pylist()[:5]


def test_head_page_counts(views: TopicViews) -> None:
    page = views.head("enriched_orders", 5)
    assert page.total == 300
    assert page.matched == 300
    assert page.offset == 0
    assert page.truncated


def test_head_columns_in_order(session: Session, views: TopicViews) -> None:
    page = views.head("final_orders", 1)
    assert page.columns == [c.name for c in session.state("final_orders").output_columns]
    assert set(page.rows[0]) == set(page.columns) | {"_partition", "_offset", "_timestamp", "_key"}


def test_tail_last_records(session: Session, views: TopicViews) -> None:
    expected = output_table(session, "validated_orders")
    page = views.tail("validated_orders", 4)
    assert [row["_offset"] for row in page.rows] == expected["_offset"].to_pylist()[-4:]
    assert page.offset == 296


def test_tail_more_than_total(views: TopicViews) -> None:
    page = views.tail("validated_orders", 1000)
    assert len(page.rows) == 300
    assert page.offset == 0


def test_page_window(views: TopicViews) -> None:
    page = views.page("enriched_orders", 100, 7)
    assert [row["_offset"] for row in page.rows] == list(range(100, 107))


def test_statement_by_number(views: TopicViews) -> None:
    assert views.head("2", 3).rows == views.head("enriched_orders", 3).rows


def test_topic_by_name(views: TopicViews) -> None:
    page = views.head("test_enriched_orders", 3)
    assert page.label == "test_enriched_orders"
    assert page.rows == views.head("enriched_orders", 3).rows


def test_source_topic_uses_schema(views: TopicViews) -> None:
    types = dict(views.schema("test_raw_orders"))
    assert types["order_total"] == "DECIMAL(18,2)"
    assert types["status"] == "VARCHAR"


def test_schema_of_statement(views: TopicViews) -> None:
    types = dict(views.schema("enriched_orders"))
    assert types["order_tier"] == "VARCHAR"
    assert types["line_total"] == "DOUBLE"
    assert types["event_time"] == "TIMESTAMP"


def test_filter_matches_duckdb_count(session: Session, views: TopicViews) -> None:
    expected = duckdb_count(output_table(session, "validated_orders"), "line_total > 1000")
    page = views.filter("validated_orders", "line_total > 1000")
    assert page.matched == expected
    assert all(row["line_total"] > 1000 for row in page.rows)


def test_filter_matches_some_not_all(views: TopicViews) -> None:
    page = views.filter("validated_orders", "line_total > 1000")
    assert 0 < page.matched < page.total


def test_filter_substring_case_insensitive(session: Session, views: TopicViews) -> None:
    expected = duckdb_count(output_table(session, "enriched_orders"), "order_tier = 'STANDARD'")
    page = views.filter("enriched_orders", "order_tier ~ stand")
    assert page.matched == expected
    assert {row["order_tier"] for row in page.rows} == {"STANDARD"}


def test_filter_and_or(session: Session, views: TopicViews) -> None:
    predicate = "(order_tier = 'BASIC' OR quantity >= 100) AND unit_price > 50"
    expected = duckdb_count(output_table(session, "enriched_orders"), predicate)
    page = views.filter("enriched_orders", "(order_tier = BASIC or quantity >= 100) and unit_price > 50")
    assert page.matched == expected


def test_filter_plain_sql(session: Session, views: TopicViews) -> None:
    predicate = "line_total > 1000 AND order_tier = 'PREMIUM'"
    expected = duckdb_count(output_table(session, "enriched_orders"), predicate)
    assert views.count("enriched_orders", predicate) == expected


def test_filter_limit_and_page(views: TopicViews) -> None:
    everything = views.filter("enriched_orders", "quantity > 20", limit=1000)
    window = views.page("enriched_orders", 10, 5, "quantity > 20")
    assert window.rows == everything.rows[10:15]
    assert window.matched == everything.matched


def test_filter_pseudo_column(views: TopicViews) -> None:
    page = views.filter("enriched_orders", "_offset < 3")
    assert [row["_offset"] for row in page.rows] == [0, 1, 2]


def test_filter_unknown_field(views: TopicViews) -> None:
    with pytest.raises(InputError) as caught:
        views.filter("enriched_orders", "tierr ~ PREM")
    assert "unknown field 'tierr'" in str(caught.value)
    assert "order_tier" in str(caught.value)


def test_filter_bad_timestamp(views: TopicViews) -> None:
    with pytest.raises(InputError) as caught:
        views.filter("enriched_orders", "event_time > 'yesterday'")
    assert "failed on enriched_orders" in str(caught.value)


def test_count_without_filter(views: TopicViews) -> None:
    assert views.count("final_orders") == 300


def test_unknown_reference_lists_choices(views: TopicViews) -> None:
    with pytest.raises(InputError) as caught:
        views.resolve("nope")
    message = str(caught.value)
    assert "'nope'" in message
    assert "1. validated_orders" in message
    assert "test_raw_orders" in message


def test_statement_number_out_of_range(views: TopicViews) -> None:
    with pytest.raises(InputError):
        views.resolve("9")


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv", ".parquet"])
def test_export_loads_back(views: TopicViews, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"premium{suffix}"
    written = views.export("enriched_orders", path, "order_tier = 'PREMIUM'")
    expected = views.filter("enriched_orders", "order_tier = 'PREMIUM'", limit=10_000)
    reader = {".json": "read_json", ".jsonl": "read_json", ".csv": "read_csv", ".parquet": "read_parquet"}[suffix]
    loaded = duckdb.connect().execute(f"SELECT CAST(order_id AS VARCHAR), quantity FROM {reader}(?)", [str(path)]).fetchall()
    assert written == expected.matched
    assert [row[0] for row in loaded] == [row["order_id"] for row in expected.rows]
    assert [row[1] for row in loaded] == [row["quantity"] for row in expected.rows]


def test_export_json_is_array(views: TopicViews, tmp_path: Path) -> None:
    path = tmp_path / "all.json"
    views.export("final_orders", path)
    data = json.loads(path.read_text())
    assert len(data) == 300
    assert data[0]["routing_key"] == views.head("final_orders", 1).rows[0]["routing_key"]


def test_export_unknown_suffix(views: TopicViews, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        views.export("final_orders", tmp_path / "out.xlsx")
    assert ".json, .jsonl, .ndjson, .csv, .parquet" in str(caught.value)


def test_export_missing_folder(views: TopicViews, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        views.export("final_orders", tmp_path / "missing" / "out.csv")
    assert "does not exist" in str(caught.value)


def test_topics_watermarks(session: Session, views: TopicViews) -> None:
    infos = {info.name: info for info in views.topics()}
    for state in session.states:
        sink = infos[state.statement.sink.topic]
        assert sum(mark.high for mark in sink.partitions) == state.stats.records_out
    source = infos["test_raw_orders"]
    assert [(m.partition, m.low, m.high) for m in source.partitions] == [(0, 0, 300)]


def test_topics_roles(session: Session, views: TopicViews) -> None:
    roles = {info.name: info.role for info in views.topics()}
    assert roles["test_raw_orders"] == "source"
    assert roles["test_validated_orders"] == "intermediate"
    assert roles["test_final_orders"] == "sink"
    assert roles[session.dlq_topic] == "dlq"


def test_record_detail(session: Session, views: TopicViews) -> None:
    message = session.broker.read_all("test_final_orders").slice(3, 1).to_pylist()[0]
    detail = views.record("final_orders", 0, 3)
    assert json.loads(detail.value) == json.loads(message["value"])
    assert detail.is_json
    assert detail.timestamp_ms == message["timestamp"]
    assert detail.timestamp_text.startswith("20")
    assert detail.key is None
    assert (detail.topic, detail.partition, detail.offset) == ("test_final_orders", 0, 3)


def test_record_detail_pretty(views: TopicViews) -> None:
    detail = views.record("final_orders", 0, 0)
    assert detail.value.startswith("{\n  ")


def test_record_missing_offset(views: TopicViews) -> None:
    with pytest.raises(InputError) as caught:
        views.record("final_orders", 0, 5000)
    assert "offset 5000" in str(caught.value)


def test_head_before_run() -> None:
    fresh = Session(DEBUG_SQL, SessionOptions(records=20))
    page = TopicViews(fresh).head("final_orders")
    assert page.rows == []
    assert page.total == 0
    fresh.close()


def test_cache_refreshes_after_step() -> None:
    fresh = Session(DEBUG_SQL, SessionOptions(records=20))
    views = TopicViews(fresh)
    before = views.head("validated_orders").total
    fresh.step()
    after = views.head("validated_orders").total
    assert before == 0
    assert after == 20
    fresh.close()


def test_views_from_threads(views: TopicViews) -> None:
    expected = views.filter("enriched_orders", "quantity > 50").matched
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(views.filter("enriched_orders", "quantity > 50").matched)
        except BaseException as error:  # noqa: BLE001 - recorded for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [expected] * 4


def test_dlq_page_lists_entries(dlq_session: Session) -> None:
    views = TopicViews(dlq_session)
    page = views.head("dlq", 50)
    assert page.total == dlq_session.dlq.count
    assert [row["stage"] for row in page.rows] == [e.stage for e in dlq_session.dlq.snapshot()]
    assert page.columns[:3] == ["statement", "stage", "error_type"]


def test_dlq_filter(dlq_session: Session) -> None:
    views = TopicViews(dlq_session)
    expected = sum(1 for e in dlq_session.dlq.snapshot() if e.error_type == "wrong_type")
    assert views.count("dlq", "error_type = wrong_type") == expected


def test_dlq_entries_by_statement(dlq_session: Session) -> None:
    views = TopicViews(dlq_session)
    assert len(views.dlq_entries("processed_events")) == dlq_session.dlq.count
    assert len(views.dlq_entries("1")) == dlq_session.dlq.count


def test_dlq_record_context(dlq_session: Session) -> None:
    views = TopicViews(dlq_session)
    entry = dlq_session.dlq.snapshot()[0]
    detail = views.dlq_record(0)
    context = dict(detail.context)
    assert context["stage"] == entry.stage
    assert context["error type"] == entry.error_type
    assert (detail.partition, detail.offset) == (entry.partition, entry.offset)


def test_dlq_export(dlq_session: Session, tmp_path: Path) -> None:
    views = TopicViews(dlq_session)
    path = tmp_path / "dlq.csv"
    written = views.export("dlq", path)
    rows = duckdb.connect().execute("SELECT stage, error_type FROM read_csv(?)", [str(path)]).fetchall()
    assert written == dlq_session.dlq.count
    assert rows == [(e.stage, e.error_type) for e in dlq_session.dlq.snapshot()]


def test_dlq_topic_raw_values(dlq_session: Session) -> None:
    views = TopicViews(dlq_session)
    page = views.head(dlq_session.dlq_topic, 50)
    assert page.total == dlq_session.dlq.count
    assert page.label == dlq_session.dlq_topic


def test_topic_with_invalid_json(session: Session, views: TopicViews) -> None:
    session.broker.produce("scratch_mixed", make_produce_batch(
        [b'{"a": 1, "b": "x"}', b"not json", b"\xff\xfe", None, b'{"a": 2}'],
    ))
    page = views.head("scratch_mixed")
    assert [row["a"] for row in page.rows] == [1, None, None, None, 2]
    assert views.count("scratch_mixed", "a >= 1") == 2


def test_infer_columns_types() -> None:
    broker = EmbeddedBroker()
    broker.produce("inferred", make_produce_batch([
        b'{"id": 1, "price": 2.5, "ok": true, "at": "2024-01-01T10:00:00", "day": "2024-01-01", '
        b'"name": "x", "nested": {"k": 1}}',
        b'{"id": 2, "price": 3, "ok": false, "at": "2024-01-02T10:00:00", "day": "2024-01-02", '
        b'"name": null, "nested": {"k": 2}}',
    ]))
    types = {c.name: c.duckdb_type for c in infer_columns(broker, "inferred")}
    assert types == {
        "id": "BIGINT", "price": "DOUBLE", "ok": "BOOLEAN", "at": "TIMESTAMP", "day": "DATE",
        "name": "VARCHAR", "nested": "VARCHAR",
    }


def test_infer_columns_empty_topic() -> None:
    broker = EmbeddedBroker()
    broker.create_topic("empty")
    assert infer_columns(broker, "empty") == []


def test_display_text_escapes_control() -> None:
    assert display_text("a\nb\x1b[31m") == "a\\nb\\x1b[31m"
    assert display_text(None) == "null"
    assert display_text(True) == "true"


def test_source_name_resolves_topic(views: TopicViews) -> None:
    target = views.resolve("raw_orders")
    assert target.topic == "test_raw_orders"
    assert target.kind == "topic"


def test_cache_evicts_oldest_topic(session: Session) -> None:
    views = TopicViews(session)
    for number in range(8):
        topic = f"scratch_evict_{number}"
        session.broker.produce(topic, make_produce_batch([b'{"n": %d}' % number]))
        views.head(topic)
    first = views.head("scratch_evict_0")
    assert [row["n"] for row in first.rows] == [0]
    assert len(views._relations) == 6


def test_dlq_rows_carry_entry(dlq_session: Session) -> None:
    views = TopicViews(dlq_session)
    page = views.head("dlq", 50)
    assert [row["_entry"] for row in page.rows] == list(range(dlq_session.dlq.count))
    last = page.rows[-1]
    assert views.dlq_record(last["_entry"]).offset == last["offset"]


def test_dlq_record_by_offset(dlq_session: Session) -> None:
    views = TopicViews(dlq_session)
    entry = dlq_session.dlq.snapshot()[1]
    detail = views.record("dlq", entry.partition, entry.offset)
    assert dict(detail.context)["error type"] == entry.error_type

"""Tests for the statement executor: poison records isolated within a micro-batch, the DLQ bound
and the disabled DLQ, the accounting rule, statement errors, and multi-partition sources."""

from __future__ import annotations

import dataclasses
import json
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from velo_tui.engine.broker.base import make_produce_batch
from velo_tui.engine.broker.embedded import EmbeddedBroker
from velo_tui.engine.decode import Decoder, columns_from_schema
from velo_tui.engine.dlq import DeadLetterQueue
from velo_tui.engine.errors import InputError
from velo_tui.engine.executor import StatementExecutor, StatementFailed, StatementStats
from velo_tui.engine.report import build_report
from velo_tui.engine.schema import load_schema_dir
from velo_tui.engine.session import Session
from velo_tui.engine.sql import DUCKDB_SETUP, load_pipeline


def balanced(stats: StatementStats) -> bool:
    return stats.records_in == stats.records_out + stats.filtered + stats.dlq + stats.dlq_dropped


def items(count: int, zero_divisors: set[int] = frozenset()) -> list[bytes]:
    """Return `count` item values with ids 0.. and divisor 0 for the ids in `zero_divisors`."""
    return [
        json.dumps({"id": i, "divisor": 0 if i in zero_divisors else 4, "label": "a", "code": "7"}).encode()
        for i in range(count)
    ]


@pytest.fixture
def executor_for(pipelines_dir: Path) -> Callable[..., tuple[StatementExecutor, EmbeddedBroker]]:
    """Return a function that builds an executor for the semantics pipeline over `values`."""

    def build(values: list[bytes], **options: object) -> tuple[StatementExecutor, EmbeddedBroker]:
        pipeline = load_pipeline(pipelines_dir / "semantics.sql", env={})
        statement = pipeline.statements[0]
        schema = load_schema_dir(pipelines_dir.parent / "schemas")["items"]
        broker = EmbeddedBroker()
        broker.produce(statement.source.topic, make_produce_batch(values, [b"k"] * len(values)))
        dlq = options.pop("dlq", None) or DeadLetterQueue()
        executor = StatementExecutor(
            statement, broker, Decoder(columns_from_schema(schema)), dlq,
            setup_sql=DUCKDB_SETUP, **options,
        )
        return executor, broker

    return build


def output_ids(broker: EmbeddedBroker, topic: str = "items_out") -> list[int]:
    return [json.loads(value)["id"] for value in broker.read_all(topic).column("value").to_pylist()]


# --- poison records ----------------------------------------------------------------------------


@pytest.mark.parametrize("poison", [0, 499, 999])
def test_executor_one_poison_record(executor_for, poison: int) -> None:
    executor, broker = executor_for(items(1000, {poison}), batch_size=1000)
    stats = executor.run()
    entries = executor.dlq.snapshot()
    assert stats.batches == 1
    assert stats.dlq == 1
    assert stats.records_out == 999
    assert len(entries) == 1
    assert entries[0].offset == poison
    assert entries[0].error_type == "division_by_zero"
    assert poison not in output_ids(broker)
    assert balanced(stats)


def test_executor_poison_keeps_order(executor_for) -> None:
    executor, broker = executor_for(items(1000, {3, 400, 401, 998}), batch_size=1000)
    executor.run()
    expected = [i for i in range(1000) if i not in {3, 400, 401, 998}]
    assert output_ids(broker) == expected


def test_executor_poison_offsets(executor_for) -> None:
    poison = {3, 400, 401, 998}
    executor, _ = executor_for(items(1000, poison), batch_size=256)
    stats = executor.run()
    assert sorted(entry.offset for entry in executor.dlq.snapshot()) == sorted(poison)
    assert stats.records_out == 996
    assert balanced(stats)


def test_executor_dlq_entry_context(executor_for) -> None:
    executor, broker = executor_for(items(3, {1}))
    executor.run()
    entry = executor.dlq.snapshot()[0]
    consumed = broker.read_all("items_in").to_pylist()[1]
    assert entry.statement == "priced_items"
    assert entry.topic == "items_in"
    assert entry.partition == 0
    assert entry.key == consumed["key"]
    assert entry.value == consumed["value"]
    assert entry.timestamp == consumed["timestamp"]
    assert entry.stage == "execute"
    assert entry.recoverable is False
    assert entry.failed_at > 0
    assert entry.fault is None


def test_executor_batches_counted(executor_for) -> None:
    executor, _ = executor_for(items(10), batch_size=3)
    stats = executor.run()
    assert stats.batches == 4
    assert len(stats.batch_latencies_s) == 4
    assert stats.records_in == 10


def test_executor_progress_events(executor_for) -> None:
    executor, _ = executor_for(items(10), batch_size=4)
    events = []
    executor.run(progress=events.append)
    assert [event.records_in for event in events] == [4, 8, 10]
    assert events[-1].records_total == 10


# --- the DLQ bound and the disabled DLQ ---------------------------------------------------------


def test_executor_dlq_bound(executor_for) -> None:
    executor, _ = executor_for(items(10, set(range(10))), dlq=DeadLetterQueue(max_size=3))
    stats = executor.run()
    assert stats.dlq == 3
    assert stats.dlq_dropped == 7
    assert executor.dlq.count == 3
    assert executor.dlq.dropped == 7
    assert balanced(stats)


def test_executor_dlq_disabled(executor_for) -> None:
    executor, _ = executor_for(items(10, set(range(10))), dlq_enabled=False)
    stats = executor.run()
    assert stats.dlq == 0
    assert stats.dlq_dropped == 10
    assert stats.errors == 10
    assert executor.dlq.count == 0
    assert executor.dlq.by_error_type == {"division_by_zero": 10}
    assert balanced(stats)


def write_spec(folder: Path, fault_injection: str) -> Path:
    spec = folder / "semantics.test.yaml"
    spec.write_text(
        "application: semantics_demo\n"
        "fault_injection:\n" + textwrap.indent(textwrap.dedent(fault_injection), "  ")
        + "queries:\n  - name: priced_items\n",
        encoding="utf-8",
    )
    return spec


def run_items(session: Session, values: list[bytes]) -> dict:
    session.broker.produce("items_in", make_produce_batch(values))
    session.run_all()
    return build_report(session)


def test_report_dlq_bound(make_session, pipelines_dir: Path, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "dlq_max_size: 3\n")
    session = make_session(pipelines_dir / "semantics.sql", spec_path=spec, records=0)
    report = run_items(session, items(10, set(range(10))))
    statement = report["statements"][0]
    assert report["dlq"]["count"] == 3
    assert report["dlq"]["dropped"] == 7
    assert statement["dlq"] == 3
    assert statement["dlq_dropped"] == 7
    assert statement["accounting_ok"]
    assert report["accounting"]["holds"]


def test_report_dlq_bound_from_sql(make_session, pipelines_dir: Path, tmp_path: Path) -> None:
    text = (pipelines_dir / "semantics.sql").read_text(encoding="utf-8")
    text = text.replace("'priced_items.type' = 'kafka_sink',", "'priced_items.type' = 'kafka_sink',\n    'job.dlq_max_size' = '3',")
    sql = tmp_path / "pipelines" / "bounded.sql"
    sql.parent.mkdir()
    sql.write_text(text, encoding="utf-8")
    session = make_session(sql, records=0, schemas_dir=pipelines_dir.parent / "schemas")
    report = run_items(session, items(10, set(range(10))))
    assert report["dlq"]["count"] == 3
    assert report["dlq"]["dropped"] == 7


def test_report_dlq_disabled(make_session, pipelines_dir: Path, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "enable_dlq: false\n")
    session = make_session(pipelines_dir / "semantics.sql", spec_path=spec, records=0)
    report = run_items(session, items(10, set(range(7))))
    statement = report["statements"][0]
    assert report["dlq"]["count"] == 0
    assert report["dlq"]["dropped"] == 7
    assert report["dlq"]["by_error_type"] == {"division_by_zero": 7}
    assert statement["dlq"] == 0
    assert statement["dlq_dropped"] == 7
    assert statement["records_out"] == 3
    assert statement["accounting_ok"]


def test_report_accounting_with_filter(make_session, pipelines_dir: Path) -> None:
    session = make_session(pipelines_dir / "orders.sql", records=0, faults=False, spec_path=None)
    values = [
        json.dumps({"order_id": str(uuid.UUID(int=q + 10)), "quantity": q, "unit_price": 2.0, "label": "abc",
                    "placed_at": "2026-01-01T00:00:00"}).encode()
        for q in (1, 0, -3, 5)
    ] + [b"not json"]
    session.broker.produce("orders_in", make_produce_batch(values))
    state = session.step()
    assert state.stats.records_in == 5
    assert state.stats.records_out == 2
    assert state.stats.filtered == 2
    assert state.stats.dlq == 1
    assert balanced(state.stats)


# --- statement errors --------------------------------------------------------------------------


def test_unknown_column_at_open(make_session, pipelines_dir: Path) -> None:
    with pytest.raises(InputError) as info:
        make_session(pipelines_dir / "unknown_column.sql")
    message = str(info.value)
    # The location is the unknown column's use in the SELECT, not the CREATE line.
    assert info.value.location.line == 4
    assert info.value.location.column == 12
    assert message.startswith(f"{pipelines_dir / 'unknown_column.sql'}:4:12:")
    assert "no_such_field" in message
    assert "broken_items" in message


def test_executor_statement_failure(executor_for) -> None:
    executor, _ = executor_for(items(3))
    executor.statement = dataclasses.replace(
        executor.statement, duckdb_sql="SELECT missing_column, __velo_row FROM velo_source"
    )
    with pytest.raises(StatementFailed) as info:
        executor.run()
    assert "priced_items (line 4)" in str(info.value)
    assert "missing_column" in str(info.value)


# --- partitions --------------------------------------------------------------------------------


def test_partitioned_source_complete(make_session, pipelines_dir: Path) -> None:
    session = make_session(pipelines_dir / "partitioned.sql", records=300, batch_size=16)
    state = session.step()
    marks = session.broker.watermarks("events_in")
    sink = session.output_table(state)
    assert len(marks) == 3
    assert all(mark.count > 0 for mark in marks)
    assert sum(mark.count for mark in marks) == 300
    assert sink.num_rows == 300
    assert state.stats.records_out == 300
    assert balanced(state.stats)


def test_partitioned_source_order(make_session, pipelines_dir: Path) -> None:
    session = make_session(pipelines_dir / "partitioned.sql", records=300, batch_size=16)
    state = session.step()
    sink = session.output_table(state).to_pylist()
    for mark in session.broker.watermarks("events_in"):
        offsets = [row["source_offset"] for row in sink if row["source_partition"] == mark.partition]
        assert offsets == list(range(mark.count)), f"partition {mark.partition}"


def test_partitioned_source_values(make_session, pipelines_dir: Path) -> None:
    session = make_session(pipelines_dir / "partitioned.sql", records=300, batch_size=16)
    state = session.step()
    source = session.broker.read_all("events_in").to_pylist()
    expected = {(m["partition"], m["offset"]): json.loads(m["value"])["seq"] for m in source}
    sink = session.output_table(state).to_pylist()
    actual = {(row["source_partition"], row["source_offset"]): row["seq"] for row in sink}
    assert actual == expected

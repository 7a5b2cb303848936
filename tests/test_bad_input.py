"""Tests for bad input run through a whole statement: where each odd record ends (sink topic or
DLQ entry, with which stage and error type), and that every injected malformed record is caught."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from velo_tui.engine.broker.base import make_produce_batch
from velo_tui.engine.dlq import DeadLetterEntry
from velo_tui.engine.report import build_report
from velo_tui.engine.session import OK, Session, StatementState

#: A field value of 5 MB, which makes its record larger than Kafka's default 1 MiB message limit.
FIVE_MB_TEXT = "x" * 5_000_000


def balanced(state: StatementState) -> bool:
    stats = state.stats
    return stats.records_in == stats.records_out + stats.filtered + stats.dlq + stats.dlq_dropped


def sink_values(session: Session, state: StatementState) -> list[dict | None]:
    values = session.broker.read_all(state.statement.sink.topic).column("value").to_pylist()
    return [None if value is None else json.loads(value) for value in values]


def only_entry(session: Session) -> DeadLetterEntry:
    entries = session.dlq.snapshot()
    assert len(entries) == 1
    return entries[0]


@pytest.fixture
def run_values(
    make_session: Callable[..., Session], pipelines_dir: Path
) -> Callable[..., tuple[Session, StatementState]]:
    """Return a function that produces raw message values to a test pipeline's source topic
    and runs its first statement over them (no generated input)."""

    def run(
        values: list[bytes | None],
        keys: list[bytes | None] | None = None,
        sql: str = "readings.sql",
        **options: object,
    ) -> tuple[Session, StatementState]:
        session = make_session(pipelines_dir / sql, records=0, **options)
        topic = session.states[0].statement.source.topic
        if values:
            keys = keys if keys is not None else [b"k%d" % i for i in range(len(values))]
            session.broker.produce(topic, make_produce_batch(values, keys))
        state = session.step()
        return session, state

    return run


# --- decode and validate ---------------------------------------------------------------------

DLQ_CASES = [
    # (case, value, stage, error type)
    ("not_json", b"not json at all", "decode", "invalid_json"),
    ("not_utf8", b'{"id": 1, "name": "caf\xe9"}', "decode", "invalid_encoding"),
    ("nan", b'{"id": 3, "amount": NaN}', "validate", "non_finite_number"),
    ("infinity", b'{"id": 3, "amount": Infinity}', "validate", "non_finite_number"),
    ("int_beyond_64_bits", b'{"id": 99999999999999999999999}', "validate", "overflow"),
    ("duplicate_key", b'{"id": 4, "id": 5}', "validate", "duplicate_key"),
    ("tombstone", None, "decode", "tombstone"),
    ("case_differs", b'{"ID": 6}', "validate", "missing_field"),
]


@pytest.mark.parametrize(
    ("value", "stage", "error_type"),
    [case[1:] for case in DLQ_CASES],
    ids=[case[0] for case in DLQ_CASES],
)
def test_bad_record_to_dlq(run_values, value: bytes | None, stage: str, error_type: str) -> None:
    session, state = run_values([value])
    entry = only_entry(session)
    assert entry.stage == stage
    assert entry.error_type == error_type
    assert entry.value == value
    assert entry.topic == "readings_in"
    assert entry.offset == 0
    assert entry.statement == "readings_out"
    assert sink_values(session, state) == []
    assert state.status == OK
    assert state.stats.dlq == 1
    assert balanced(state)


def test_bad_record_batch_continues(run_values) -> None:
    session, state = run_values([b'{"id": 1}', b"garbage", b'{"id": 2}'])
    assert [value["id"] for value in sink_values(session, state)] == [1, 2]
    assert only_entry(session).offset == 1


def test_case_differs_hint(run_values) -> None:
    session, _ = run_values([b'{"ID": 6}'])
    entry = only_entry(session)
    assert entry.field == "id"
    assert "'ID', which differs only in letter case" in entry.message


def test_byte_order_mark_decoded(run_values) -> None:
    session, state = run_values([b'\xef\xbb\xbf{"id": 2, "amount": 1.5}'])
    assert sink_values(session, state) == [{"id": 2, "amount": 1.5, "name": None, "doubled": 3.0}]
    assert session.dlq.count == 0


def test_numeric_string_converted(run_values) -> None:
    session, state = run_values([b'{"id": "7", "amount": "2.5"}'])
    assert sink_values(session, state) == [{"id": 7, "amount": 2.5, "name": None, "doubled": 5.0}]


def test_null_key_kept(run_values) -> None:
    session, state = run_values([b'{"id": 8}'], keys=[None])
    sink = session.broker.read_all(state.statement.sink.topic)
    assert sink.column("key").to_pylist() == [None]
    assert sink_values(session, state)[0]["id"] == 8


def test_key_and_timestamp_carried(run_values) -> None:
    session, state = run_values([b'{"id": 8}'], keys=[b"reading-8"])
    source = session.broker.read_all("readings_in")
    sink = session.broker.read_all(state.statement.sink.topic)
    assert sink.column("key").to_pylist() == [b"reading-8"]
    assert sink.column("timestamp").to_pylist() == source.column("timestamp").to_pylist()


def test_empty_topic_ok(run_values) -> None:
    session, state = run_values([])
    assert state.status == OK
    assert state.stats.records_in == 0
    assert state.stats.records_out == 0
    assert session.dlq.count == 0


# --- a record too large for the broker ---------------------------------------------------------


def test_large_output_not_produced(run_values) -> None:
    # The readings schema bounds `name` to 20 characters, so use the source without a schema.
    value = json.dumps({"id": 9, "referrer": FIVE_MB_TEXT}).encode()
    session, state = run_values([value, b'{"id": 10}'], sql="clicks.sql")
    entry = session.dlq.snapshot()[0]
    report = build_report(session)
    assert [row["id"] for row in sink_values(session, state)] == [10]
    assert entry.stage == "produce"
    assert entry.error_type == "record_too_large"
    assert entry.value == value
    assert entry.recoverable is False
    assert "1048576-byte message limit" in entry.message
    assert report["dlq"]["by_error_type"] == {"record_too_large": 1}
    assert report["statements"][0]["dlq"] == 1
    assert balanced(state)


def test_large_input_never_reaches_topic(make_session, pipelines_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "readings.jsonl"
    lines = [json.dumps({"id": 1, "name": "small"}), json.dumps({"id": 2, "name": FIVE_MB_TEXT})]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")

    spec = tmp_path / "readings.test.yaml"
    spec.write_text(
        textwrap.dedent(
            """
            application: readings_demo
            queries:
              - name: readings_out
                inputs:
                  - source: readings
                    data_file: readings.jsonl
            """
        ),
        encoding="utf-8",
    )

    session = make_session(pipelines_dir / "readings.sql", spec_path=spec)
    state = session.step()
    entry = only_entry(session)
    report = build_report(session)

    assert session.broker.read_all("readings_in").num_rows == 1
    assert entry.stage == "produce"
    assert entry.error_type == "record_too_large"
    assert entry.offset is None
    assert entry.recoverable is False
    assert "never reached topic readings_in" in entry.message
    assert report["dlq"]["by_stage"] == {"produce": 1}
    assert report["statements"][0]["records_in"] == 2
    assert report["statements"][0]["records_out"] == 1
    assert balanced(state)


# --- a field first seen in a later micro-batch -------------------------------------------------


def test_late_field_without_schema(run_values) -> None:
    values = [b'{"id": 1}', b'{"id": 2}', b'{"id": 3, "referrer": "home"}']
    session, state = run_values(values, sql="clicks.sql", batch_size=2)
    assert state.status == OK
    assert sink_values(session, state) == [
        {"id": 1, "referrer": None},
        {"id": 2, "referrer": None},
        {"id": 3, "referrer": "home"},
    ]
    assert state.stats.batches == 2
    assert balanced(state)


def test_late_field_output_columns(run_values) -> None:
    values = [b'{"id": 1}', b'{"id": 2, "referrer": "home"}']
    _, state = run_values(values, sql="clicks.sql", batch_size=1)
    assert [column.name for column in state.output_columns] == ["id", "referrer"]


def test_mixed_types_without_schema(run_values) -> None:
    values = [b'{"id": 1, "referrer": {"page": "home"}}', b'{"id": 2, "referrer": "search"}']
    session, state = run_values(values, sql="clicks.sql")
    assert session.dlq.count == 0
    assert [row["referrer"] for row in sink_values(session, state)] == ['{"page":"home"}', "search"]


# --- streaming SQL semantics -------------------------------------------------------------------


def item(record_id: int, divisor: int | None = 4, label: str | None = "a", code: str | None = "12") -> bytes:
    return json.dumps({"id": record_id, "divisor": divisor, "label": label, "code": code}).encode()


def test_division_by_zero_to_dlq(run_values) -> None:
    session, state = run_values([item(1), item(2, divisor=0), item(3)], sql="semantics.sql")
    entry = only_entry(session)
    assert entry.stage == "execute"
    assert entry.error_type == "division_by_zero"
    assert entry.offset == 1
    assert [row["id"] for row in sink_values(session, state)] == [1, 3]
    assert balanced(state)


def test_division_is_true_division(run_values) -> None:
    session, state = run_values([item(1, divisor=8)], sql="semantics.sql")
    assert sink_values(session, state)[0]["ratio"] == 12.5


def test_concat_null_is_null(run_values) -> None:
    session, state = run_values([item(1, label=None), item(2, label="b")], sql="semantics.sql")
    assert [row["tagged"] for row in sink_values(session, state)] == [None, "b-x"]
    assert session.dlq.count == 0


def test_failing_cast_to_dlq(run_values) -> None:
    session, state = run_values([item(1, code="abc"), item(2)], sql="semantics.sql")
    entry = only_entry(session)
    assert entry.stage == "cast"
    assert entry.error_type == "conversion_error"
    assert entry.offset == 0
    assert [row["code_number"] for row in sink_values(session, state)] == [12]
    assert balanced(state)


def readings_variant(tmp_path: Path, pipelines_dir: Path, select_item: str) -> Path:
    """Write the readings pipeline with `select_item` in place of its computed column."""
    text = (pipelines_dir / "readings.sql").read_text(encoding="utf-8")
    sql = tmp_path / "variant.sql"
    sql.write_text(text.replace("amount * 2 AS doubled", select_item), encoding="utf-8")
    return sql


def test_integer_overflow_to_dlq(make_session, pipelines_dir: Path, tmp_path: Path) -> None:
    sql = readings_variant(tmp_path, pipelines_dir, "id * 4611686018427387904 AS product")
    session = make_session(sql, records=0, schemas_dir=pipelines_dir.parent / "schemas")
    session.broker.produce("readings_in", make_produce_batch([b'{"id": 2}', b'{"id": 1}']))
    state = session.step()
    entry = only_entry(session)
    assert entry.stage == "execute"
    assert entry.error_type == "out_of_range"
    assert entry.offset == 0
    assert [row["id"] for row in sink_values(session, state)] == [1]
    assert balanced(state)


def test_remainder_by_zero_to_dlq(make_session, pipelines_dir: Path, tmp_path: Path) -> None:
    sql = readings_variant(tmp_path, pipelines_dir, "100 % id AS remainder")
    session = make_session(sql, records=0, schemas_dir=pipelines_dir.parent / "schemas")
    session.broker.produce("readings_in", make_produce_batch([b'{"id": 0}', b'{"id": 7}']))
    state = session.step()
    entry = only_entry(session)
    assert entry.stage == "execute"
    assert entry.error_type == "division_by_zero"
    assert [row["remainder"] for row in sink_values(session, state)] == [2]


def test_concat_function_null_is_empty(make_session, pipelines_dir: Path, tmp_path: Path) -> None:
    sql = readings_variant(tmp_path, pipelines_dir, "concat(name, '-x') AS tagged")
    session = make_session(sql, records=0, schemas_dir=pipelines_dir.parent / "schemas")
    session.broker.produce("readings_in", make_produce_batch([b'{"id": 1}', b'{"id": 2, "name": "abc"}']))
    state = session.step()
    assert [row["tagged"] for row in sink_values(session, state)] == ["-x", "abc-x"]


def test_non_finite_output_to_dlq(make_session, pipelines_dir: Path, tmp_path: Path) -> None:
    sql = readings_variant(tmp_path, pipelines_dir, "sqrt(amount) AS root")
    session = make_session(sql, records=0, schemas_dir=pipelines_dir.parent / "schemas")
    values = [b'{"id": 1, "amount": -4.0}', b'{"id": 2, "amount": 4.0}']
    session.broker.produce("readings_in", make_produce_batch(values))
    state = session.step()
    entry = only_entry(session)
    assert entry.stage == "encode"
    assert entry.error_type == "non_finite_number"
    assert entry.field == "root"
    assert [row["root"] for row in sink_values(session, state)] == [2.0]
    assert balanced(state)


# --- injected malformed records ----------------------------------------------------------------

MALFORMED = [
    # (type, stage, error type)
    ("missing_field", "validate", "missing_field"),
    ("wrong_type", "validate", "wrong_type"),
    ("invalid_json", "decode", "invalid_json"),
    ("overflow", "validate", "overflow"),
    ("null_value", "validate", "null_value"),
    ("unexpected_null", "validate", "null_value"),
    ("empty_record", "validate", "missing_field"),
    ("invalid_encoding", "decode", "invalid_encoding"),
    ("truncated", "decode", "invalid_json"),
]


@pytest.mark.parametrize(("kind", "stage", "error_type"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_fault_caught(
    make_session, pipelines_dir: Path, tmp_path: Path, kind: str, stage: str, error_type: str
) -> None:
    spec = tmp_path / f"{kind}.test.yaml"
    spec.write_text(
        textwrap.dedent(
            f"""
            application: orders_demo
            fault_injection:
              seed: 5
              malformed_records:
                rate: 1.0
                types: [{kind}]
            queries:
              - name: priced_orders
                inputs:
                  - source: orders
                    schema: orders
                    records: 20
            """
        ),
        encoding="utf-8",
    )

    session = make_session(pipelines_dir / "orders.sql", spec_path=spec)
    state = session.step()
    entries = session.dlq.snapshot()
    ledger = session.fault_plan.ledger.counts()

    assert len(entries) == 20
    assert {entry.stage for entry in entries} == {stage}
    assert {entry.error_type for entry in entries} == {error_type}
    assert {entry.fault for entry in entries} == {f"malformed_records.{kind}"}
    assert all(entry.fault_id for entry in entries)
    assert ledger == {f"malformed_records.{kind}": len(entries)}
    assert state.stats.records_out == 0
    assert balanced(state)

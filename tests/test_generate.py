"""Tests for seeded record generation: encoding, reproducibility and every constraint."""

from __future__ import annotations

import json
import re
import textwrap
import uuid
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from velo_tui.engine.broker.base import PRODUCE_SCHEMA
from velo_tui.engine.errors import InputError
from velo_tui.engine.generate import GENERATION_ANCHOR_MS, generate_records, generate_typed
from velo_tui.engine.schema import Schema, load_schema_file

ORDERS = """
name: orders
fields:
  - name: order_id
    type: uuid
  - name: quantity
    type: integer
    constraints:
      range: {min: 1, max: 200}
  - name: unit_price
    type: float
    constraints:
      range: {min: 5.0, max: 500.0}
  - name: order_total
    type:
      decimal:
        precision: 2
    constraints:
      range: {min: 10.00, max: 5000.00}
  - name: status
    type: string
    constraints:
      enum_values:
        values: [pending, shipped, cancelled]
        weights: [0.5, 0.4, 0.1]
  - name: note
    type: string
    nullable: true
    constraints:
      length: {min: 3, max: 6}
  - name: event_time
    type: timestamp
    constraints:
      timestamp_range: {start: "-1h", end: "now"}
"""

TIMESTAMP_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$")


def make_schema(tmp_path: Path, text: str) -> Schema:
    path = tmp_path / "s.schema.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_schema_file(path)


def records(batch: pa.Table) -> list[dict]:
    return [json.loads(value) for value in batch.column("value").to_pylist()]


def epoch_ms(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return round(moment.timestamp() * 1000)


@pytest.fixture
def orders(tmp_path: Path) -> Schema:
    return make_schema(tmp_path, ORDERS)


# --- batch shape and encoding --------------------------------------------------------------


def test_generate_produce_schema(orders: Schema) -> None:
    batch = generate_records(orders, 50, 1)
    assert batch.schema == PRODUCE_SCHEMA
    assert batch.num_rows == 50


def test_generate_fields_in_schema_order(orders: Schema) -> None:
    first = records(generate_records(orders, 5, 1))[0]
    assert list(first) == orders.field_names


def test_generate_headers_and_partition_null(orders: Schema) -> None:
    batch = generate_records(orders, 5, 1)
    assert batch.column("headers").null_count == 5
    assert batch.column("partition").null_count == 5


def test_generate_zero_records(orders: Schema) -> None:
    assert generate_records(orders, 0, 1).num_rows == 0


def test_generate_timestamp_text_format(orders: Schema) -> None:
    for record in records(generate_records(orders, 50, 3)):
        assert TIMESTAMP_TEXT.match(record["event_time"])


def test_generate_message_timestamp_is_event_time(orders: Schema) -> None:
    batch = generate_records(orders, 50, 3)
    expected = [epoch_ms(record["event_time"]) for record in records(batch)]
    assert batch.column("timestamp").to_pylist() == expected


def test_generate_timestamp_without_event_field(tmp_path: Path) -> None:
    schema = make_schema(tmp_path, "fields:\n  - name: a\n    type: integer\n")
    batch = generate_records(schema, 4, 1, anchor_ms=1234)
    assert batch.column("timestamp").to_pylist() == [1234] * 4


def test_generate_key_from_argument(orders: Schema) -> None:
    batch = generate_records(orders, 20, 1, key_field="quantity")
    keys = batch.column("key").to_pylist()
    assert keys == [str(record["quantity"]).encode() for record in records(batch)]


def test_generate_key_from_schema(tmp_path: Path) -> None:
    schema = make_schema(tmp_path, ORDERS + "key_field: order_id\n")
    batch = generate_records(schema, 20, 1)
    keys = batch.column("key").to_pylist()
    assert keys == [record["order_id"].encode() for record in records(batch)]


def test_generate_key_null_without_key_field(orders: Schema) -> None:
    assert generate_records(orders, 5, 1).column("key").null_count == 5


def test_generate_unknown_key_field(orders: Schema) -> None:
    with pytest.raises(InputError) as info:
        generate_records(orders, 5, 1, key_field="customer")
    assert "key_field 'customer'" in info.value.message


def test_generate_typed_columns(orders: Schema) -> None:
    table = generate_typed(orders, 10, 1)
    assert table.schema.field("quantity").type == pa.int64()
    assert table.schema.field("order_total").type == pa.decimal128(18, 2)
    assert table.schema.field("event_time").type == pa.timestamp("ms")


# --- reproducibility -------------------------------------------------------------------------


def test_generate_same_seed_identical(orders: Schema) -> None:
    first = generate_records(orders, 500, 42, key_field="order_id")
    second = generate_records(orders, 500, 42, key_field="order_id")
    assert first.column("value").to_pylist() == second.column("value").to_pylist()
    assert first.column("key").to_pylist() == second.column("key").to_pylist()
    assert first.column("timestamp").to_pylist() == second.column("timestamp").to_pylist()


def test_generate_other_seed_differs(orders: Schema) -> None:
    first = generate_records(orders, 50, 42)
    second = generate_records(orders, 50, 43)
    assert first.column("value").to_pylist() != second.column("value").to_pylist()


def test_generate_start_index_differs(orders: Schema) -> None:
    first = generate_records(orders, 50, 42)
    second = generate_records(orders, 50, 42, start_index=50)
    assert first.column("value").to_pylist() != second.column("value").to_pylist()


def test_generate_uuids_seeded_v4(orders: Schema) -> None:
    first = [record["order_id"] for record in records(generate_records(orders, 200, 9))]
    second = [record["order_id"] for record in records(generate_records(orders, 200, 9))]
    assert first == second
    assert len(set(first)) == 200
    assert {uuid.UUID(text).version for text in first} == {4}
    assert {uuid.UUID(text).variant for text in first} == {uuid.RFC_4122}


def test_generate_field_independent_of_other_fields(tmp_path: Path, orders: Schema) -> None:
    fewer = make_schema(tmp_path, "fields:\n  - name: quantity\n    type: integer\n    constraints:\n      range: {min: 1, max: 200}\n")
    alone = [record["quantity"] for record in records(generate_records(fewer, 100, 5))]
    together = [record["quantity"] for record in records(generate_records(orders, 100, 5))]
    assert alone == together


# --- constraints -----------------------------------------------------------------------------


def test_generate_integer_range(orders: Schema) -> None:
    values = [record["quantity"] for record in records(generate_records(orders, 5000, 2))]
    assert min(values) == 1
    assert max(values) == 200
    assert all(isinstance(value, int) for value in values)


def test_generate_float_range(orders: Schema) -> None:
    values = [record["unit_price"] for record in records(generate_records(orders, 2000, 2))]
    assert min(values) >= 5.0
    assert max(values) <= 500.0


def test_generate_decimal_digits(orders: Schema) -> None:
    batch = generate_records(orders, 2000, 4)
    texts = re.findall(rb'"order_total":(-?[0-9.]+)', b"\n".join(batch.column("value").to_pylist()))
    assert len(texts) == 2000
    for text in texts:
        assert len(text.split(b".")[1]) <= 2
        assert Decimal("10.00") <= Decimal(text.decode()) <= Decimal("5000.00")


def test_generate_weighted_enum(orders: Schema) -> None:
    counts = Counter(record["status"] for record in records(generate_records(orders, 10_000, 6)))
    assert counts["pending"] / 10_000 == pytest.approx(0.5, abs=0.03)
    assert counts["shipped"] / 10_000 == pytest.approx(0.4, abs=0.03)
    assert counts["cancelled"] / 10_000 == pytest.approx(0.1, abs=0.02)


def test_generate_nullable_share(orders: Schema) -> None:
    notes = [record["note"] for record in records(generate_records(orders, 10_000, 6))]
    assert notes.count(None) / 10_000 == pytest.approx(0.1, abs=0.02)


def test_generate_required_never_null(orders: Schema) -> None:
    values = [record["status"] for record in records(generate_records(orders, 2000, 6))]
    assert None not in values


def test_generate_string_length(orders: Schema) -> None:
    lengths = {len(record["note"]) for record in records(generate_records(orders, 2000, 6)) if record["note"]}
    assert lengths == {3, 4, 5, 6}


def test_generate_timestamps_relative_to_anchor(orders: Schema) -> None:
    times = [epoch_ms(record["event_time"]) for record in records(generate_records(orders, 2000, 8))]
    assert min(times) >= GENERATION_ANCHOR_MS - 3_600_000
    assert max(times) < GENERATION_ANCHOR_MS


def test_generate_anchor_override(orders: Schema) -> None:
    anchor = GENERATION_ANCHOR_MS + 86_400_000
    times = [epoch_ms(record["event_time"]) for record in records(generate_records(orders, 500, 8, anchor_ms=anchor))]
    assert min(times) >= anchor - 3_600_000
    assert max(times) < anchor


def test_generate_absolute_timestamp_range(tmp_path: Path) -> None:
    schema = make_schema(
        tmp_path,
        """
        fields:
          - name: ts
            type: timestamp
            constraints:
              timestamp_range: {start: "2024-03-01T00:00:00Z", end: "2024-03-02T00:00:00Z"}
        """,
    )
    batch = generate_records(schema, 500, 1)
    times = [epoch_ms(record["ts"]) for record in records(batch)]
    assert min(times) >= 1_709_251_200_000
    assert max(times) < 1_709_337_600_000


def test_generate_date_within_window(tmp_path: Path) -> None:
    schema = make_schema(tmp_path, "fields:\n  - name: d\n    type: date\n")
    days = {record["d"] for record in records(generate_records(schema, 3000, 1))}
    assert max(days) == "2026-01-01"
    assert min(days) == "2025-12-03"


def test_generate_boolean_share(tmp_path: Path) -> None:
    schema = make_schema(tmp_path, "fields:\n  - name: b\n    type: boolean\n")
    values = [record["b"] for record in records(generate_records(schema, 10_000, 1))]
    assert values.count(True) / 10_000 == pytest.approx(0.5, abs=0.03)


def test_generate_integer_enum_stays_number(tmp_path: Path) -> None:
    schema = make_schema(
        tmp_path,
        "fields:\n  - name: n\n    type: integer\n    constraints:\n      enum_values:\n        values: [1, 2]\n",
    )
    values = {record["n"] for record in records(generate_records(schema, 200, 1))}
    assert values == {1, 2}


def test_generate_references_placeholder(tmp_path: Path) -> None:
    schema = make_schema(
        tmp_path,
        """
        fields:
          - name: customer
            type: string
            constraints:
              references: {schema: customers, field: id}
        """,
    )
    for record in records(generate_records(schema, 100, 1)):
        assert re.fullmatch(r"REF_CUSTOMERS_\d{1,3}", record["customer"])


# --- distributions ---------------------------------------------------------------------------


def distribution_values(tmp_path: Path, distribution: str, count: int = 10_000, field_type: str = "float") -> np.ndarray:
    schema = make_schema(
        tmp_path,
        f"""
        fields:
          - name: x
            type: {field_type}
            constraints:
              range: {{min: 0, max: 100}}
              distribution: {distribution}
        """,
    )
    return np.array([record["x"] for record in records(generate_records(schema, count, 11))])


def test_distribution_normal(tmp_path: Path) -> None:
    values = distribution_values(tmp_path, "{normal: {mean: 50, std_dev: 5}}")
    assert values.mean() == pytest.approx(50, abs=0.5)
    assert values.std() == pytest.approx(5, abs=0.5)


def test_distribution_log_normal_in_range(tmp_path: Path) -> None:
    values = distribution_values(tmp_path, "{log_normal: {mean: 2, std_dev: 1}}")
    assert values.min() >= 0
    assert values.max() <= 100
    assert np.median(values) == pytest.approx(np.exp(2), rel=0.1)


def test_distribution_zipf_skews_low(tmp_path: Path) -> None:
    values = distribution_values(tmp_path, "{zipf: {exponent: 1.5}}", field_type="integer")
    assert np.mean(values < 10) > 0.5
    assert values.min() >= 0
    assert values.max() <= 100


def test_distribution_random_walk_steps(tmp_path: Path) -> None:
    values = distribution_values(tmp_path, "{random_walk: {volatility: 0.01}}")
    steps = np.abs(np.diff(values)) / values[:-1]
    assert np.median(steps) < 0.02
    assert values.min() >= 0
    assert values.max() <= 100


def test_distribution_random_walk_grouped(tmp_path: Path) -> None:
    schema = make_schema(
        tmp_path,
        """
        fields:
          - name: price
            type: float
            constraints:
              range: {min: 1, max: 1000}
              distribution:
                random_walk: {volatility: 0.001, group_by: symbol}
          - name: symbol
            type: string
            constraints:
              enum_values: {values: [A, B]}
        """,
    )
    rows = records(generate_records(schema, 2000, 3))
    for symbol in ("A", "B"):
        prices = np.array([row["price"] for row in rows if row["symbol"] == symbol])
        assert np.max(np.abs(np.diff(prices)) / prices[:-1]) < 0.01


# --- derived ---------------------------------------------------------------------------------


def test_derived_expression(tmp_path: Path) -> None:
    schema = make_schema(
        tmp_path,
        """
        fields:
          - name: qty
            type: integer
            constraints:
              range: {min: 1, max: 9}
          - name: price
            type: decimal(2)
            constraints:
              range: {min: 1, max: 9}
          - name: total
            type: decimal(2)
            constraints:
              derived:
                expression: "qty * price"
        """,
    )
    for record in records(generate_records(schema, 100, 2)):
        assert record["total"] == pytest.approx(record["qty"] * record["price"])


def test_derived_random_seeded(tmp_path: Path) -> None:
    schema = make_schema(
        tmp_path,
        """
        fields:
          - name: base
            type: integer
          - name: jitter
            type: float
            constraints:
              derived: "random(10, 20)"
        """,
    )
    first = [record["jitter"] for record in records(generate_records(schema, 200, 2))]
    second = [record["jitter"] for record in records(generate_records(schema, 200, 2))]
    assert first == second
    assert min(first) >= 10
    assert max(first) <= 20


def test_derived_min_max_functions(tmp_path: Path) -> None:
    schema = make_schema(
        tmp_path,
        """
        fields:
          - name: a
            type: integer
          - name: low
            type: integer
            constraints:
              derived: "min(a, 500)"
        """,
    )
    for record in records(generate_records(schema, 200, 2)):
        assert record["low"] == min(record["a"], 500)


def test_derived_invalid_expression(tmp_path: Path) -> None:
    schema = make_schema(
        tmp_path,
        """
        fields:
          - name: a
            type: integer
          - name: b
            type: integer
            constraints:
              derived: "a + missing_column"
        """,
    )
    with pytest.raises(InputError) as info:
        generate_records(schema, 5, 1)
    assert "field 'b'" in info.value.message
    assert "missing_column" in info.value.message
    assert info.value.location.line == 4

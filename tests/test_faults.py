"""Tests for fault injection: each injector's effect, rates, tags, the ledger and plan validation."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

from velo_tui.engine import faults
from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.faults import (
    FAULT_HEADER,
    FAULT_ID_HEADER,
    FaultInjector,
    available_faults,
    build_fault_plan,
    seed_from_config,
)
from velo_tui.engine.faults import base as faults_base
from velo_tui.engine.faults.malformed import MALFORMED_TYPES
from velo_tui.engine.generate import generate_records
from velo_tui.engine.schema import Schema, load_schema_file

LOCATION = SourceLocation("p.test.yaml")

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
    type: decimal(2)
    constraints:
      range: {min: 10, max: 5000}
  - name: status
    type: string
    constraints:
      length: {min: 4, max: 8}
  - name: note
    type: string
    nullable: true
  - name: event_time
    type: timestamp
"""


@pytest.fixture(scope="module")
def orders(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    path = tmp_path_factory.mktemp("schemas") / "orders.schema.yaml"
    path.write_text(textwrap.dedent(ORDERS).lstrip("\n"), encoding="utf-8")
    return load_schema_file(path)


def run_plan(config: dict, schema: Schema, count: int = 200, seed: int = 7, source: str = "orders"):
    plan = build_fault_plan(config, seed, LOCATION)
    key_field = "order_id" if schema.has_field("order_id") else None
    batch = generate_records(schema, count, 1, key_field=key_field)
    return plan, batch, plan.apply(batch, schema, source)


def headers_of(row_headers: list | None) -> dict[str, bytes]:
    return {header["key"]: header["value"] for header in row_headers or []}


def tagged_rows(batch: pa.Table) -> list[int]:
    return [index for index, row_headers in enumerate(batch.column("headers").to_pylist()) if row_headers]


def malformed(schema: Schema, kind: str, count: int = 50) -> tuple[list[bytes], list[bytes]]:
    """Return (original values, malformed values) with every record malformed as `kind`."""
    _, before, after = run_plan({"malformed_records": {"rate": 1.0, "types": [kind]}}, schema, count)
    return before.column("value").to_pylist(), after.column("value").to_pylist()


def epoch_ms(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return round(moment.timestamp() * 1000)


# --- malformed records -------------------------------------------------------------------------


def test_malformed_missing_field(orders: Schema) -> None:
    _, values = malformed(orders, "missing_field")
    required = {spec.name for spec in orders.fields if not spec.nullable}
    for value in values:
        record = json.loads(value)
        assert len(required - set(record)) == 1


def test_malformed_wrong_type(orders: Schema) -> None:
    _, values = malformed(orders, "wrong_type")
    numeric = ("quantity", "unit_price", "order_total")
    for value in values:
        record = json.loads(value)
        assert any(isinstance(record[name], str) for name in numeric)


def test_malformed_invalid_json(orders: Schema) -> None:
    _, values = malformed(orders, "invalid_json")
    for value in values:
        value.decode("utf-8")
        with pytest.raises(json.JSONDecodeError):
            json.loads(value)


def test_malformed_overflow(orders: Schema) -> None:
    _, values = malformed(orders, "overflow")
    for value in values:
        record = json.loads(value)
        assert any(isinstance(record[name], int) and record[name] > 2**63 for name in ("quantity", "order_total"))


def test_malformed_overflow_string(tmp_path: Path) -> None:
    path = tmp_path / "s.schema.yaml"
    path.write_text("fields:\n  - name: s\n    type: string\n    constraints:\n      length: {min: 1, max: 5}\n")
    _, values = malformed(load_schema_file(path), "overflow", 10)
    for value in values:
        assert len(json.loads(value)["s"]) > 1000


@pytest.mark.parametrize("kind", ["null_value", "unexpected_null"])
def test_malformed_null_value(orders: Schema, kind: str) -> None:
    _, values = malformed(orders, kind)
    required = [spec.name for spec in orders.fields if not spec.nullable]
    for value in values:
        record = json.loads(value)
        assert sum(record[name] is None for name in required) == 1


def test_malformed_empty_record(orders: Schema) -> None:
    _, values = malformed(orders, "empty_record")
    assert {value for value in values} == {b"{}"}


def test_malformed_invalid_encoding(orders: Schema) -> None:
    _, values = malformed(orders, "invalid_encoding")
    for value in values:
        with pytest.raises(UnicodeDecodeError):
            value.decode("utf-8")


def test_malformed_truncated(orders: Schema) -> None:
    originals, values = malformed(orders, "truncated")
    for original, value in zip(originals, values):
        assert original.startswith(value)
        assert len(value) < len(original)
        with pytest.raises(json.JSONDecodeError):
            json.loads(value)


def test_malformed_types_chosen_uniformly(orders: Schema) -> None:
    types = ["missing_field", "wrong_type", "invalid_json", "overflow"]
    plan, _, _ = run_plan({"malformed_records": {"rate": 1.0, "types": types}}, orders, 4000)
    counts = Counter(entry.kind for entry in plan.ledger.entries)
    for kind in types:
        assert counts[kind] / 4000 == pytest.approx(0.25, abs=0.04)


def test_malformed_rate(orders: Schema) -> None:
    plan, _, after = run_plan({"malformed_records": {"rate": 0.05}}, orders, 10_000)
    assert len(plan.ledger) == pytest.approx(500, abs=80)
    assert after.num_rows == 10_000


def test_malformed_tags_match_ledger(orders: Schema) -> None:
    plan, _, after = run_plan({"malformed_records": {"rate": 0.1}}, orders, 1000)
    rows = tagged_rows(after)
    assert len(rows) == len(plan.ledger)
    for row in rows:
        tags = headers_of(after.column("headers")[row].as_py())
        entry = plan.ledger.by_id(int(tags[FAULT_ID_HEADER]))
        assert tags[FAULT_HEADER] == entry.key.encode()
        assert entry.sequence == row


def test_malformed_default_types(orders: Schema) -> None:
    plan, _, _ = run_plan({"malformed_records": {"rate": 1.0}}, orders, 300)
    assert {entry.kind for entry in plan.ledger.entries} == {"missing_field", "wrong_type", "invalid_json"}


def test_malformed_unknown_type(orders: Schema) -> None:
    with pytest.raises(InputError) as info:
        build_fault_plan({"malformed_records": {"types": ["missing_feild"]}}, 0, LOCATION)
    assert "did you mean 'missing_field'" in info.value.message
    for kind in MALFORMED_TYPES:
        assert kind in info.value.message


# --- duplicates ------------------------------------------------------------------------------


def test_duplicates_follow_original(orders: Schema) -> None:
    plan, before, after = run_plan({"duplicates": {"rate": 0.2, "max_duplicates": 3}}, orders, 500)
    assert after.num_rows == 500 + len(plan.ledger)
    values = after.column("value").to_pylist()
    keys = after.column("key").to_pylist()
    stamps = after.column("timestamp").to_pylist()
    for row in tagged_rows(after):
        assert values[row] == values[row - 1]
        assert keys[row] == keys[row - 1]
        assert stamps[row] == stamps[row - 1]


def test_duplicates_keep_original_order(orders: Schema) -> None:
    _, before, after = run_plan({"duplicates": {"rate": 0.2, "max_duplicates": 3}}, orders, 500)
    tagged = set(tagged_rows(after))
    originals = [value for row, value in enumerate(after.column("value").to_pylist()) if row not in tagged]
    assert originals == before.column("value").to_pylist()


def test_duplicates_max_copies(orders: Schema) -> None:
    plan, _, _ = run_plan({"duplicates": {"rate": 0.5, "max_duplicates": 2}}, orders, 1000)
    per_record = Counter(entry.sequence for entry in plan.ledger.entries)
    assert set(per_record.values()) == {1, 2}


def test_duplicates_rate(orders: Schema) -> None:
    plan, _, _ = run_plan({"duplicates": {"rate": 0.03}}, orders, 10_000)
    assert plan.ledger.counts()["duplicates"] == pytest.approx(300, abs=60)


# --- out of order ----------------------------------------------------------------------------


def test_out_of_order_same_records(orders: Schema) -> None:
    _, before, after = run_plan({"out_of_order": {"rate": 0.1}}, orders, 1000)
    ids = sorted(json.loads(value)["order_id"] for value in after.column("value").to_pylist())
    assert ids == sorted(json.loads(value)["order_id"] for value in before.column("value").to_pylist())


def original_rows(before: pa.Table, after: pa.Table) -> list[int]:
    """Return, for each row of `after`, the row its record had in `before`."""
    by_id = {json.loads(value)["order_id"]: row for row, value in enumerate(before.column("value").to_pylist())}
    return [by_id[json.loads(value)["order_id"]] for value in after.column("value").to_pylist()]


def test_out_of_order_timestamp_moved_back(orders: Schema) -> None:
    _, before, after = run_plan({"out_of_order": {"rate": 0.1, "max_delay_ms": 2000}}, orders, 1000)
    origin = original_rows(before, after)
    old_stamps = before.column("timestamp").to_pylist()
    stamps = after.column("timestamp").to_pylist()
    values = after.column("value").to_pylist()
    for row in tagged_rows(after):
        assert 1 <= old_stamps[origin[row]] - stamps[row] <= 2000
        assert epoch_ms(json.loads(values[row])["event_time"]) == stamps[row]


def test_out_of_order_overtaken_records(orders: Schema) -> None:
    plan, before, after = run_plan({"out_of_order": {"rate": 0.1, "window_size": 5}}, orders, 1000)
    origin = original_rows(before, after)
    overtaken_total = 0
    for row in tagged_rows(after):
        overtaken = sum(1 for earlier in range(row) if origin[earlier] > origin[row])
        entry = plan.ledger.by_id(int(headers_of(after.column("headers")[row].as_py())[FAULT_ID_HEADER]))
        assert f"produced after {overtaken} records" in entry.change
        overtaken_total += overtaken
    assert overtaken_total > len(plan.ledger)


def test_out_of_order_rate(orders: Schema) -> None:
    plan, _, _ = run_plan({"out_of_order": {"rate": 0.1}}, orders, 10_000)
    assert plan.ledger.counts()["out_of_order"] == pytest.approx(1000, abs=120)


def test_out_of_order_sequence_numbers(orders: Schema) -> None:
    plan, before, after = run_plan({"out_of_order": {"rate": 0.2}}, orders, 300)
    originals = before.column("value").to_pylist()
    by_id = {json.loads(value)["order_id"]: row for row, value in enumerate(originals)}
    for entry in plan.ledger.entries:
        tagged = [row for row in tagged_rows(after) if headers_of(after.column("headers")[row].as_py())[FAULT_ID_HEADER] == str(entry.id).encode()]
        record = json.loads(after.column("value")[tagged[0]].as_py())
        assert by_id[record["order_id"]] == entry.sequence


# --- field corruption ------------------------------------------------------------------------


def test_field_corruption_keeps_types(orders: Schema) -> None:
    config = {"field_corruption": {"rate": 1.0, "fields": ["quantity", "unit_price", "status"]}}
    plan, before, after = run_plan(config, orders, 500)
    for value in after.column("value").to_pylist():
        record = json.loads(value)
        assert isinstance(record["quantity"], int)
        assert isinstance(record["unit_price"], float)
        assert isinstance(record["status"], str)


def test_field_corruption_only_listed_fields(orders: Schema) -> None:
    plan, before, after = run_plan({"field_corruption": {"rate": 1.0, "target_fields": ["quantity"]}}, orders, 200)
    for old, new in zip(before.column("value").to_pylist(), after.column("value").to_pylist()):
        old_record, new_record = json.loads(old), json.loads(new)
        del old_record["quantity"], new_record["quantity"]
        assert old_record == new_record
    assert plan.ledger.counts() == {"field_corruption.quantity": 200}


def test_field_corruption_boundary_values(orders: Schema) -> None:
    config = {"field_corruption": {"rate": 1.0, "fields": ["quantity"], "corruption_types": ["boundary_value"]}}
    _, _, after = run_plan(config, orders, 200)
    values = {json.loads(value)["quantity"] for value in after.column("value").to_pylist()}
    assert values <= {-(2**63), 2**63 - 1, 0, -1}


def test_field_corruption_decimal_digits(orders: Schema) -> None:
    config = {"field_corruption": {"rate": 1.0, "fields": ["order_total"]}}
    _, _, after = run_plan(config, orders, 100)
    for value in after.column("value").to_pylist():
        text = value.split(b'"order_total":')[1].split(b",")[0]
        assert len(text.split(b".")[1]) == 2


def test_field_corruption_rate(orders: Schema) -> None:
    plan, _, _ = run_plan({"field_corruption": {"rate": 0.02, "fields": ["quantity"]}}, orders, 10_000)
    assert len(plan.ledger) == pytest.approx(200, abs=45)


def test_field_corruption_skips_malformed(orders: Schema) -> None:
    config = {"malformed_records": {"rate": 1.0}, "field_corruption": {"rate": 1.0}}
    plan, _, _ = run_plan(config, orders, 100)
    assert {entry.fault for entry in plan.ledger.entries} == {"malformed_records"}


# --- slow processing -------------------------------------------------------------------------


def test_slow_processing_delays(orders: Schema) -> None:
    plan = build_fault_plan({"slow_processing": {"rate": 0.3, "min_delay_ms": 10, "max_delay_ms": 20}}, 3, LOCATION)
    delays = [plan.slow_processing.next_delay_ms("orders") for _ in range(2000)]
    slow = [delay for delay in delays if delay]
    assert len(slow) / 2000 == pytest.approx(0.3, abs=0.04)
    assert min(slow) >= 10
    assert max(slow) <= 20
    assert plan.ledger.counts() == {"slow_processing": len(slow)}


def test_slow_processing_seeded() -> None:
    config = {"slow_processing": {"rate": 0.5}}
    first = build_fault_plan(config, 3, LOCATION).slow_processing
    second = build_fault_plan(config, 3, LOCATION).slow_processing
    assert [first.next_delay_ms() for _ in range(50)] == [second.next_delay_ms() for _ in range(50)]


def test_slow_processing_absent() -> None:
    assert build_fault_plan({"duplicates": {"rate": 0.1}}, 3, LOCATION).slow_processing is None


# --- determinism -------------------------------------------------------------------------------

ALL_FAULTS = {
    "malformed_records": {"rate": 0.05, "types": list(MALFORMED_TYPES)},
    "duplicates": {"rate": 0.03, "max_duplicates": 2},
    "out_of_order": {"rate": 0.1},
    "field_corruption": {"rate": 0.05},
}


def test_plan_same_seed_identical(orders: Schema) -> None:
    first_plan, _, first = run_plan(ALL_FAULTS, orders, 2000, seed=5)
    second_plan, _, second = run_plan(ALL_FAULTS, orders, 2000, seed=5)
    assert first.equals(second)
    assert first_plan.ledger.entries == second_plan.ledger.entries


def test_plan_other_seed_differs(orders: Schema) -> None:
    _, _, first = run_plan(ALL_FAULTS, orders, 2000, seed=5)
    _, _, second = run_plan(ALL_FAULTS, orders, 2000, seed=6)
    assert not first.equals(second)


def test_plan_sources_independent(orders: Schema) -> None:
    batch = generate_records(orders, 500, 1)
    first = build_fault_plan(ALL_FAULTS, 5, LOCATION)
    a_first = first.apply(batch, orders, "a")
    first.apply(batch, orders, "b")
    second = build_fault_plan(ALL_FAULTS, 5, LOCATION)
    second.apply(batch, orders, "b")
    a_second = second.apply(batch, orders, "a")
    # Entry ids count across sources, so only the records themselves must match.
    assert a_second.column("value").equals(a_first.column("value"))
    assert a_second.column("timestamp").equals(a_first.column("timestamp"))


def test_plan_sequence_across_batches(orders: Schema) -> None:
    plan = build_fault_plan({"malformed_records": {"rate": 1.0}}, 5, LOCATION)
    plan.apply(generate_records(orders, 10, 1), orders, "orders")
    plan.apply(generate_records(orders, 10, 1, start_index=10), orders, "orders")
    assert [entry.sequence for entry in plan.ledger.entries] == list(range(20))


def test_plan_counts_keys(orders: Schema) -> None:
    config = {"malformed_records": {"rate": 0.2, "types": ["missing_field"]}, "duplicates": {"rate": 0.2}}
    plan, _, _ = run_plan(config, orders, 500)
    assert set(plan.ledger.counts()) == {"malformed_records.missing_field", "duplicates"}


def test_plan_empty_config(orders: Schema) -> None:
    plan, before, after = run_plan({}, orders, 20)
    assert after.equals(before)
    assert plan.active is False


def test_plan_disabled_fault(orders: Schema) -> None:
    plan, before, after = run_plan({"duplicates": {"enabled": False, "rate": 1.0}}, orders, 20)
    assert after.equals(before)


# --- validation ------------------------------------------------------------------------------


def test_plan_unknown_fault_type() -> None:
    with pytest.raises(InputError) as info:
        build_fault_plan({"network_partition": {"enabled": True}}, 0, LOCATION)
    assert "unknown fault type" in info.value.message
    for name in ("malformed_records", "duplicates", "out_of_order", "field_corruption", "slow_processing"):
        assert name in info.value.message
    assert info.value.location == LOCATION


def test_plan_misspelt_fault_type() -> None:
    with pytest.raises(InputError) as info:
        build_fault_plan({"duplicate": {"rate": 0.1}}, 0, LOCATION)
    assert "did you mean 'duplicates'" in info.value.message


def test_plan_unknown_key_warns() -> None:
    plan = build_fault_plan({"duplicates": {"rat": 0.1}}, 0, LOCATION)
    assert len(plan.warnings) == 1
    assert "fault_injection.duplicates.rat" in plan.warnings[0]
    assert "did you mean 'rate'" in plan.warnings[0]
    assert "p.test.yaml" in plan.warnings[0]


def test_plan_unknown_top_key_warns() -> None:
    plan = build_fault_plan({"enable_dql": True}, 0, LOCATION)
    assert "did you mean 'enable_dlq'" in plan.warnings[0]


def test_plan_dlq_settings() -> None:
    plan = build_fault_plan({"seed": 3, "enable_dlq": True, "dlq_max_size": 25}, 0, LOCATION)
    assert plan.enable_dlq is True
    assert plan.dlq_max_size == 25
    assert plan.warnings == []


def test_plan_dlq_settings_absent() -> None:
    plan = build_fault_plan(None, 0, LOCATION)
    assert plan.enable_dlq is None
    assert plan.dlq_max_size is None


@pytest.mark.parametrize(
    ("config", "text"),
    [
        ({"duplicates": {"rate": 1.5}}, "at most 1"),
        ({"duplicates": {"rate": "high"}}, "must be a number"),
        ({"duplicates": {"max_duplicates": 0}}, "at least 1"),
        ({"out_of_order": {"max_delay_ms": -1}}, "at least 1"),
        ({"slow_processing": {"min_delay_ms": 50, "max_delay_ms": 10}}, "greater than max_delay_ms"),
        ({"field_corruption": {"fields": ["a"], "target_fields": ["b"]}}, "not both"),
        ({"malformed_records": {"types": []}}, "is empty"),
        ({"dlq_max_size": -3}, "at least 0"),
        ({"seed": "x"}, "whole number"),
        ({"duplicates": 3}, "must be a mapping"),
    ],
)
def test_plan_invalid_settings(config: dict, text: str) -> None:
    with pytest.raises(InputError) as info:
        build_fault_plan(config, 0, LOCATION)
    assert text in info.value.message


def test_seed_from_config() -> None:
    assert seed_from_config({"seed": 12}) == 12
    assert seed_from_config({"seed": 12}, 4) == 4
    assert seed_from_config(None) == 0


# --- plugins -----------------------------------------------------------------------------------

PLUGIN = '''
from velo_tui.engine.faults import FaultInjector


class Reverse(FaultInjector):
    """Reverse the micro-batch and record one entry per batch."""

    name = "reverse"
    config_keys = ("note",)

    def apply(self, batch, context):
        context.ledger.record(self.name, context.source, context.offset, "reversed the batch")
        return batch.take(list(reversed(range(batch.num_rows))))
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "velo_reverse_plugin.py").write_text(PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    from importlib.metadata import EntryPoint

    entry = EntryPoint(name="reverse", value="velo_reverse_plugin:Reverse", group=faults.ENTRY_POINT_GROUP)

    def fake_entry_points(group: str):
        return [entry] if group == faults.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(faults_base, "entry_points", fake_entry_points)


def test_plugin_listed(plugin: None) -> None:
    assert issubclass(available_faults()["reverse"], FaultInjector)


def test_plugin_applied(plugin: None, orders: Schema) -> None:
    plan, before, after = run_plan({"reverse": {"note": "x"}}, orders, 10)
    assert after.column("value").to_pylist() == before.column("value").to_pylist()[::-1]
    assert plan.ledger.counts() == {"reverse": 1}


def test_plugin_broken_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    entry = EntryPoint(name="broken", value="velo_no_such_module:Thing", group=faults.ENTRY_POINT_GROUP)
    monkeypatch.setattr(faults_base, "entry_points", lambda group: [entry])
    assert "broken" not in available_faults()


def test_register_decorator() -> None:
    class Noop(FaultInjector):
        name = "noop_for_test"

    try:
        faults.register(Noop)
        assert available_faults()["noop_for_test"] is Noop
    finally:
        faults_base._REGISTRY.pop("noop_for_test", None)


# --- corpus --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", ["70_dlq_basic", "72_fault_injection", "74_stress_test"])
def test_corpus_fault_blocks_build(stem: str, corpus_dir: Path) -> None:
    path = corpus_dir / "tier8_fault_tolerance" / f"{stem}.test.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))["fault_injection"]
    plan = build_fault_plan(config, seed_from_config(config), SourceLocation(path))
    assert plan.warnings == []
    assert plan.enable_dlq is True
    assert "malformed_records" in plan.fault_names


def test_plan_keeps_partition_null(orders: Schema) -> None:
    _, before, after = run_plan(ALL_FAULTS, orders, 100)
    assert np.all(np.asarray(after.column("partition").is_null()))

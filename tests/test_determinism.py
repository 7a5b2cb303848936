"""Tests that a seed fixes a run: the same seed gives byte-identical topics, DLQ entries and
reports (apart from timings), and another seed gives other data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from velo_tui.engine.report import build_report
from velo_tui.engine.session import Session

#: Report keys that hold wall-clock measurements, which differ from run to run by nature.
TIMING_KEYS = ("duration_s", "failed_at")


def without_timings(value: object) -> object:
    """Return a copy of report data with every timing key removed, at any depth."""
    if isinstance(value, dict):
        return {key: without_timings(item) for key, item in value.items() if key not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


@pytest.fixture
def run_orders(make_session, pipelines_dir: Path):
    """Return a function that runs the orders pipeline (every fault type) with a given seed."""

    def run(seed: int | None = None) -> Session:
        session = make_session(pipelines_dir / "orders.sql", seed=seed)
        session.run_all()
        return session

    return run


def topic(session: Session, name: str) -> pa.Table:
    return session.broker.read_all(name)


def test_same_seed_sink_bytes(run_orders) -> None:
    first, second = run_orders(), run_orders()
    sink_a, sink_b = topic(first, "orders_priced"), topic(second, "orders_priced")
    assert sink_a.num_rows > 0
    assert sink_a.column("key").to_pylist() == sink_b.column("key").to_pylist()
    assert sink_a.column("value").to_pylist() == sink_b.column("value").to_pylist()
    assert sink_a.column("timestamp").to_pylist() == sink_b.column("timestamp").to_pylist()
    assert sink_a.column("headers").to_pylist() == sink_b.column("headers").to_pylist()
    assert sink_a.column("partition").to_pylist() == sink_b.column("partition").to_pylist()


def test_same_seed_source_bytes(run_orders) -> None:
    source_a, source_b = topic(run_orders(), "orders_in"), topic(run_orders(), "orders_in")
    assert source_a.equals(source_b)


def test_same_seed_dlq_entries(run_orders) -> None:
    first, second = run_orders(), run_orders()
    entries_a = [without_timings(entry.to_json()) for entry in first.dlq.snapshot()]
    entries_b = [without_timings(entry.to_json()) for entry in second.dlq.snapshot()]
    assert len(entries_a) > 0
    assert entries_a == entries_b


def test_same_seed_dlq_topic(run_orders) -> None:
    first, second = run_orders(), run_orders()
    dlq_a, dlq_b = topic(first, "orders_demo.dlq"), topic(second, "orders_demo.dlq")
    assert dlq_a.num_rows > 0
    assert dlq_a.column("value").to_pylist() == dlq_b.column("value").to_pylist()
    assert dlq_a.column("headers").to_pylist() == dlq_b.column("headers").to_pylist()


def test_same_seed_report(run_orders) -> None:
    report_a = build_report(run_orders())
    report_b = build_report(run_orders())
    assert report_a["faults"]["injected_total"] > 0
    assert without_timings(report_a) == without_timings(report_b)


def test_same_seed_ledger(run_orders) -> None:
    ledger_a = run_orders().fault_plan.ledger.entries
    ledger_b = run_orders().fault_plan.ledger.entries
    assert ledger_a == ledger_b


def test_other_seed_other_data(run_orders) -> None:
    first, other = run_orders(), run_orders(seed=12)
    values_a = topic(first, "orders_priced").column("value").to_pylist()
    values_b = topic(other, "orders_priced").column("value").to_pylist()
    assert values_a != values_b
    assert topic(first, "orders_in").column("key").to_pylist() != topic(other, "orders_in").column("key").to_pylist()


def test_other_seed_other_faults(run_orders) -> None:
    ledger_a = [(e.key, e.sequence) for e in run_orders().fault_plan.ledger.entries]
    ledger_b = [(e.key, e.sequence) for e in run_orders(seed=12).fault_plan.ledger.entries]
    assert ledger_a != ledger_b


def run_process(sql: Path, hash_seed: str) -> dict:
    environment = dict(os.environ, PYTHONHASHSEED=hash_seed)
    result = subprocess.run(
        [sys.executable, "-m", "velo_tui", str(sql), "--run", "--output", "json"],
        capture_output=True, text=True, env=environment, check=False, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_report_same_across_processes(pipelines_dir: Path) -> None:
    # Different string hash seeds change the iteration order of sets of strings between processes.
    report_a = run_process(pipelines_dir / "orders.sql", "1")
    report_b = run_process(pipelines_dir / "orders.sql", "2")
    assert without_timings(report_a) == without_timings(report_b)

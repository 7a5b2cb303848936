"""Tests that the Velostream example pipelines run unchanged and pass, with every injected
malformed record caught in the DLQ and every statement's records accounted for."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path

import pytest

from velo_tui.cli import EXIT_OK, main

#: 74_stress_test paces its input at 1000 records per second, so the module takes about 10 s.
pytestmark = pytest.mark.slow

EXAMPLES = ["70_dlq_basic", "72_fault_injection", "73_debug_mode", "74_stress_test"]

#: Examples whose specs inject malformed records.
WITH_MALFORMED = ["70_dlq_basic", "72_fault_injection", "74_stress_test"]


def run_example(sql: Path) -> tuple[int, dict]:
    """Run `velo-tui SQL --run --output json` in this process: its exit code and report."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
            code = main([str(sql), "--run", "--output", "json"])
    finally:
        # main points the root logger at the redirected standard error, so restore it.
        root.handlers[:] = handlers
        root.setLevel(level)
    return code, json.loads(stdout.getvalue())


@pytest.fixture(scope="module")
def reports(corpus_dir: Path) -> dict[str, tuple[int, dict]]:
    """Run each example once: its exit code and report by name."""
    folder = corpus_dir / "tier8_fault_tolerance"
    return {stem: run_example(folder / f"{stem}.sql") for stem in EXAMPLES}


def malformed_injected(report: dict) -> int:
    injected = report["faults"]["injected"]
    return sum(count for key, count in injected.items() if key.startswith("malformed_records."))


@pytest.mark.parametrize("stem", EXAMPLES)
def test_example_passes(reports, stem: str) -> None:
    code, report = reports[stem]
    assert code == EXIT_OK
    assert report["passed"] is True
    assert all(query["passed"] for query in report["queries"])


@pytest.mark.parametrize("stem", EXAMPLES)
def test_example_accounting(reports, stem: str) -> None:
    _, report = reports[stem]
    for statement in report["statements"]:
        balance = statement["records_out"] + statement["filtered"] + statement["dlq"] + statement["dlq_dropped"]
        assert statement["records_in"] == balance, statement["name"]
        assert statement["accounting_ok"], statement["name"]
    assert report["accounting"]["holds"]


@pytest.mark.parametrize("stem", WITH_MALFORMED)
def test_example_dlq_catches_malformed(reports, stem: str) -> None:
    _, report = reports[stem]
    dlq = report["dlq"]
    assert dlq["count"] > 0
    assert dlq["dropped"] == 0
    assert dlq["count"] == malformed_injected(report)
    assert report["faults"]["caught_in_dlq"] == dlq["count"]


@pytest.mark.parametrize("stem", WITH_MALFORMED)
def test_example_dlq_entries_tagged(reports, stem: str) -> None:
    _, report = reports[stem]
    entries = report["dlq"]["entries"]
    assert len(entries) == min(report["dlq"]["count"], 100)
    assert all(entry["fault"].startswith("malformed_records.") for entry in entries)
    for entry in entries:
        tags = [header["value"] for header in entry["headers"] if header["key"] == "velo.fault"]
        assert tags[0] == entry["fault"], entry["offset"]


def test_example_fault_injection_seed(reports) -> None:
    _, report = reports["72_fault_injection"]
    assert report["seed"] == 12345
    assert report["faults"]["injected"]["duplicates"] > 0
    assert report["faults"]["injected"]["out_of_order"] > 0


def test_example_debug_mode_no_dlq(reports) -> None:
    _, report = reports["73_debug_mode"]
    assert report["dlq"]["count"] == 0
    assert [s["records_out"] for s in report["statements"]] == [10, 10, 10]

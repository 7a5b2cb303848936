"""Tests for stress mode: the figures it reports, how it decides the load, --no-faults,
--duration and the report on standard output. Speed itself is measured by benchmarks/run.py."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from velo_tui.cli import EXIT_INPUT, EXIT_OK, EXIT_TIMEOUT
from velo_tui.engine.stress import RssSampler, latency_summary
from velo_tui.stress import DEFAULT_STRESS_RECORDS, stress_settings

#: Keys of the run report that a stress report keeps.
RUN_REPORT_KEYS = {"application", "sql_file", "seed", "passed", "duration_s", "statements", "queries",
                   "dlq", "faults", "accounting"}


def stress_sql(corpus_dir: Path) -> Path:
    return corpus_dir / "tier8_fault_tolerance" / "74_stress_test.sql"


def debug_sql(corpus_dir: Path) -> Path:
    return corpus_dir / "tier8_fault_tolerance" / "73_debug_mode.sql"


@pytest.fixture(scope="module")
def stress_run(corpus_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run stress mode on the stress example with 2,000 records in a child process, JSON output."""
    return subprocess.run(
        [sys.executable, "-m", "velo_tui", "stress", str(stress_sql(corpus_dir)),
         "--records", "2000", "--output", "json"],
        capture_output=True, text=True, check=False, timeout=300,
    )


@pytest.fixture(scope="module")
def stress_report(stress_run: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(stress_run.stdout)


# --- the report of a stress run -------------------------------------------------------------------


def test_stress_exit_code(stress_run: subprocess.CompletedProcess[str]) -> None:
    assert stress_run.returncode == EXIT_OK


def test_stress_stdout_pure_json(stress_run: subprocess.CompletedProcess[str]) -> None:
    report = json.loads(stress_run.stdout)
    assert isinstance(report, dict)
    assert "seed 54321" in stress_run.stderr
    assert "stress load" in stress_run.stderr


def test_stress_keeps_run_report_keys(stress_report: dict) -> None:
    assert RUN_REPORT_KEYS <= set(stress_report)
    assert "stress" in stress_report


def test_stress_accounting_per_statement(stress_report: dict) -> None:
    stress = stress_report["stress"]
    assert stress["accounting_ok"] is True
    for statement in stress["statements"]:
        balance = (statement["records_out"] + statement["filtered"] + statement["dlq"]
                   + statement["dlq_dropped"])
        assert statement["records_in"] == balance, statement["name"]
        assert statement["accounting_ok"] is True, statement["name"]


def test_stress_input_and_output_counts(stress_report: dict) -> None:
    stress = stress_report["stress"]
    statement = stress_report["statements"][0]
    injected = stress["faults"]["injected"]
    assert stress["settings"]["records"] == 2000
    assert stress["settings"]["records_from"] == "--records"
    # The duplicates fault adds copies, so the topic holds the records plus the copies.
    assert stress["input_records"] == 2000 + injected.get("duplicates", 0)
    assert stress["input_records"] == statement["records_in"]
    assert stress["output_records"] == statement["records_out"]


def test_stress_percentiles_ordered(stress_report: dict) -> None:
    stress = stress_report["stress"]
    for latency in [stress["latency"], *(s["latency"] for s in stress["statements"])]:
        assert latency["batches"] > 0
        assert latency["p50_ms"] <= latency["p95_ms"]
        assert latency["p95_ms"] <= latency["p99_ms"]
        assert latency["p99_ms"] <= latency["max_ms"]


def test_stress_batch_count_matches(stress_report: dict) -> None:
    stress = stress_report["stress"]
    assert stress["latency"]["batches"] == sum(s["batches"] for s in stress_report["statements"])


def test_stress_throughput_consistent(stress_report: dict) -> None:
    stress = stress_report["stress"]
    throughput = stress["throughput"]
    total = stress["total_s"]
    assert stress["input_production_s"] + stress["processing_s"] == pytest.approx(total, abs=1e-5)
    assert throughput["end_to_end_including_input_production"] == pytest.approx(
        stress["input_records"] / total, rel=1e-3)
    assert throughput["end_to_end_excluding_input_production"] == pytest.approx(
        stress["input_records"] / stress["processing_s"], rel=1e-3)
    for statement in stress["statements"]:
        assert statement["records_per_second"] == pytest.approx(
            statement["records_in"] / statement["duration_s"], rel=1e-3)


def test_stress_cpu_time(stress_report: dict) -> None:
    assert stress_report["stress"]["cpu_s"] > 0


def test_stress_dlq_and_faults(stress_report: dict) -> None:
    stress = stress_report["stress"]
    malformed = sum(count for key, count in stress["faults"]["injected"].items()
                    if key.startswith("malformed_records"))
    assert malformed > 0
    assert stress["dlq"]["count"] == stress_report["dlq"]["count"]
    assert stress["dlq"]["count"] + stress["dlq"]["dropped"] >= malformed
    assert stress["faults"]["caught_in_dlq"] == stress_report["faults"]["caught_in_dlq"]


def test_stress_peak_rss(stress_report: dict) -> None:
    memory = stress_report["stress"]["memory"]
    assert memory["samples"] >= 2
    assert memory["peak_rss_mb"] >= memory["rss_at_start_mb"]
    assert memory["rss_at_start_mb"] > 0
    assert 0 < memory["topic_storage_mb"] < memory["peak_rss_mb"]


def test_stress_skips_assertions(stress_report: dict) -> None:
    assert stress_report["queries"][0]["assertions"] == []


# --- options ------------------------------------------------------------------------------------


def test_stress_no_faults(cli, corpus_dir: Path) -> None:
    code, out, _ = cli(stress_sql(corpus_dir), "--stress", "--records", "1500", "--no-faults",
                       "--output", "json")
    stress = json.loads(out)["stress"]
    assert code == EXIT_OK
    assert stress["dlq"]["count"] == 0
    assert stress["dlq"]["dropped"] == 0
    assert stress["faults"]["injected"] == {}
    assert stress["input_records"] == 1500
    assert stress["settings"]["faults"] is False


def test_stress_duration_stops_input(cli, corpus_dir: Path) -> None:
    # Paced at 2,000 records/s, 100,000 records would take 50 s; the duration ends input at once.
    code, out, _ = cli(stress_sql(corpus_dir), "--stress", "--records", "100000", "--rate", "2000",
                       "--duration", "0.2", "--no-faults", "--output", "json")
    stress = json.loads(out)["stress"]
    assert code == EXIT_OK
    assert stress["input_production_stopped"] is True
    assert 0 < stress["input_records"] < 100000
    assert stress["accounting_ok"] is True
    assert stress["settings"]["duration_from"] == "--duration"


def test_stress_pipeline_counts(cli, corpus_dir: Path) -> None:
    code, out, _ = cli(debug_sql(corpus_dir), "--stress", "--records", "1200", "--batch-size", "500",
                       "--output", "json")
    report = json.loads(out)
    stress = report["stress"]
    first, *_, last = report["statements"]
    assert code == EXIT_OK
    assert len(stress["statements"]) == 3
    assert stress["input_records"] == first["records_in"]
    assert stress["output_records"] == last["records_out"]
    assert stress["settings"]["batch_size"] == 500
    assert first["batches"] == 3


def test_stress_text_report(cli, corpus_dir: Path) -> None:
    code, out, _ = cli(stress_sql(corpus_dir), "--stress", "--records", "1000")
    assert code == EXIT_OK
    assert "input production included" in out
    assert "input production excluded" in out
    assert "peak RSS" in out
    assert "p99" in out
    assert out.rstrip().endswith("PASSED")


def test_stress_report_file(cli, corpus_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "stress.json"
    code, out, _ = cli(stress_sql(corpus_dir), "--stress", "--records", "1000", "--report", target)
    saved = json.loads(target.read_text(encoding="utf-8"))
    assert code == EXIT_OK
    assert saved["stress"]["settings"]["records"] == 1000
    assert "PASSED" in out


def test_stress_timeout(cli, corpus_dir: Path) -> None:
    # Paced at 1,000 records/s, 100,000 records would take 100 s; the timeout stops the run.
    code, out, err = cli(stress_sql(corpus_dir), "--stress", "--records", "100000", "--rate", "1000",
                         "--timeout", "0.3", "--output", "json")
    report = json.loads(out)
    assert code == EXIT_TIMEOUT
    assert report["complete"] is False
    assert report["passed"] is False
    assert "timed out" in err


@pytest.mark.parametrize("option, value", [("--rate", "0"), ("--duration", "-1")])
def test_stress_invalid_option(cli, corpus_dir: Path, option: str, value: str) -> None:
    code, _, err = cli(stress_sql(corpus_dir), "--stress", option, value)
    assert code == EXIT_INPUT
    assert option in err


# --- how the load is decided ----------------------------------------------------------------------


def stress_args(**values: object) -> argparse.Namespace:
    defaults = {"records": None, "rate": None, "duration": None, "no_faults": False, "batch_size": None}
    defaults.update(values)
    return argparse.Namespace(**defaults)


def test_settings_spec_block(make_session, corpus_dir: Path) -> None:
    settings = stress_settings(stress_args(), make_session(stress_sql(corpus_dir)))
    assert settings.records == 10000
    assert settings.records_from == "stress_test.records"
    assert settings.rate_per_second == 1000
    assert settings.duration_s == 30


def test_settings_records_unpaced(make_session, corpus_dir: Path) -> None:
    settings = stress_settings(stress_args(records=5000), make_session(stress_sql(corpus_dir)))
    assert settings.records == 5000
    assert settings.rate_per_second is None
    assert settings.rate_from == "unpaced"
    assert settings.duration_s is None


def test_settings_rate_option(make_session, corpus_dir: Path) -> None:
    settings = stress_settings(stress_args(rate=250.0), make_session(stress_sql(corpus_dir)))
    assert settings.records == 10000
    assert settings.rate_per_second == 250.0
    assert settings.rate_from == "--rate"
    assert settings.duration_s is None


def test_settings_duration_option(make_session, corpus_dir: Path) -> None:
    settings = stress_settings(stress_args(records=10, duration=5.0), make_session(stress_sql(corpus_dir)))
    assert settings.duration_s == 5.0
    assert settings.duration_from == "--duration"


def test_settings_default_records(make_session, corpus_dir: Path) -> None:
    settings = stress_settings(stress_args(), make_session(debug_sql(corpus_dir)))
    assert settings.records == DEFAULT_STRESS_RECORDS
    assert settings.records_from == "default"
    assert settings.rate_per_second is None


# --- figures --------------------------------------------------------------------------------------


def test_latency_summary_empty() -> None:
    summary = latency_summary([])
    assert summary["batches"] == 0
    assert summary["p99_ms"] is None


def test_latency_summary_values() -> None:
    summary = latency_summary([0.001 * value for value in range(1, 101)])
    assert summary["batches"] == 100
    assert summary["p50_ms"] == pytest.approx(50.5)
    assert summary["p99_ms"] == pytest.approx(99.01)
    assert summary["max_ms"] == pytest.approx(100.0)


def test_rss_sampler_peak() -> None:
    with RssSampler(interval_s=0.001) as sampler:
        block = bytearray(64 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])
        sampler.sample()
    assert sampler.peak_bytes >= sampler.start_bytes + 32 * 1024 * 1024
    assert sampler.samples >= 2

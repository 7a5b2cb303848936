"""Tests of `velo-tui FILE.sql --run` against Kafka, run as a subprocess.

They cover broker selection by option and environment, the records a run leaves in the sink topics,
an unreachable broker, and a broker that stops while a run is producing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from velo_tui.engine.broker.embedded import EmbeddedBroker
from velo_tui.engine.session import Session, SessionOptions

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "kafka"
KAFKA_SCRIPT = REPO / "scripts" / "kafka"

#: Variables that select a Kafka cluster. Every run here sets them explicitly or not at all.
BROKER_VARIABLES = ("VELO_KAFKA_BROKERS", "VELOSTREAM_KAFKA_BROKERS")

# Nothing listens on port 1, so a connection is refused at once.
UNREACHABLE = "127.0.0.1:1"


def cli_env(**extra: str) -> dict[str, str]:
    """Return the environment for a velo-tui subprocess: this one without broker variables."""
    env = {key: value for key, value in os.environ.items() if key not in BROKER_VARIABLES}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "velo_tui", *args],
        cwd=REPO,
        env=env if env is not None else cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """Return a JSON report without its timings, broker description and file paths."""
    report = json.loads(json.dumps(report))
    for key in ("duration_s", "broker", "sql_file", "spec_file"):
        report.pop(key, None)
    for statement in report["statements"]:
        del statement["duration_s"]
    for entry in report["dlq"]["entries"]:
        del entry["failed_at"]
    return report


def sink_high_watermarks(address: str, topics: list[str]) -> dict[str, dict[int, int]]:
    from velo_tui.engine.broker.kafka import KafkaBroker

    broker = KafkaBroker(address)
    try:
        return {topic: {m.partition: m.high for m in broker.watermarks(topic)} for topic in topics}
    finally:
        broker.close()


def read_values(address: str, topic: str, start_offsets: dict[int, int]) -> list[bytes]:
    from velo_tui.engine.broker.kafka import KafkaBroker

    broker = KafkaBroker(address)
    try:
        table = broker.read_all(topic, start_offsets)
    finally:
        broker.close()
    rows = sorted(table.to_pylist(), key=lambda row: (row["partition"], row["offset"]))
    return [row["value"] for row in rows]


def embedded_sink_values(sql_path: Path) -> dict[str, list[bytes]]:
    """Run `sql_path` in-process on the embedded broker; return each sink topic's values."""
    broker = EmbeddedBroker()
    session = Session(sql_path, SessionOptions(broker=broker))
    session.run_all()
    values = {
        state.statement.sink.topic: broker.read_all(state.statement.sink.topic).column("value").to_pylist()
        for state in session.states
    }
    session.close()
    return values


# -- runs that pass --------------------------------------------------------------------------------


@pytest.mark.kafka
def test_run_fills_kafka_sinks(kafka_address, corpus_dir):
    sql_path = corpus_dir / "tier8_fault_tolerance" / "73_debug_mode.sql"
    expected = embedded_sink_values(sql_path)
    starts = sink_high_watermarks(kafka_address, list(expected))

    result = run_cli(str(sql_path), "--run", "--bootstrap-servers", kafka_address, "--output", "json")
    report = json.loads(result.stdout)

    assert result.returncode == 0, result.stderr
    assert report["passed"]
    assert report["broker"] == f"Kafka at {kafka_address}"
    for statement in report["statements"]:
        topic = statement["sink_topic"]
        values = read_values(kafka_address, topic, starts[topic])
        assert statement["records_out"] > 0, topic
        assert len(values) == statement["records_out"], topic
        assert values == expected[topic], topic


@pytest.mark.kafka
def test_run_reports_match(kafka_address, corpus_dir):
    sql_path = str(corpus_dir / "tier8_fault_tolerance" / "73_debug_mode.sql")

    embedded = run_cli(sql_path, "--run", "--output", "json")
    kafka = run_cli(sql_path, "--run", "--bootstrap-servers", kafka_address, "--output", "json")

    assert embedded.returncode == 0, embedded.stderr
    assert kafka.returncode == 0, kafka.stderr
    assert json.loads(embedded.stdout)["broker"] == "embedded broker"
    assert comparable(json.loads(kafka.stdout)) == comparable(json.loads(embedded.stdout))


def test_run_relative_data_file(broker_args):
    # A relative SQL path whose spec reads a data file beside it, on a source of three partitions.
    result = run_cli("tests/data/kafka/partitioned.sql", "--run", "--output", "json", *broker_args)
    report = json.loads(result.stdout)

    assert result.returncode == 0, result.stderr
    assert report["statements"][0]["records_in"] == 240
    assert report["statements"][0]["records_out"] == 240


# -- choosing the broker ---------------------------------------------------------------------------


@pytest.mark.kafka
@pytest.mark.parametrize("variable", BROKER_VARIABLES)
def test_env_selects_kafka(kafka_address, variable):
    env = cli_env(**{variable: kafka_address})

    result = run_cli(str(DATA / "malformed.sql"), "--run", "--output", "json", env=env)
    report = json.loads(result.stdout)

    assert result.returncode == 0, result.stderr
    assert report["broker"] == f"Kafka at {kafka_address}"
    assert report["dlq"]["count"] > 0


def test_no_address_uses_embedded():
    result = run_cli(str(DATA / "malformed.sql"), "--run", "--output", "json")
    report = json.loads(result.stdout)

    assert result.returncode == 0, result.stderr
    assert report["broker"] == "embedded broker"


def test_unreachable_broker_exits_2():
    # The limit is 10 s; the subprocess bound only keeps a hang from blocking the suite.
    result = run_cli(
        str(DATA / "malformed.sql"), "--run", "--bootstrap-servers", UNREACHABLE, "--output", "json",
        timeout=20,
    )

    assert result.returncode == 2
    assert UNREACHABLE in result.stderr
    assert "--bootstrap-servers" in result.stderr
    assert result.stdout == ""


def test_unreachable_env_broker_exits_2():
    env = cli_env(VELO_KAFKA_BROKERS=UNREACHABLE)

    result = run_cli(str(DATA / "malformed.sql"), "--run", env=env, timeout=20)

    assert result.returncode == 2
    assert UNREACHABLE in result.stderr


# -- a broker lost during a run --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_broker(kafka_address, tmp_path) -> Iterator[tuple[str, dict[str, str]]]:
    """Start a Kafka broker of this test's own with scripts/kafka, reusing the installed jars.

    Yields its address and the environment that `scripts/kafka stop` needs; stops it afterwards
    if the test has not.
    """
    installed = Path(os.environ.get("VELO_KAFKA_HOME", REPO / ".kafka")) / "libs"
    if not installed.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"no Kafka jars in {installed}: run scripts/kafka install")
        pytest.skip(f"no Kafka jars in {installed}: run scripts/kafka install")
    home = tmp_path / "kafka"
    home.mkdir()
    (home / "libs").symlink_to(installed)
    env = {
        **os.environ,
        "VELO_KAFKA_HOME": str(home),
        "VELO_KAFKA_PORT": str(_free_port()),
        "VELO_KAFKA_PYTHON": sys.executable,
    }
    started = subprocess.run(
        [str(KAFKA_SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=150
    )
    try:
        assert started.returncode == 0, started.stderr
        yield started.stdout.strip(), env
    finally:
        subprocess.run([str(KAFKA_SCRIPT), "stop"], env=env, capture_output=True, timeout=90)


def wait_for_messages(address: str, topic: str, run: subprocess.Popen, limit_s: float = 60) -> int:
    """Poll the high watermarks of `topic` until it contains a message, and return the count.

    Fails when the run exits first or nothing arrives within `limit_s` seconds.
    """
    from velo_tui.engine.broker.kafka import KafkaBroker

    broker = KafkaBroker(address)
    deadline = time.monotonic() + limit_s
    try:
        while time.monotonic() < deadline:
            count = sum(mark.count for mark in broker.watermarks(topic))
            if count > 0:
                return count
            try:
                code = run.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"the run exited with {code} before producing to {topic}")
        pytest.fail(f"no message reached {topic} within {limit_s} s")
    finally:
        broker.close()


@pytest.mark.kafka
@pytest.mark.slow
def test_lost_broker_ends_run(private_broker, tmp_path):
    address, env = private_broker
    stdout_path = tmp_path / "report.json"
    stderr_path = tmp_path / "stderr.log"
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        run = subprocess.Popen(
            [sys.executable, "-m", "velo_tui", str(DATA / "paced.sql"), "--run",
             "--bootstrap-servers", address, "--output", "json"],
            cwd=REPO, env=cli_env(), stdout=stdout, stderr=stderr,
        )
    try:
        produced = wait_for_messages(address, "kafka_e2e_paced_readings", run)
        stopped = subprocess.run(
            [str(KAFKA_SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=90
        )
        code = run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    errors = stderr_path.read_text()
    report = json.loads(stdout_path.read_text())

    assert produced > 0
    assert "stopped" in stopped.stderr
    assert code == 1, errors
    assert address in errors
    assert "kafka_e2e_paced_readings" in errors
    assert "Traceback" not in errors
    assert report["complete"] is False
    assert report["passed"] is False
    assert report["statements"][0]["status"] == "failed"
    assert address in report["note"]

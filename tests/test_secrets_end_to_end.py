"""Tests that secrets from client config files (`sasl.password`, `ssl.key.password`) reach no report,
log line, REPL output or debugger screen, on the embedded broker and on Kafka.

The pipeline in tests/data/kafka/secret.sql reads and writes through config files that hold the
passwords. They keep `security.protocol: PLAINTEXT`, so the run works against the plaintext test
broker while the SASL and SSL settings still reach the Kafka clients. The source config also turns
on librdkafka's configuration dump (`debug: conf`), so a verbose log contains every client
property by name.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from velo_tui.engine.session import SessionOptions

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "kafka"
SECRET_SQL = DATA / "secret.sql"

#: The secret values in secret_source.yaml and secret_sink.yaml, and a fragment both contain.
SECRETS = ("s3cr3t-value", "k3y-s3cr3t-value", "s3cr3t")

#: Debug commands whose output shows the statement, its records, topics and schema.
REPL_COMMANDS = "r\ni 1\ntopics\nschema 1\nhead 1 -n 3\nhead secret_readings -n 3\ndlq\nst\nq\n"


def cli_env() -> dict[str, str]:
    """Return this environment without the variables that select a Kafka cluster."""
    hidden = ("VELO_KAFKA_BROKERS", "VELOSTREAM_KAFKA_BROKERS")
    return {key: value for key, value in os.environ.items() if key not in hidden}


def run_cli(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "velo_tui", *args],
        cwd=REPO,
        env=cli_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} in {where}"


# -- headless run, validation and the REPL -------------------------------------------------------


@pytest.mark.parametrize("output", ["json", "text", "junit"])
def test_run_hides_secrets(broker_args, output, tmp_path):
    report_path = tmp_path / f"report.{'xml' if output == 'junit' else output}"

    result = run_cli(
        str(SECRET_SQL), "--run", "--output", output, "--report", str(report_path), "-vv", *broker_args
    )

    assert result.returncode == 0, result.stderr
    assert "DEBUG" in result.stderr
    assert "metered_readings" in result.stdout
    assert_no_secret(result.stdout, "the report on standard output")
    assert_no_secret(result.stderr, "the log on standard error")
    assert_no_secret(report_path.read_text(), "the report file")


@pytest.mark.kafka
def test_run_log_names_secret_keys(kafka_address):
    # librdkafka's configuration dump lists sasl.password by name; its value must be masked.
    result = run_cli(str(SECRET_SQL), "--run", "--output", "json", "-vv",
                     "--bootstrap-servers", kafka_address)

    assert result.returncode == 0, result.stderr
    assert "sasl.password" in result.stderr
    assert "ssl.key.password" in result.stderr
    assert_no_secret(result.stderr, "the log on standard error")


def test_validate_hides_secrets():
    result = run_cli("validate", str(SECRET_SQL), "-vv")

    assert result.returncode == 0, result.stderr
    assert_no_secret(result.stdout, "standard output")
    assert_no_secret(result.stderr, "standard error")


def test_repl_hides_secrets(broker_args):
    result = run_cli(str(SECRET_SQL), "--repl", "-vv", *broker_args, stdin=REPL_COMMANDS)

    assert result.returncode == 0, result.stderr
    assert "kafka_e2e_metered_readings" in result.stdout
    assert_no_secret(result.stdout, "REPL output")
    assert_no_secret(result.stderr, "standard error")


# -- failed connections ----------------------------------------------------------------------------


def test_unreachable_hides_secrets():
    result = run_cli(str(SECRET_SQL), "--run", "-vv", "--bootstrap-servers", "127.0.0.1:1", timeout=30)

    assert result.returncode == 2
    assert "127.0.0.1:1" in result.stderr
    assert_no_secret(result.stdout, "standard output")
    assert_no_secret(result.stderr, "standard error")


@pytest.mark.kafka
def test_failed_login_hides_secrets(kafka_address, tmp_path):
    # The same pipeline with SASL switched on: the plaintext test broker rejects the handshake.
    for name in ("secret.sql", "secret.test.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    (tmp_path / "schemas").symlink_to(DATA / "schemas")
    for name in ("secret_source.yaml", "secret_sink.yaml"):
        text = (DATA / name).read_text()
        (tmp_path / name).write_text(text.replace("security.protocol: PLAINTEXT",
                                                  "security.protocol: SASL_PLAINTEXT"))

    result = run_cli(str(tmp_path / "secret.sql"), "--run", "-vv", "--bootstrap-servers", kafka_address,
                     timeout=60)

    assert result.returncode == 2
    assert kafka_address in result.stderr
    assert_no_secret(result.stdout, "standard output")
    assert_no_secret(result.stderr, "standard error")


# -- the full-screen debugger ----------------------------------------------------------------------

SIZE = (120, 36)

#: Command-bar lines, each with a text its result screen must show, so a screenshot is known to
#: contain that result before it is searched for secrets.
SCREEN_COMMANDS = (
    ("i 1", "Records: 50 in"),
    ("topics", "partition"),
    ("schema 1", "VARCHAR"),
    ("head secret_readings -n 3", "reading_id"),
    ("st", "metered_readings"),
)


def screen_text(svg: str) -> str:
    """Return the text of an SVG screenshot: its text elements joined, entities decoded."""
    text = " ".join(re.findall(r">([^<]*)</text>", svg))
    return html.unescape(text).replace("\xa0", " ")


async def enter_command(pilot, settle, line: str) -> None:
    await pilot.press("colon")
    pilot.app.focused.value = line
    await pilot.press("enter")
    await settle(pilot)


async def test_screens_hide_secrets(app_factory, settle, broker, caplog):
    from velo_tui.screens.record_detail import RecordDetailScreen

    caplog.set_level("DEBUG")
    app = app_factory(SECRET_SQL, SessionOptions(broker=broker))
    screens: dict[str, str] = {}
    expected: dict[str, str] = {"main": "metered_readings"}

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        screens["main"] = app.export_screenshot()
        for line, shown in SCREEN_COMMANDS:
            await enter_command(pilot, settle, line)
            screens[line] = app.export_screenshot()
            expected[line] = shown
            await pilot.press("escape")
            await settle(pilot)
        # The head command above filled the records panel, the third panel in focus order.
        await pilot.press("tab", "tab", "enter")
        await settle(pilot)
        detail_open = isinstance(app.screen, RecordDetailScreen)
        screens["record detail"] = app.export_screenshot()
        expected["record detail"] = "meter_id"

    assert app.session.finished
    assert detail_open
    for name, screen in screens.items():
        text = screen_text(screen)
        assert expected[name] in text, f"the {name} screen"
        assert_no_secret(screen, f"the {name} screenshot")
        assert_no_secret(text, f"the text of the {name} screen")
    assert_no_secret(caplog.text, "the log")

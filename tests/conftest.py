"""Shared test fixtures: the broker under test (embedded, or real Kafka from VELO_TEST_KAFKA), the
example pipelines folder, the test pipelines and debug sessions over them."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from velo_tui.cli import main
from velo_tui.engine.broker.base import Broker
from velo_tui.engine.broker.embedded import EmbeddedBroker
from velo_tui.engine.session import Session, SessionOptions


@pytest.fixture(scope="session")
def kafka_address() -> str:
    """Return the address of the test Kafka broker from VELO_TEST_KAFKA.

    Skips the test when the variable is unset, except in CI (CI=true), where a missing broker
    is a failure: CI starts one with scripts/kafka, so kafka tests must run there.
    """
    address = os.environ.get("VELO_TEST_KAFKA", "").strip()
    if address:
        return address
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but VELO_TEST_KAFKA is unset: start Kafka with scripts/kafka start")
    pytest.skip("VELO_TEST_KAFKA is unset; run scripts/kafka start and export its address")


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """Yield each broker implementation in turn; topics made with `new_topic` are removed after."""
    if request.param == "embedded":
        instance: Broker = EmbeddedBroker()
    else:
        from velo_tui.engine.broker.kafka import KafkaBroker

        instance = KafkaBroker(request.getfixturevalue("kafka_address"))
    yield instance
    instance.close()


@pytest.fixture
def new_topic(broker: Broker) -> Iterator[Callable[[], str]]:
    """Return a factory of unique topic names; every name it gave is deleted after the test."""
    names: list[str] = []

    def make() -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        names.append(name)
        return name

    yield make
    for name in names:
        broker.delete_topic(name)


#: Default folder of the Velostream example pipelines, in a folder beside the repository root.
DEFAULT_CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "velostream"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """Return the folder of the Velostream example pipelines (VELO_TUI_CORPUS, else the default).

    Skips the test when the folder is absent, except in CI (CI=true), where it is a failure,
    because the example pipelines must be tested there.
    """
    configured = os.environ.get("VELO_TUI_CORPUS", "").strip()
    folder = Path(configured) if configured else DEFAULT_CORPUS_DIR
    if folder.is_dir():
        return folder
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the example pipelines folder {folder} is missing; set VELO_TUI_CORPUS")
    pytest.skip(f"example pipelines folder {folder} is missing; set VELO_TUI_CORPUS to run these tests")


#: Small pipelines, test specs and schemas written for these tests.
DATA_DIR = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def pipelines_dir() -> Path:
    """Return the folder of the test pipelines; their schemas are in the `schemas` folder beside it."""
    return DATA_DIR / "pipelines"


@pytest.fixture
def make_session() -> Iterator[Callable[..., Session]]:
    """Return a factory that opens a Session on a new embedded broker, with SessionOptions given
    as keywords. Every session it opened is closed after the test."""
    sessions: list[Session] = []

    def make(sql_path: Path, **options: object) -> Session:
        options.setdefault("broker", EmbeddedBroker())
        session = Session(Path(sql_path), SessionOptions(**options))
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def session_factory(broker: Broker) -> Iterator[Callable[..., Session]]:
    """Return a factory that opens a Session on the broker under test (embedded, then Kafka), with
    SessionOptions given as keywords.

    Every session of one test shares that broker, so a later session finds the topics of an
    earlier one, as two runs against one Kafka cluster do. The sessions are closed after the test.
    """
    sessions: list[Session] = []

    def make(sql_path: Path, **options: object) -> Session:
        session = Session(Path(sql_path), SessionOptions(broker=broker, **options))
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


# -- the full-screen debugger ----------------------------------------------------------------

#: Records of the pipeline that `tricky_sql` writes: markup-like text, emoji, CJK, Hebrew,
#: control characters and a value far wider than a table cell.
TRICKY_RECORDS = [
    {"id": 1, "tag": "[red]k1", "note": "[bold]x", "amount": 1.5},
    {"id": 2, "tag": "k2", "note": "[/", "amount": 2},
    {"id": 3, "tag": "k3", "note": "rocket 🚀 party 🎉", "amount": 3},
    {"id": 4, "tag": "k4", "note": "漢字テキスト中文", "amount": 4},
    {"id": 5, "tag": "k5", "note": "שלום עולם", "amount": 5},
    {"id": 6, "tag": "k6", "note": "bell\x07 esc\x1b[31m tab\t nl\n end", "amount": 6},
    {"id": 7, "tag": "k7", "note": "x" * 300, "amount": 7},
]

TRICKY_SQL = """\
-- @app: tricky_text
CREATE STREAM echoed AS
SELECT id, tag, note, amount
FROM raw_notes
EMIT CHANGES
WITH (
    'raw_notes.type' = 'kafka_source',
    'raw_notes.topic.name' = 'notes_in',
    'echoed.type' = 'kafka_sink',
    'echoed.topic.name' = 'notes_out'
);
"""

TRICKY_SPEC = """\
application: tricky_text
queries:
  - name: echoed
    inputs:
      - source: raw_notes
        data_file: notes.jsonl
        key_field: tag
"""


@pytest.fixture
def tricky_sql(tmp_path: Path) -> Path:
    """Write a one-statement pipeline whose input is TRICKY_RECORDS; return its SQL file."""
    import json

    folder = tmp_path / "tricky"
    folder.mkdir()
    lines = [json.dumps(record, ensure_ascii=False) for record in TRICKY_RECORDS]
    (folder / "notes.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "tricky.test.yaml").write_text(TRICKY_SPEC, encoding="utf-8")
    sql_path = folder / "tricky.sql"
    sql_path.write_text(TRICKY_SQL, encoding="utf-8")
    return sql_path


@pytest.fixture
def debug_sql(corpus_dir: Path) -> Path:
    """Return the three-statement debug pipeline of the examples, read in place."""
    return corpus_dir / "tier8_fault_tolerance" / "73_debug_mode.sql"


@pytest.fixture
def dlq_sql(corpus_dir: Path) -> Path:
    """Return the example pipeline whose injected faults land in the DLQ, read in place."""
    return corpus_dir / "tier8_fault_tolerance" / "70_dlq_basic.sql"


@pytest.fixture
def app_factory() -> Iterator[Callable[..., object]]:
    """Return a factory of debugger apps with a frozen clock and no cursor blink.

    Every app, in Pilot and snapshot tests alike, comes from `velo_tui.app.create_app` through
    here, so screens depend only on the SQL file, the options and the session's seed. After the
    test, a statement still running is cancelled and every session is closed.
    """
    from velo_tui.app import VeloApp, create_app

    apps: list[VeloApp] = []

    def make(sql_path: Path, options: SessionOptions | None = None, breakpoints: tuple[str, ...] = ()) -> VeloApp:
        app = create_app(sql_path, options, breakpoints, frozen_clock=True, cursor_blink=False)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.session.cancel()
        app.engine_idle.wait(timeout=120)
        app.session.close()


@pytest.fixture
def settle() -> Callable[[object], Awaitable[None]]:
    """Return a coroutine function that waits until a Pilot's app has no worker left to run.

    Finishing one worker can start others (a step refreshes topics, DLQ and records), so it
    waits and processes messages until none is pending or running.
    """
    from textual.worker import WorkerState

    async def wait(pilot) -> None:
        app = pilot.app
        while True:
            await app.workers.wait_for_complete()
            await pilot.pause()
            if not any(worker.state in (WorkerState.PENDING, WorkerState.RUNNING) for worker in app.workers):
                return

    return wait


@pytest.fixture
def failing_broker() -> Iterator[Broker]:
    """Yield an embedded broker that raises BrokerError on every produce to topic `notes_out`."""
    from velo_tui.engine.errors import BrokerError

    class FailingBroker(EmbeddedBroker):
        description = "embedded broker that rejects notes_out"

        def produce(self, topic: str, batch) -> None:
            if topic == "notes_out":
                raise BrokerError(f"produce to topic {topic} failed: the broker rejected the batch; check the broker log")
            super().produce(topic, batch)

    instance = FailingBroker()
    yield instance
    instance.close()


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def broker_args(request: pytest.FixtureRequest) -> list[str]:
    """Return the velo-tui options that select each broker in turn: none for the embedded broker,
    then `--bootstrap-servers` with the test Kafka broker's address."""
    if request.param == "embedded":
        return []
    return ["--bootstrap-servers", request.getfixturevalue("kafka_address")]


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """Return a function that runs `velo-tui ARGS` in this process: (exit code, stdout, stderr).

    `main` replaces the root logger's handlers and level; they are put back after the test.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def run(*args: object) -> tuple[int, str, str]:
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield run
    root.handlers[:] = handlers
    root.setLevel(level)

"""Shared test fixtures: the broker under test (embedded, or real Kafka from VELO_TEST_KAFKA), the
example pipelines folder, the test pipelines and debug sessions over them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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

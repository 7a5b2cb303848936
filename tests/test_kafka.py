"""KafkaBroker specifics: unreachable and lost brokers, client properties, secrets, selection."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from velo_tui.engine.broker.base import make_produce_batch
from velo_tui.engine.broker.embedded import EmbeddedBroker
from velo_tui.engine.broker.kafka import KafkaBroker
from velo_tui.engine.broker.select import kafka_address, open_broker
from velo_tui.engine.errors import BrokerError, InputError

REPO = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = REPO / "scripts" / "kafka"

# Nothing listens on port 1, so a connection is refused at once.
UNREACHABLE = "127.0.0.1:1"

SECRET_CONFIG = {
    "sasl.password": "pw-sasl-91f2",
    "ssl.key.password": "pw-sslkey-6c0d",
    "sasl.jaas.config": (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="alice" password="pw-jaas-37ab";'
    ),
}
SECRET_STRINGS = ("pw-sasl-91f2", "pw-sslkey-6c0d", "pw-jaas-37ab")


def test_unreachable_raises_input_error():
    with pytest.raises(InputError) as raised:
        KafkaBroker(UNREACHABLE, timeout_s=2)

    assert UNREACHABLE in str(raised.value)
    assert "--bootstrap-servers" in str(raised.value)


def test_unreachable_error_hides_secrets(caplog):
    caplog.set_level(logging.DEBUG)

    with pytest.raises(InputError) as raised:
        KafkaBroker(UNREACHABLE, {**SECRET_CONFIG, "debug": "conf,broker"}, timeout_s=2)

    for secret in SECRET_STRINGS:
        assert secret not in str(raised.value)
        assert secret not in caplog.text


def test_empty_address_rejected():
    with pytest.raises(InputError) as raised:
        KafkaBroker("  ")

    assert "HOST:PORT" in str(raised.value)


def test_address_prefers_option():
    env = {"VELO_KAFKA_BROKERS": "a:1", "VELOSTREAM_KAFKA_BROKERS": "b:2"}

    assert kafka_address("c:3", env) == "c:3"


def test_address_env_order():
    assert kafka_address(None, {"VELO_KAFKA_BROKERS": "a:1", "VELOSTREAM_KAFKA_BROKERS": "b:2"}) == "a:1"
    assert kafka_address(None, {"VELOSTREAM_KAFKA_BROKERS": "b:2"}) == "b:2"
    assert kafka_address(None, {"VELO_KAFKA_BROKERS": " ", "VELOSTREAM_KAFKA_BROKERS": "b:2"}) == "b:2"


def test_address_absent_is_none():
    assert kafka_address(None, {}) is None
    assert kafka_address("", {}) is None


def test_open_broker_embedded_default():
    assert isinstance(open_broker(None, {}), EmbeddedBroker)


def test_open_broker_unreachable_env():
    with pytest.raises(InputError) as raised:
        open_broker(None, {"VELOSTREAM_KAFKA_BROKERS": UNREACHABLE}, timeout_s=2)

    assert UNREACHABLE in str(raised.value)


@pytest.mark.kafka
def test_open_broker_kafka(kafka_address):
    broker = open_broker(kafka_address, {})

    assert isinstance(broker, KafkaBroker)
    assert broker.description == f"Kafka at {kafka_address}"
    broker.close()


@pytest.mark.kafka
def test_java_client_properties_ignored(kafka_address):
    # Java-client settings as Velostream config files write them. librdkafka rejects the
    # first four, and the consumer profile there uses batch.size as a record count.
    java_style = {
        "buffer_memory": 33554432,
        "max_in_flight_requests_per_connection": 5,
        "buffer.size": 65536,
        "fetch.max.wait.ms": 20,
        "max.poll.records": 1000,
        "batch.size": 1000,
        "retries": 3,
        "linger.ms": 2,
        "compression.type": "lz4",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 100,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 2000,
        "bootstrap.servers": UNREACHABLE,
    }
    broker = KafkaBroker(kafka_address, java_style)
    topic = f"test-{uuid.uuid4().hex[:12]}"

    try:
        broker.produce(topic, make_produce_batch([b"a", b"b", b"c"]))
        values = broker.read_all(topic).column("value").to_pylist()
    finally:
        broker.delete_topic(topic)
        broker.close()

    assert values == [b"a", b"b", b"c"]


@pytest.mark.kafka
def test_delivery_failure_raised_by_flush(kafka_address):
    broker = KafkaBroker(kafka_address)
    topic = f"test-{uuid.uuid4().hex[:12]}"
    # The topic takes record batches of at most 1,000 bytes, so the broker rejects the message.
    admin = AdminClient({"bootstrap.servers": kafka_address})
    created = admin.create_topics(
        [NewTopic(topic, num_partitions=1, replication_factor=1,
                  config={"max.message.bytes": "1000"})]
    )
    created[topic].result(timeout=30)

    try:
        with pytest.raises(BrokerError) as raised:
            broker.produce(topic, make_produce_batch([b"x" * 5_000]))
            broker.flush()
        broker.produce(topic, make_produce_batch([b"small"]))
        broker.flush()
        values = broker.read_all(topic).column("value").to_pylist()
    finally:
        broker.delete_topic(topic)
        broker.close()

    assert topic in str(raised.value)
    assert "not delivered" in str(raised.value)
    assert values == [b"small"]


@pytest.mark.kafka
def test_secrets_absent_from_output(kafka_address, caplog):
    caplog.set_level(logging.DEBUG)
    broker = KafkaBroker(kafka_address, {**SECRET_CONFIG, "debug": "conf"})
    topic = f"test-{uuid.uuid4().hex[:12]}"

    try:
        broker.produce(topic, make_produce_batch([b"x"]))
        broker.read_all(topic)
    finally:
        broker.delete_topic(topic)
        broker.close()

    for secret in SECRET_STRINGS:
        assert secret not in broker.description
        assert secret not in caplog.text


@pytest.mark.kafka
def test_failed_login_hides_secrets(kafka_address, caplog):
    caplog.set_level(logging.DEBUG)
    # The test broker speaks plaintext, so a SASL handshake fails and the client never connects.
    config = {
        **SECRET_CONFIG,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "alice",
    }

    with pytest.raises(InputError) as raised:
        KafkaBroker(kafka_address, config, timeout_s=3)

    assert kafka_address in str(raised.value)
    for secret in SECRET_STRINGS:
        assert secret not in str(raised.value)
        assert secret not in caplog.text


# -- a private broker that the test stops --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_kafka(kafka_address, tmp_path) -> Iterator[tuple[str, dict[str, str]]]:
    """Start a second Kafka broker of our own, reusing the installed jars; stop it afterwards.

    Yields its address and the environment that `scripts/kafka stop` needs.
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


def _stop(env: dict[str, str]) -> None:
    stopped = subprocess.run(
        [str(KAFKA_SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=90
    )
    assert stopped.returncode == 0, stopped.stderr


@pytest.mark.kafka
@pytest.mark.slow
def test_lost_broker_fails_consume_and_produce(private_kafka):
    address, env = private_kafka
    # Small fetches keep most messages on the broker, so reading must go back to it.
    small_fetches = {
        "fetch.message.max.bytes": 1024,
        "fetch.max.bytes": 1024,
        "queued.max.messages.kbytes": 1,
        "queued.min.messages": 1,
        "receive.message.max.bytes": 2048,
    }
    broker = KafkaBroker(address, small_fetches, operation_timeout_s=5)
    broker.produce("lost", make_produce_batch([b"x" * 10_000] * 300))
    reader = broker.consume("lost", max_batch=1)
    next(reader)

    _stop(env)

    with pytest.raises(BrokerError) as consume_error:
        list(reader)
    with pytest.raises(BrokerError) as produce_error:
        broker.produce("lost", make_produce_batch([b"y"] * 10))
        broker.flush()
    assert address in str(consume_error.value)
    assert "lost" in str(consume_error.value)
    assert address in str(produce_error.value)

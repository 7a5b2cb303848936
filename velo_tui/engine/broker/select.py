"""Broker selection: a Kafka cluster when an address is given, else the embedded broker."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from velo_tui.engine.broker.base import Broker
from velo_tui.engine.broker.embedded import EmbeddedBroker

log = logging.getLogger(__name__)

#: Environment variables read for the Kafka address, in order, when no option gives one.
BROKER_ENV_VARS = ("VELO_KAFKA_BROKERS", "VELOSTREAM_KAFKA_BROKERS")


def kafka_address(bootstrap_servers: str | None, env: Mapping[str, str]) -> str | None:
    """Return the Kafka address to use: the option value, else the first set variable of
    `BROKER_ENV_VARS`, else None for the embedded broker. Blank values count as unset."""
    if bootstrap_servers is not None and bootstrap_servers.strip():
        return bootstrap_servers.strip()
    for name in BROKER_ENV_VARS:
        value = env.get(name, "").strip()
        if value:
            log.debug("using Kafka at %s from %s", value, name)
            return value
    return None


def open_broker(
    bootstrap_servers: str | None,
    env: Mapping[str, str],
    client_config: Mapping[str, object] | None = None,
    timeout_s: float = 10.0,
) -> Broker:
    """Open the broker a run uses: Kafka at `--bootstrap-servers`, `VELO_KAFKA_BROKERS` or
    `VELOSTREAM_KAFKA_BROKERS`, else the embedded broker.

    Raises `InputError` when the Kafka address given cannot be reached within `timeout_s`.
    """
    address = kafka_address(bootstrap_servers, env)
    if address is None:
        return EmbeddedBroker()

    # Imported here so that runs on the embedded broker never load librdkafka.
    from velo_tui.engine.broker.kafka import KafkaBroker

    return KafkaBroker(address, client_config, timeout_s=timeout_s)

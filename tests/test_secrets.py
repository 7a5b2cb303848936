"""Redaction of secret client properties from configs and error messages."""

from __future__ import annotations

import pytest

from velo_tui.engine.secrets import REDACTED, is_secret_key, redact, redact_text, secret_values

JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="alice" password="jaas-pw-1";'
)


@pytest.mark.parametrize(
    "key",
    [
        "sasl.password",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.truststore.password",
        "sasl.jaas.config",
        "sasl.oauthbearer.client.secret",
        "SASL_PASSWORD",
        "my.api.token",
        "aws_credentials",
        "db.Secret",
    ],
)
def test_secret_key_detected(key):
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["bootstrap.servers", "sasl.username", "sasl.mechanism", "ssl.key.location", "acks"]
)
def test_plain_key_kept(key):
    assert not is_secret_key(key)


def test_redact_replaces_secret_values():
    config = {"sasl.password": "hunter2", "sasl.username": "alice", "retries": 3}

    redacted = redact(config)

    assert redacted == {"sasl.password": REDACTED, "sasl.username": "alice", "retries": 3}


def test_redact_leaves_input_unchanged():
    config = {"sasl.password": "hunter2"}

    redact(config)

    assert config == {"sasl.password": "hunter2"}


def test_redact_nested_mappings():
    config = {"producer_config": {"ssl.key.password": "k3y", "acks": "all"}}

    redacted = redact(config)

    assert redacted == {"producer_config": {"ssl.key.password": REDACTED, "acks": "all"}}


def test_redact_keeps_null_secret():
    assert redact({"sasl.password": None}) == {"sasl.password": None}


def test_secret_values_collects_nested():
    config = {"sasl.password": "hunter2", "inner": {"api_token": 12345}, "acks": "all"}

    assert secret_values(config) == {"hunter2", "12345"}


def test_secret_values_jaas_password():
    values = secret_values({"sasl.jaas.config": JAAS})

    assert "jaas-pw-1" in values
    assert JAAS in values


def test_secret_values_skips_empty():
    assert secret_values({"sasl.password": ""}) == set()


def test_redact_text_scrubs_values():
    message = "login with hunter2 failed; jaas-pw-1 rejected"

    scrubbed = redact_text(message, {"hunter2", "jaas-pw-1"})

    assert scrubbed == "login with *** failed; *** rejected"


def test_redact_text_longest_first():
    scrubbed = redact_text("token abc123", {"abc", "abc123"})

    assert scrubbed == "token ***"


def test_redact_text_ignores_empty_value():
    assert redact_text("unchanged", {""}) == "unchanged"


def test_redact_text_whole_jaas_line():
    values = secret_values({"sasl.jaas.config": JAAS})

    scrubbed = redact_text(f"invalid config: {JAAS}", values)

    assert "jaas-pw-1" not in scrubbed
    assert scrubbed == "invalid config: ***"

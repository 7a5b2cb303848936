"""Redaction of secret client properties (passwords, JAAS configs, tokens) before a source or
sink config reaches a log line, report, screen or error message."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

REDACTED = "***"

#: Kafka client properties whose values are secrets.
SECRET_KEYS = frozenset(
    {
        "sasl.password",
        "sasl.jaas.config",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.config",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.truststore.password",
        "ssl.key.pem",
        "ssl.keystore.key",
        "basic.auth.user.info",
    }
)

#: A key containing any of these words (in any case) is treated as secret too.
SECRET_WORDS = ("password", "secret", "token", "jaas", "credentials")

# Secrets embedded in a JAAS line or an OAuth config string, such as password="s3cret".
_EMBEDDED_SECRET = re.compile(
    r"""(?ix)
    (?:password|secret|token|clientSecret)\s*=\s*
    (?: "(?P<double>[^"]+)" | '(?P<single>[^']+)' | (?P<bare>[^\s;"',]+) )
    """
)


def is_secret_key(key: str) -> bool:
    """Return True when the property `key` contains a secret value."""
    lowered = key.lower()
    if lowered in SECRET_KEYS:
        return True
    return any(word in lowered for word in SECRET_WORDS)


def redact(mapping: Mapping[str, object]) -> dict[str, object]:
    """Copy `mapping` with every secret value replaced by `***`, nested mappings included."""
    redacted: dict[str, object] = {}
    for key, value in mapping.items():
        if is_secret_key(str(key)) and value is not None:
            redacted[key] = REDACTED
        elif isinstance(value, Mapping):
            redacted[key] = redact(value)
        else:
            redacted[key] = value
    return redacted


def secret_values(mapping: Mapping[str, object]) -> set[str]:
    """Collect the secret values of `mapping` and its nested mappings, for `redact_text`.

    Besides each whole value, the password, secret or token quoted inside a JAAS or OAuth config
    string is collected too, because client errors may quote that part alone.
    """
    found: set[str] = set()
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            found |= secret_values(value)
            continue
        if value is None or not is_secret_key(str(key)):
            continue
        text = str(value)
        if text:
            found.add(text)
        for match in _EMBEDDED_SECRET.finditer(text):
            embedded = match.group("double") or match.group("single") or match.group("bare")
            if embedded:
                found.add(embedded)
    return found


def redact_text(text: str, secret_values: Iterable[str]) -> str:
    """Replace every occurrence of each secret value in `text` with `***`.

    Longer values are replaced first, so a secret that contains another is removed whole.
    Empty values are skipped.
    """
    for value in sorted({v for v in secret_values if v}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text

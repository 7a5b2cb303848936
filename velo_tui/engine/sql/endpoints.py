"""Construction of a statement's source and sink endpoints and job settings from its WITH clause.

WITH properties win over the endpoint's config file, which wins over defaults. Job settings come
from `job.*` properties, then the statement's annotations, then the file's annotations.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.pipeline import Endpoint
from velo_tui.engine.sql.config import (
    config_partitions,
    config_topic,
    flatten,
    load_config,
    scalar_text,
    sink_client_config,
    source_client_config,
)
from velo_tui.engine.sql.statement import WithProperty

logger = logging.getLogger(__name__)

SOURCE = "source"
SINK = "sink"
_DEFAULT_TYPES = {SOURCE: "kafka_source", SINK: "kafka_sink"}
_PRODUCER_PREFIX = "producer."
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass
class Annotation:
    """A `-- @key: value` comment and where it is written."""

    value: str
    location: SourceLocation


@dataclass
class JobSettings:
    """DLQ and batching settings of one statement; None where nothing sets them."""

    enable_dlq: bool | None = None
    dlq_max_size: int | None = None
    batch_size: int | None = None


def build_endpoint(
    name: str,
    role: str,
    properties: Mapping[str, WithProperty],
    sql_path: Path,
    env: Mapping[str, str],
) -> Endpoint:
    """Build the source or sink endpoint `name` from the `<name>.*` WITH properties and the config
    file they name (a path relative to the SQL file)."""
    prefix = f"{name.lower()}."
    own = {
        key[len(prefix) :]: prop for key, prop in properties.items() if key.lower().startswith(prefix)
    }

    tree: dict[str, Any] = {}
    config_path: Path | None = None
    config_property = own.get("config_file")
    if config_property is not None:
        config_path = (sql_path.parent / config_property.value).resolve()
        tree = load_config(
            config_path,
            env,
            written_as=config_property.value,
            referenced_at=config_property.location,
        )

    flat = flatten(tree)
    flat.update({key: prop.value for key, prop in own.items()})

    topic = _first_value(own, "topic.name", "topic") or config_topic(tree) or name
    partitions = _partitions(own, tree)
    if role == SOURCE:
        client_config = source_client_config(tree)
    else:
        client_config = sink_client_config(tree)
        for key, prop in properties.items():
            if key.startswith(_PRODUCER_PREFIX):
                client_config[key[len(_PRODUCER_PREFIX) :]] = prop.value

    endpoint_type = own["type"].value if "type" in own else _DEFAULT_TYPES[role]
    return Endpoint(
        name=name,
        type=endpoint_type,
        topic=topic,
        partitions=partitions,
        config_file=config_path,
        properties=flat,
        client_config=client_config,
    )


def _first_value(own: Mapping[str, WithProperty], *keys: str) -> str | None:
    for key in keys:
        prop = own.get(key)
        if prop is not None and prop.value:
            return prop.value
    return None


def _partitions(own: Mapping[str, WithProperty], tree: Mapping[str, Any]) -> int:
    for key in ("partitions", "topic.partitions"):
        prop = own.get(key)
        if prop is not None:
            return _positive_int(prop.value, f"'{prop.key}'", prop.location)
    configured = config_partitions(tree)
    if configured is None:
        return 1
    return _positive_int(scalar_text(configured), "topic.partitions in the config file", None)


def _positive_int(text: str, setting: str, location: SourceLocation | None) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"{setting} must be a positive integer, got '{text}'", location)
    return value


def job_settings(
    properties: Mapping[str, WithProperty],
    statement_annotations: Mapping[str, Annotation],
    file_annotations: Mapping[str, Annotation],
) -> JobSettings:
    """Resolve a statement's job settings: `job.*` WITH properties, then the annotations directly
    above the statement, then the file-level annotations."""
    settings = JobSettings()
    for key in ("enable_dlq", "dlq_max_size", "batch_size"):
        found = _setting_text(key, properties, statement_annotations, file_annotations)
        if found is None:
            continue
        text, setting, location = found
        if key == "enable_dlq":
            settings.enable_dlq = _boolean(text, setting, location)
        else:
            number = _non_negative_int(text, setting, location)
            if key == "batch_size" and number == 0:
                raise InputError(f"{setting} must be at least 1, got '{text}'", location)
            setattr(settings, key, number)
    return settings


def _setting_text(
    key: str,
    properties: Mapping[str, WithProperty],
    statement_annotations: Mapping[str, Annotation],
    file_annotations: Mapping[str, Annotation],
) -> tuple[str, str, SourceLocation] | None:
    prop = properties.get(f"job.{key}")
    if prop is not None:
        return prop.value, f"'job.{key}'", prop.location
    for scope in (statement_annotations, file_annotations):
        annotation = scope.get(key)
        if annotation is not None:
            return annotation.value, f"@{key}", annotation.location
    return None


def _boolean(text: str, setting: str, location: SourceLocation) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InputError(f"{setting} must be true or false, got '{text}'", location)


def _non_negative_int(text: str, setting: str, location: SourceLocation) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise InputError(f"{setting} must be a non-negative integer, got '{text}'", location)
    return value

"""Endpoint config files: YAML with `extends:` inheritance and `${ENV_VAR:default}` substitution.

A statement's WITH clause names one config file per source or sink. This module reads it, merges
the files it extends, and turns the result into the endpoint's flat properties and Kafka client
config.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from velo_tui.engine.errors import InputError, SourceLocation

logger = logging.getLogger(__name__)

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")
_EXTENDS_LINE = re.compile(r"^extends\s*:")


def substitute_env(text: str, env: Mapping[str, str]) -> str:
    """Replace `${NAME}` and `${NAME:default}` in `text` with values from `env`.

    An unset or empty variable gives its default, or the empty string when there is none.
    """

    def replace(match: re.Match[str]) -> str:
        value = env.get(match.group(1), "")
        if value:
            return value
        return match.group(2) or ""

    return _ENV_REFERENCE.sub(replace, text)


def load_config(
    path: Path,
    env: Mapping[str, str],
    *,
    written_as: str | None = None,
    referenced_at: SourceLocation | None = None,
) -> dict[str, Any]:
    """Read a config file, merge the chain of files it extends, and substitute env variables.

    `written_as` and `referenced_at` describe where the path came from (the WITH property or the
    `extends:` line), so a missing file is reported against the line that names it.
    """
    return _load_chain(path.resolve(), env, written_as or str(path), referenced_at, ())


def _load_chain(
    path: Path,
    env: Mapping[str, str],
    written_as: str,
    referenced_at: SourceLocation | None,
    chain: tuple[Path, ...],
) -> dict[str, Any]:
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise InputError(
            f"config files extend each other in a cycle: {cycle}; remove one of the "
            "`extends:` lines",
            referenced_at,
        )
    if not path.is_file():
        raise InputError(
            f"config file '{written_as}' not found (resolved to {path}); fix the path, which "
            "is relative to the file that names it",
            referenced_at,
        )

    tree = _read_yaml(path)
    tree = _substitute_tree(tree, env)
    parent_ref = tree.pop("extends", None)
    if parent_ref is None:
        return tree
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise InputError(
            "`extends:` must name one config file as a string path",
            SourceLocation(path, _extends_line(path)),
        )

    parent_path = (path.parent / parent_ref).resolve()
    parent = _load_chain(
        parent_path,
        env,
        parent_ref,
        SourceLocation(path, _extends_line(path)),
        (*chain, path),
    )
    return deep_merge(parent, tree)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read config file: {error}", SourceLocation(path)) from error
    try:
        tree = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        location = SourceLocation(path)
        if mark is not None:
            location = SourceLocation(path, mark.line + 1, mark.column + 1)
        raise InputError(f"invalid YAML ({error.problem}); check the indentation and brackets near this line", location) from error
    except yaml.YAMLError as error:
        raise InputError(f"invalid YAML ({error}); check the indentation and brackets near this line", SourceLocation(path)) from error
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise InputError(
            f"a config file must be a YAML mapping, found {type(tree).__name__}",
            SourceLocation(path, 1, 1),
        )
    return tree


def _extends_line(path: Path) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if _EXTENDS_LINE.match(line):
            return number
    return None


def _substitute_tree(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return substitute_env(value, env)
    if isinstance(value, dict):
        return {key: _substitute_tree(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute_tree(item, env) for item in value]
    return value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge two config trees; `override` wins, and mappings are merged key by key.

    An empty value in `override` (a key with nothing after the colon) keeps the base value, so a
    leaf file's empty `datasource: schema:` stub does not erase the inherited schema settings.
    """
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if value is None and current is not None:
            continue
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def scalar_text(value: Any) -> str:
    """Return a YAML scalar as the string a Kafka client or a property map expects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested mappings to dotted keys; list items get their index as a key part."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{dotted}."))
        elif isinstance(value, list):
            flat.update(flatten(dict(enumerate(value)), f"{dotted}."))
        else:
            flat[dotted] = scalar_text(value)
    return flat


def config_topic(tree: Mapping[str, Any]) -> str | None:
    """Return the topic a config file names under `topic.name` (or `topic` as a string)."""
    topic = tree.get("topic")
    if isinstance(topic, dict):
        name = topic.get("name")
        return scalar_text(name) if name not in (None, "") else None
    if isinstance(topic, (str, int)) and topic != "":
        return scalar_text(topic)
    return None


def config_partitions(tree: Mapping[str, Any]) -> Any:
    """Return the raw `topic.partitions` value of a config file, or None."""
    topic = tree.get("topic")
    if isinstance(topic, dict):
        return topic.get("partitions")
    return None


def source_client_config(tree: Mapping[str, Any]) -> dict[str, str]:
    """Build a source's consumer properties: the selected performance profile, then
    `datasource.consumer_config` (or top-level `consumer_config`), which wins."""
    datasource = _mapping(tree.get("datasource"))
    profile_name = tree.get("performance_profile", datasource.get("performance_profile"))
    profiles = _mapping(tree.get("performance_profiles"))
    client: dict[str, str] = {}
    if profile_name is not None:
        client.update(flatten(_mapping(profiles.get(profile_name))))
    client.update(flatten(_mapping(tree.get("consumer_config"))))
    client.update(flatten(_mapping(datasource.get("consumer_config"))))
    return client


def sink_client_config(tree: Mapping[str, Any]) -> dict[str, str]:
    """Build a sink's producer properties: the selected delivery profile when the file defines
    one, then `datasink.producer_config` (or top-level `producer_config`), which wins."""
    datasink = _mapping(tree.get("datasink"))
    profile_name = tree.get("delivery_profile", datasink.get("delivery_profile"))
    profiles = _mapping(tree.get("delivery_profiles"))
    client: dict[str, str] = {}
    if profile_name is not None:
        client.update(flatten(_mapping(profiles.get(profile_name))))
    client.update(flatten(_mapping(tree.get("producer_config"))))
    client.update(flatten(_mapping(datasink.get("producer_config"))))
    return client


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}

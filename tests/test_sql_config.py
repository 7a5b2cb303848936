"""Tests for endpoint config files: extends chains, deep merge, env substitution, flattening."""

from __future__ import annotations

from pathlib import Path

import pytest

from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.sql.config import (
    deep_merge,
    flatten,
    load_config,
    sink_client_config,
    source_client_config,
    substitute_env,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_substitute_env_default_used_when_unset():
    assert substitute_env("${BROKERS:localhost:9333}", {}) == "localhost:9333"


def test_substitute_env_value_wins():
    assert substitute_env("${BROKERS:localhost:9333}", {"BROKERS": "127.0.0.1:1"}) == "127.0.0.1:1"


def test_substitute_env_empty_value_uses_default():
    assert substitute_env("${BROKERS:fallback}", {"BROKERS": ""}) == "fallback"


def test_substitute_env_unset_without_default_is_empty():
    assert substitute_env("a-${MISSING}-b", {}) == "a--b"


def test_substitute_env_several_references():
    assert substitute_env("${A}/${B:x}", {"A": "1"}) == "1/x"


def test_deep_merge_child_wins():
    merged = deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}})
    assert merged == {"a": {"b": 1, "c": 3}}


def test_deep_merge_empty_child_keeps_base():
    merged = deep_merge({"datasource": {"schema": {"key.format": "string"}}}, {"datasource": {"schema": None}})
    assert merged["datasource"]["schema"] == {"key.format": "string"}


def test_flatten_dotted_keys_and_scalars():
    flat = flatten({"a": {"b.c": True, "d": 3, "e": None}, "f": [{"g": 1}]})
    assert flat == {"a.b.c": "true", "a.d": "3", "a.e": "", "f.0.g": "1"}


def test_load_config_extends_chain(tmp_path):
    write(tmp_path / "base" / "root.yaml", "a: 1\nshared: {x: root, y: root}\n")
    write(tmp_path / "base" / "middle.yaml", "extends: root.yaml\nb: 2\nshared: {y: middle}\n")
    leaf = write(tmp_path / "leaf.yaml", "extends: base/middle.yaml\nc: 3\nshared: {z: leaf}\n")
    tree = load_config(leaf, {})
    assert tree == {"a": 1, "b": 2, "c": 3, "shared": {"x": "root", "y": "middle", "z": "leaf"}}


def test_load_config_substitutes_env(tmp_path):
    path = write(tmp_path / "c.yaml", "servers: '${KAFKA:localhost:9092}'\nport: 5\n")
    tree = load_config(path, {"KAFKA": "127.0.0.1:19092"})
    assert tree["servers"] == "127.0.0.1:19092"


def test_load_config_cycle(tmp_path):
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "x: 1\nextends: a.yaml\n")
    with pytest.raises(InputError, match="cycle") as caught:
        load_config(tmp_path / "a.yaml", {})
    assert caught.value.location.line == 2


def test_load_config_missing_parent(tmp_path):
    path = write(tmp_path / "a.yaml", "# comment\nextends: nowhere.yaml\n")
    with pytest.raises(InputError) as caught:
        load_config(path, {})
    assert "'nowhere.yaml' not found" in caught.value.message
    assert str(tmp_path / "nowhere.yaml") in caught.value.message
    assert str(caught.value.location) == f"{path.resolve()}:2"


def test_load_config_missing_file_names_reference(tmp_path):
    where = SourceLocation("pipeline.sql", 12, 5)
    with pytest.raises(InputError) as caught:
        load_config(tmp_path / "gone.yaml", {}, written_as="gone.yaml", referenced_at=where)
    assert caught.value.location == where
    assert str(tmp_path / "gone.yaml") in caught.value.message


def test_load_config_invalid_yaml_location(tmp_path):
    path = write(tmp_path / "bad.yaml", "a: 1\nb: [unclosed\n")
    with pytest.raises(InputError, match="invalid YAML") as caught:
        load_config(path, {})
    assert caught.value.location.line is not None


def test_load_config_not_a_mapping(tmp_path):
    path = write(tmp_path / "list.yaml", "- a\n- b\n")
    with pytest.raises(InputError, match="must be a YAML mapping"):
        load_config(path, {})


def test_source_client_config_profile_then_consumer(tmp_path):
    tree = {
        "performance_profile": "fast",
        "performance_profiles": {"fast": {"fetch.min.bytes": 1, "auto.offset.reset": "latest"}},
        "datasource": {"consumer_config": {"auto.offset.reset": "earliest"}},
    }
    client = source_client_config(tree)
    assert client == {"fetch.min.bytes": "1", "auto.offset.reset": "earliest"}


def test_source_client_config_top_level_consumer():
    assert source_client_config({"consumer_config": {"group.id": "g"}}) == {"group.id": "g"}


def test_sink_client_config_producer():
    tree = {"datasink": {"producer_config": {"acks": "all", "retries": 3}}}
    assert sink_client_config(tree) == {"acks": "all", "retries": "3"}


def test_sink_client_config_top_level_producer():
    assert sink_client_config({"producer_config": {"linger.ms": 1}}) == {"linger.ms": "1"}

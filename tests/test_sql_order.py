"""Tests for statement execution order: sink-to-source topic dependencies, file order, cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from velo_tui.engine.errors import InputError
from velo_tui.engine.pipeline import Endpoint, Statement
from velo_tui.engine.sql import load_pipeline
from velo_tui.engine.sql.order import order_statements


def statement(name: str, source_topic: str, sink_topic: str, line: int = 1) -> Statement:
    return Statement(
        name=name,
        kind="STREAM",
        sql="",
        line=line,
        select_sql="",
        duckdb_sql="",
        source=Endpoint(name=f"{name}_in", type="kafka_source", topic=source_topic),
        sink=Endpoint(name=name, type="kafka_sink", topic=sink_topic),
    )


def names(statements: list[Statement]) -> list[str]:
    return [s.name for s in statements]


def test_order_independent_keeps_file_order():
    ordered = order_statements([statement("b", "t1", "t2"), statement("a", "t3", "t4")], "p.sql")
    assert names(ordered) == ["b", "a"]


def test_order_consumer_after_producer():
    given = [statement("third", "t3", "t4"), statement("first", "t1", "t2"), statement("second", "t2", "t3")]
    assert names(order_statements(given, "p.sql")) == ["first", "second", "third"]


def test_order_fan_out_keeps_file_order():
    given = [
        statement("left", "mid", "l"),
        statement("right", "mid", "r"),
        statement("root", "in", "mid"),
    ]
    assert names(order_statements(given, "p.sql")) == ["root", "left", "right"]


def test_order_two_producers_of_one_topic():
    given = [statement("reader", "shared", "out"), statement("w1", "a", "shared"), statement("w2", "b", "shared")]
    assert names(order_statements(given, "p.sql")) == ["w1", "w2", "reader"]


def test_order_cycle_names_statements():
    given = [
        statement("ok", "in", "x", line=1),
        statement("a", "t2", "t1", line=10),
        statement("b", "t1", "t2", line=20),
    ]
    with pytest.raises(InputError, match="cycle") as caught:
        order_statements(given, "p.sql")
    message = caught.value.message
    assert "a (line 10" in message
    assert "b (line 20" in message
    assert "ok (" not in message
    assert caught.value.location.file == "p.sql"


def test_order_self_loop_is_cycle():
    with pytest.raises(InputError, match="cycle"):
        order_statements([statement("loop", "t", "t")], "p.sql")


def test_order_through_loader(tmp_path: Path):
    text = """
CREATE STREAM enriched AS SELECT a FROM validated EMIT CHANGES
WITH ('validated.topic' = 'validated_topic', 'enriched.topic' = 'enriched_topic');

CREATE STREAM validated AS SELECT a FROM raw EMIT CHANGES
WITH ('raw.topic' = 'raw_topic', 'validated.topic' = 'validated_topic');
"""
    path = tmp_path / "p.sql"
    path.write_text(text, encoding="utf-8")
    pipeline = load_pipeline(path, env={})
    assert names(pipeline.statements) == ["validated", "enriched"]
    assert pipeline.topics() == ["raw_topic", "validated_topic", "enriched_topic"]


def test_order_cycle_through_loader(tmp_path: Path):
    text = """
CREATE STREAM a AS SELECT x FROM b EMIT CHANGES;
CREATE STREAM b AS SELECT x FROM a EMIT CHANGES;
"""
    path = tmp_path / "p.sql"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="cycle") as caught:
        load_pipeline(path, env={})
    assert caught.value.location.line == 2

"""Tests for loading SQL files into pipelines: the example pipelines and hand-written edge cases."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from velo_tui.engine.errors import InputError
from velo_tui.engine.pipeline import SOURCE_RELATION
from velo_tui.engine.sql import load_pipeline

def corpus(corpus_dir: Path, name: str, env: dict[str, str] | None = None):
    path = corpus_dir / "tier8_fault_tolerance" / name
    if not path.is_file():
        pytest.skip(f"example pipeline {path} is not available")
    return load_pipeline(path, env=env or {})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def stream(name: str, source: str, extra: str = "") -> str:
    """Return a minimal CREATE STREAM statement reading `source` into `name`."""
    return f"""
CREATE STREAM {name} AS
SELECT id, amount
FROM {source}
EMIT CHANGES
WITH (
    '{source}.type' = 'kafka_source',
    '{name}.type' = 'kafka_sink'{extra}
);
"""


def test_corpus_names(corpus_dir):
    names = {
        "70_dlq_basic.sql": ["processed_events"],
        "72_fault_injection.sql": ["resilient_output"],
        "73_debug_mode.sql": ["validated_orders", "enriched_orders", "final_orders"],
        "74_stress_test.sql": ["high_volume_output"],
    }
    for file_name, expected in names.items():
        pipeline = corpus(corpus_dir, file_name)
        assert [statement.name for statement in pipeline.statements] == expected, file_name


def test_corpus_applications(corpus_dir):
    assert corpus(corpus_dir, "70_dlq_basic.sql").application == "dlq_basic_demo"
    assert corpus(corpus_dir, "74_stress_test.sql").application == "stress_test_demo"


def test_corpus_debug_topics_chain(corpus_dir):
    pipeline = corpus(corpus_dir, "73_debug_mode.sql")
    hops = [(s.source.topic, s.sink.topic) for s in pipeline.statements]
    assert hops == [
        ("test_raw_orders", "test_validated_orders"),
        ("test_validated_orders", "test_enriched_orders"),
        ("test_enriched_orders", "test_final_orders"),
    ]


def test_corpus_debug_lines(corpus_dir):
    pipeline = corpus(corpus_dir, "73_debug_mode.sql")
    assert [statement.line for statement in pipeline.statements] == [45, 70, 103]


def test_corpus_statement_text(corpus_dir):
    statement = corpus(corpus_dir, "73_debug_mode.sql").statements[0]
    assert statement.sql.startswith("CREATE STREAM validated_orders AS")
    assert statement.sql.endswith(");")
    assert statement.select_sql.startswith("SELECT")
    assert "EMIT" not in statement.select_sql
    assert statement.kind == "STREAM"


def test_corpus_translation_filled(corpus_dir):
    statement = corpus(corpus_dir, "72_fault_injection.sql").statements[0]
    assert SOURCE_RELATION in statement.duckdb_sql
    assert statement.output_columns[-2:] == ["order_size", "event_time"]
    assert statement.key_column is None


def test_corpus_file_annotations(corpus_dir):
    pipeline = corpus(corpus_dir, "70_dlq_basic.sql")
    assert pipeline.annotations["enable_dlq"] == "true"
    assert pipeline.annotations["dlq_max_size"] == "100"
    assert pipeline.annotations["job_mode"] == "simple"
    assert pipeline.description == "Demonstrate basic DLQ functionality"


def test_corpus_job_properties(corpus_dir):
    dlq_basic = corpus(corpus_dir, "70_dlq_basic.sql").statements[0]
    assert dlq_basic.enable_dlq is True
    assert dlq_basic.dlq_max_size == 100
    assert dlq_basic.batch_size is None
    assert corpus(corpus_dir, "72_fault_injection.sql").statements[0].dlq_max_size == 200
    assert corpus(corpus_dir, "74_stress_test.sql").statements[0].dlq_max_size == 1000


def test_corpus_no_job_settings(corpus_dir):
    statement = corpus(corpus_dir, "73_debug_mode.sql").statements[0]
    assert statement.enable_dlq is None
    assert statement.dlq_max_size is None


def test_corpus_producer_properties(corpus_dir):
    sink = corpus(corpus_dir, "74_stress_test.sql").statements[0].sink
    assert sink.client_config["batch.size"] == "32768"
    assert sink.client_config["linger.ms"] == "5"
    assert sink.client_config["compression.type"] == "lz4"


def test_corpus_with_properties_raw(corpus_dir):
    statement = corpus(corpus_dir, "74_stress_test.sql").statements[0]
    assert statement.properties["producer.linger.ms"] == "5"
    assert statement.properties["trades.topic.name"] == "test_trades"


def test_corpus_config_inheritance(corpus_dir):
    source = corpus(corpus_dir, "73_debug_mode.sql").statements[0].source
    assert source.client_config["auto.offset.reset"] == "earliest"
    assert source.client_config["max.poll.records"] == "1000"
    assert source.properties["consumer.group"] == "test_harness_orders_group"
    assert source.properties["datasource.schema.value.serializer"] == "json"
    assert source.config_file == (corpus_dir / "configs" / "orders_source.yaml").resolve()


def test_corpus_sink_config_inheritance(corpus_dir):
    sink = corpus(corpus_dir, "70_dlq_basic.sql").statements[0].sink
    assert sink.type == "kafka_sink"
    assert sink.client_config["retries"] == "3"


def test_corpus_env_default(corpus_dir):
    source = corpus(corpus_dir, "70_dlq_basic.sql").statements[0].source
    assert source.client_config["bootstrap.servers"] == "localhost:9333"


def test_corpus_env_substitution(corpus_dir):
    env = {"VELOSTREAM_KAFKA_BROKERS": "127.0.0.1:19092"}
    pipeline = corpus(corpus_dir, "70_dlq_basic.sql", env=env)
    statement = pipeline.statements[0]
    assert statement.source.client_config["bootstrap.servers"] == "127.0.0.1:19092"
    assert statement.sink.client_config["bootstrap.servers"] == "127.0.0.1:19092"


def test_loader_application_from_header(tmp_path):
    path = write(tmp_path / "p.sql", "-- SQL Application: from_header\n" + stream("out", "src"))
    assert load_pipeline(path, env={}).application == "from_header"


def test_loader_application_annotation_wins(tmp_path):
    text = "-- SQL Application: from_header\n-- @app: from_annotation\n" + stream("out", "src")
    assert load_pipeline(write(tmp_path / "p.sql", text), env={}).application == "from_annotation"


def test_loader_application_from_stem(tmp_path):
    path = write(tmp_path / "my_pipeline.sql", stream("out", "src"))
    assert load_pipeline(path, env={}).application == "my_pipeline"


def test_loader_statement_annotations_win(tmp_path):
    text = (
        "-- @enable_dlq: true\n-- @dlq_max_size: 10\n-- @batch_size: 50\n\n"
        + stream("first", "src")
        + "\n-- @dlq_max_size: 20\n-- @enable_dlq: false"
        + stream("second", "src2")
    )
    pipeline = load_pipeline(write(tmp_path / "p.sql", text), env={})
    first, second = pipeline.statements
    assert first.annotations == {}
    assert (first.enable_dlq, first.dlq_max_size, first.batch_size) == (True, 10, 50)
    assert second.annotations == {"dlq_max_size": "20", "enable_dlq": "false"}
    assert (second.enable_dlq, second.dlq_max_size, second.batch_size) == (False, 20, 50)


def test_loader_job_property_wins(tmp_path):
    text = "-- @dlq_max_size: 10\n" + stream(
        "out", "src", ",\n    'job.dlq_max_size' = '7',\n    'job.batch_size' = '25'"
    )
    statement = load_pipeline(write(tmp_path / "p.sql", text), env={}).statements[0]
    assert statement.dlq_max_size == 7
    assert statement.batch_size == 25


def test_loader_invalid_job_value(tmp_path):
    path = write(tmp_path / "p.sql", stream("out", "src", ",\n    'job.enable_dlq' = 'maybe'"))
    with pytest.raises(InputError, match="'job.enable_dlq' must be true or false") as caught:
        load_pipeline(path, env={})
    assert caught.value.location.line == 8


def test_loader_topic_defaults(tmp_path):
    write(tmp_path / "configs" / "src.yaml", "topic:\n  name: from_config\n  partitions: 4\n")
    text = stream("out", "src", ",\n    'src.config_file' = 'configs/src.yaml'")
    statement = load_pipeline(write(tmp_path / "p.sql", text), env={}).statements[0]
    assert statement.source.topic == "from_config"
    assert statement.source.partitions == 4
    assert statement.sink.topic == "out"
    assert statement.sink.partitions == 1


def test_loader_with_topic_wins(tmp_path):
    write(tmp_path / "src.yaml", "topic:\n  name: from_config\n")
    extra = ",\n    'src.config_file' = 'src.yaml',\n    'src.topic' = 'from_with',\n    'out.partitions' = '3'"
    statement = load_pipeline(write(tmp_path / "p.sql", stream("out", "src", extra)), env={}).statements[0]
    assert statement.source.topic == "from_with"
    assert statement.sink.partitions == 3


def test_loader_default_types(tmp_path):
    text = "CREATE STREAM out AS SELECT a FROM src EMIT CHANGES;\n"
    statement = load_pipeline(write(tmp_path / "p.sql", text), env={}).statements[0]
    assert (statement.source.type, statement.sink.type) == ("kafka_source", "kafka_sink")
    assert (statement.source.topic, statement.sink.topic) == ("src", "out")


def test_loader_without_emit_or_with(tmp_path):
    text = "CREATE TABLE t AS SELECT a FROM src;"
    statement = load_pipeline(write(tmp_path / "p.sql", text), env={}).statements[0]
    assert statement.kind == "TABLE"
    assert statement.select_sql == "SELECT a FROM src"


def test_loader_missing_config_file(tmp_path):
    text = stream("out", "src", ",\n    'src.config_file' = '../configs/absent.yaml'")
    path = write(tmp_path / "sql" / "p.sql", text)
    with pytest.raises(InputError) as caught:
        load_pipeline(path, env={})
    error = caught.value
    assert "'../configs/absent.yaml' not found" in error.message
    assert str((tmp_path / "configs" / "absent.yaml").resolve()) in error.message
    assert str(error.location) == f"{path}:8:5"


def test_loader_syntax_error_location(tmp_path):
    text = "-- header\n\nCREATE STREAM out AS\nSELECT a,\n  b c d\nFROM src\nEMIT CHANGES;\n"
    path = write(tmp_path / "p.sql", text)
    with pytest.raises(InputError, match="syntax error near 'd'") as caught:
        load_pipeline(path, env={})
    assert str(caught.value.location) == f"{path}:5:7"


def test_loader_unsupported_construct_location(tmp_path):
    text = "CREATE STREAM out AS\nSELECT a, COUNT(*) AS n\nFROM src\nGROUP BY a\nEMIT CHANGES;\n"
    path = write(tmp_path / "p.sql", text)
    with pytest.raises(InputError, match="GROUP BY is not supported") as caught:
        load_pipeline(path, env={})
    assert str(caught.value.location) == f"{path}:4:1"


def test_loader_window_clause_rejected(tmp_path):
    text = (
        "CREATE TABLE t AS\nSELECT a, COUNT(*) AS n FROM src\n"
        "GROUP BY a\nWINDOW TUMBLING(1m)\nEMIT CHANGES;\n"
    )
    with pytest.raises(InputError, match="GROUP BY is not supported"):
        load_pipeline(write(tmp_path / "p.sql", text), env={})


def test_loader_rejects_other_statements(tmp_path):
    text = "SELECT a FROM src;\n"
    with pytest.raises(InputError, match="expected CREATE STREAM") as caught:
        load_pipeline(write(tmp_path / "p.sql", text), env={})
    assert caught.value.location.line == 1


def test_loader_invalid_with_clause(tmp_path):
    text = "CREATE STREAM out AS SELECT a FROM src\nWITH (\n  'src.type' 'kafka_source'\n);\n"
    with pytest.raises(InputError, match="expected '='") as caught:
        load_pipeline(write(tmp_path / "p.sql", text), env={})
    assert caught.value.location.line == 3


def test_loader_with_comments_and_escapes(tmp_path):
    text = (
        "CREATE STREAM out AS SELECT a FROM src\nWITH (\n  -- the source\n"
        "  'src.type' = 'kafka_source', /* block */\n  'out.note' = 'it''s'\n);\n"
    )
    statement = load_pipeline(write(tmp_path / "p.sql", text), env={}).statements[0]
    assert statement.properties == {"src.type": "kafka_source", "out.note": "it's"}
    assert statement.sink.properties["note"] == "it's"


def test_loader_trailing_text_rejected(tmp_path):
    text = "CREATE STREAM out AS SELECT a FROM src EMIT CHANGES WITH ('a' = 'b') extra;\n"
    with pytest.raises(InputError, match="unexpected text"):
        load_pipeline(write(tmp_path / "p.sql", text), env={})


def test_loader_duplicate_statement_names(tmp_path):
    text = stream("out", "src") + stream("out", "other")
    with pytest.raises(InputError, match="already used"):
        load_pipeline(write(tmp_path / "p.sql", text), env={})


def test_loader_empty_file(tmp_path):
    with pytest.raises(InputError, match="no statements"):
        load_pipeline(write(tmp_path / "p.sql", "-- only a comment\n"), env={})


def test_loader_missing_sql_file(tmp_path):
    with pytest.raises(InputError, match="SQL file not found"):
        load_pipeline(tmp_path / "absent.sql", env={})


def test_loader_not_utf8(tmp_path):
    path = tmp_path / "p.sql"
    path.write_bytes(b"-- ok\n-- \xff\xfe bad\n")
    with pytest.raises(InputError, match="not valid UTF-8") as caught:
        load_pipeline(path, env={})
    assert caught.value.location.line == 2


def test_loader_bom_and_crlf(tmp_path):
    path = tmp_path / "p.sql"
    path.write_bytes(b"\xef\xbb\xbf-- @app: bom\r\n" + stream("out", "src").encode().replace(b"\n", b"\r\n"))
    pipeline = load_pipeline(path, env={})
    assert pipeline.application == "bom"
    assert pipeline.statements[0].line == 3


def test_loader_env_defaults_to_process(tmp_path, monkeypatch):
    monkeypatch.setenv("VELO_TEST_TOPIC_SUFFIX", "from_env")
    write(tmp_path / "c.yaml", "topic:\n  name: 'orders_${VELO_TEST_TOPIC_SUFFIX}'\n")
    text = stream("out", "src", ",\n    'src.config_file' = 'c.yaml'")
    pipeline = load_pipeline(write(tmp_path / "p.sql", text))
    assert pipeline.statements[0].source.topic == "orders_from_env"


def test_misspelled_select_keyword(tmp_path: Path) -> None:
    sql = tmp_path / "typo.sql"
    sql.write_text(
        "CREATE STREAM out AS\nSELCT id\nFROM src\nEMIT CHANGES\n"
        "WITH ('src.topic.name' = 't_in', 'out.topic.name' = 't_out');\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_pipeline(sql, env={})
    assert "expected SELECT after AS" in caught.value.message
    assert "'SELCT'" in caught.value.message
    assert caught.value.location.line == 2
    assert caught.value.location.column == 1

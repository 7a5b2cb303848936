"""Tests for finding and loading test specs: values, defaults, warnings and input errors."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from velo_tui.engine.errors import InputError
from velo_tui.engine.spec import find_spec, load_spec

STATEMENTS = ["orders_out", "enriched", "Final_Orders"]


def write_spec(tmp_path: Path, text: str, name: str = "p.test.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> object:
    return load_spec(write_spec(tmp_path, text), STATEMENTS)


def load_error(tmp_path: Path, text: str) -> InputError:
    with pytest.raises(InputError) as info:
        load_text(tmp_path, text)
    return info.value


MINIMAL = """
application: demo
queries:
  - name: orders_out
    inputs:
      - source: orders
    assertions:
      - type: record_count
        greater_than: 0
"""


# --- corpus --------------------------------------------------------------------------------


def corpus_spec(corpus_dir: Path, stem: str) -> tuple[Path, list[str]]:
    folder = corpus_dir / "tier8_fault_tolerance"
    sql = folder / f"{stem}.sql"
    if not sql.is_file():
        pytest.skip(f"{sql} not found")
    names = re.findall(r"CREATE\s+(?:STREAM|TABLE)\s+(\w+)", sql.read_text(), re.IGNORECASE)
    spec_path = find_spec(sql)
    assert spec_path is not None
    return spec_path, names


@pytest.mark.parametrize(
    ("stem", "query"),
    [
        ("70_dlq_basic", "processed_events"),
        ("72_fault_injection", "resilient_output"),
        ("73_debug_mode", "validated_orders"),
        ("74_stress_test", "high_volume_output"),
    ],
)
def test_corpus_spec_loads(corpus_dir, stem: str, query: str) -> None:
    path, names = corpus_spec(corpus_dir, stem)
    spec = load_spec(path, names)
    assert [q.name for q in spec.queries] == [query]
    assert spec.queries[0].assertions


def test_corpus_fault_injection_block(corpus_dir) -> None:
    spec = load_spec(*corpus_spec(corpus_dir, "72_fault_injection"))
    assert spec.fault_injection is not None
    assert spec.fault_injection["seed"] == 12345
    assert spec.fault_injection["field_corruption"]["fields"] == ["quantity", "unit_price"]
    assert spec.fault_injection_line == 7


def test_corpus_fault_spec_values(corpus_dir) -> None:
    spec = load_spec(*corpus_spec(corpus_dir, "70_dlq_basic"))
    query = spec.queries[0]
    assert spec.application == "dlq_basic_demo"
    assert query.timeout_ms == 60000
    assert query.inputs[0].records == 100
    assert query.assertions[1].params == {"greater_than": 0, "less_than": 15}
    assert query.assertions[1].line == 31
    assert spec.warnings == []


def test_corpus_debug_block(corpus_dir) -> None:
    spec = load_spec(*corpus_spec(corpus_dir, "73_debug_mode"))
    assert spec.debug.enabled
    assert spec.debug.pause_on_start
    assert spec.debug.breakpoints == ["validated_orders"]


def test_corpus_debug_log_level_warns(corpus_dir) -> None:
    spec = load_spec(*corpus_spec(corpus_dir, "73_debug_mode"))
    assert len(spec.warnings) == 1
    assert "73_debug_mode.test.yaml:14: key 'log_level' in debug is ignored" in spec.warnings[0]


def test_corpus_stress_block(corpus_dir) -> None:
    spec = load_spec(*corpus_spec(corpus_dir, "74_stress_test"))
    assert spec.stress_test is not None
    assert spec.stress_test.enabled
    assert spec.stress_test.records == 10000
    assert spec.stress_test.rate_per_second == 1000
    assert spec.stress_test.duration_seconds == 30
    assert spec.queries[0].inputs[0].rate_per_second == 1000


# --- find_spec -----------------------------------------------------------------------------


def test_find_spec_order(tmp_path: Path) -> None:
    sql = tmp_path / "p.sql"
    sql.write_text("", encoding="utf-8")
    names = ["test_spec.yml", "test_spec.yaml", "p.spec.yaml", "p.test.yaml"]
    assert find_spec(sql) is None
    for name in names:
        (tmp_path / name).write_text("", encoding="utf-8")
        assert find_spec(sql) == tmp_path / name


def test_find_spec_dotted_stem(tmp_path: Path) -> None:
    sql = tmp_path / "a.b.sql"
    spec = tmp_path / "a.b.test.yaml"
    spec.write_text("", encoding="utf-8")
    assert find_spec(sql) == spec


# --- values and defaults -------------------------------------------------------------------


def test_minimal_spec(tmp_path: Path) -> None:
    spec = load_text(tmp_path, MINIMAL)
    assert spec.application == "demo"
    assert spec.queries[0].inputs[0].source == "orders"
    assert spec.queries[0].assertions[0].type == "record_count"
    assert spec.warnings == []


def test_query_name_case_insensitive(tmp_path: Path) -> None:
    spec = load_text(tmp_path, "queries:\n  - name: FINAL_orders\n")
    assert spec.queries[0].name == "Final_Orders"


def test_defaults_apply(tmp_path: Path) -> None:
    spec = load_text(
        tmp_path,
        """
        default_records: 42
        default_timeout_ms: 5000
        queries:
          - name: orders_out
            inputs:
              - source: a
              - source: b
                records: 7
          - name: enriched
            timeout_ms: 10
        """,
    )
    first, second = spec.queries
    assert [item.records for item in first.inputs] == [42, 7]
    assert first.timeout_ms == 5000
    assert second.timeout_ms == 10


def test_records_absent_without_default(tmp_path: Path) -> None:
    spec = load_text(tmp_path, "queries:\n  - name: orders_out\n    inputs:\n      - source: a\n")
    assert spec.queries[0].inputs[0].records is None


def test_input_keys(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text("{}\n", encoding="utf-8")
    spec = load_text(
        tmp_path,
        """
        queries:
          - name: orders_out
          - name: enriched
            skip: true
            inputs:
              - source: orders_out
                from_previous: ORDERS_OUT
              - source: extra
                schema: extra_record
                data_file: rows.jsonl
                key_field: id
                rate_per_second: 50
        """,
    )
    query = spec.queries[1]
    assert query.skip
    assert query.inputs[0].from_previous == "orders_out"
    assert query.inputs[1].data_file == tmp_path / "rows.jsonl"
    assert query.inputs[1].schema == "extra_record"
    assert query.inputs[1].key_field == "id"
    assert query.inputs[1].rate_per_second == 50
    assert query.inputs[1].line == 8


def test_breakpoint_forms(tmp_path: Path) -> None:
    spec = load_text(
        tmp_path,
        """
        debug:
          breakpoints:
            - enriched
            - query: orders_out
              after_record: true
        queries: []
        """,
    )
    assert spec.debug.breakpoints == ["enriched", "orders_out"]
    assert spec.warnings == []


def test_no_queries_warns(tmp_path: Path) -> None:
    spec = load_text(tmp_path, "application: demo\n")
    assert spec.queries == []
    assert "no 'queries'" in spec.warnings[0]


# --- warnings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "key", "close"),
    [
        ("aplication: x\nqueries: []\n", 1, "aplication", "application"),
        ("queries:\n  - name: enriched\n    timeout: 5\n", 3, "timeout", "timeout_ms"),
        ("queries:\n  - name: enriched\n    inputs:\n      - source: a\n        record: 5\n",
         5, "record", "records"),
        ("queries:\n  - name: enriched\n    assertions:\n      - type: record_count\n"
         "        greater_then: 5\n", 5, "greater_then", "greater_than"),
        ("debug:\n  pause_on_stat: true\nqueries: []\n", 2, "pause_on_stat", "pause_on_start"),
        ("stress_test:\n  record: 5\nqueries: []\n", 2, "record", "records"),
        ("debug:\n  breakpoints:\n    - query: enriched\n      after_recrd: true\nqueries: []\n",
         4, "after_recrd", "after_record"),
    ],
)
def test_unknown_key_warns(tmp_path: Path, text: str, line: int, key: str, close: str) -> None:
    path = write_spec(tmp_path, text)
    spec = load_spec(path, STATEMENTS)
    assert len(spec.warnings) == 1
    assert spec.warnings[0].startswith(f"{path}:{line}: unknown key '{key}'")
    assert f"did you mean '{close}'?" in spec.warnings[0]


def test_unknown_key_lists_valid(tmp_path: Path) -> None:
    spec = load_text(tmp_path, "stress_test:\n  zzz: 1\nqueries: []\n")
    assert "valid keys: duration_seconds, enabled, rate_per_second, records" in spec.warnings[0]


def test_ignored_key_warns(tmp_path: Path) -> None:
    spec = load_text(tmp_path, "topic_naming:\n  pattern: x\nqueries: []\n")
    assert "key 'topic_naming' in the test spec is ignored" in spec.warnings[0]


def test_ignored_assertion_key_warns(tmp_path: Path) -> None:
    spec = load_text(
        tmp_path,
        "queries:\n  - name: enriched\n    assertions:\n      - type: dlq_count\n"
        "        topic: x\n",
    )
    assert "key 'topic' in assertion 'dlq_count'" in spec.warnings[0]


def test_duplicate_key_warns(tmp_path: Path) -> None:
    spec = load_text(tmp_path, "application: a\napplication: b\nqueries: []\n")
    assert spec.application == "b"
    assert ":2: key 'application' appears twice" in spec.warnings[0]


def test_show_intermediate_false_warns(tmp_path: Path) -> None:
    spec = load_text(tmp_path, "debug:\n  show_intermediate_values: false\nqueries: []\n")
    assert "show_intermediate_values: false is ignored" in spec.warnings[0]


# --- errors --------------------------------------------------------------------------------


def test_query_names_no_statement(tmp_path: Path) -> None:
    error = load_error(tmp_path, "queries:\n  - name: orders_out\n  - name: missing_one\n")
    assert "query 'missing_one' matches no statement" in error.message
    assert "orders_out, enriched, Final_Orders" in error.message
    assert error.location.line == 3


def test_empty_statement_list_skips_check(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, "queries:\n  - name: anything\n"), [])
    assert spec.queries[0].name == "anything"


def test_unknown_assertion_type(tmp_path: Path) -> None:
    error = load_error(
        tmp_path, "queries:\n  - name: enriched\n    assertions:\n      - type: row_count\n"
    )
    assert "unknown assertion type 'row_count'" in error.message
    assert "record_count, schema_contains, throughput" in error.message
    assert error.location.line == 4


def test_unknown_operator(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        queries:
          - name: enriched
            assertions:
              - type: field_values
                field: x
                operator: bigger
                value: 1
        """,
    )
    assert "unknown operator 'bigger'" in error.message
    assert "greater_than_or_equals" in error.message
    assert error.location.line == 4


def test_records_not_a_number(tmp_path: Path) -> None:
    error = load_error(
        tmp_path, "queries:\n  - name: enriched\n    inputs:\n      - source: a\n        records: ten\n"
    )
    assert "'records' in input 1 of query 'enriched' must be a whole number" in error.message
    assert error.location.line == 5
    assert error.location.column == 18


def test_skip_not_boolean(tmp_path: Path) -> None:
    error = load_error(tmp_path, "queries:\n  - name: enriched\n    skip: sometimes\n")
    assert "must be true or false" in error.message


def test_from_previous_later_query(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        queries:
          - name: enriched
            inputs:
              - source: a
                from_previous: orders_out
          - name: orders_out
        """,
    )
    assert "'orders_out', which is not an earlier query" in error.message
    assert error.location.line == 5


def test_data_file_missing(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        "queries:\n  - name: enriched\n    inputs:\n      - source: a\n        data_file: no.csv\n",
    )
    assert "data file 'no.csv'" in error.message
    assert "not found" in error.message


def test_input_without_source(tmp_path: Path) -> None:
    error = load_error(tmp_path, "queries:\n  - name: enriched\n    inputs:\n      - records: 5\n")
    assert "has no 'source'" in error.message


def test_duplicate_query(tmp_path: Path) -> None:
    error = load_error(tmp_path, "queries:\n  - name: enriched\n  - name: ENRICHED\n")
    assert "already defined at line 2" in error.message


def test_breakpoint_unknown_statement(tmp_path: Path) -> None:
    error = load_error(tmp_path, "debug:\n  breakpoints: [nowhere]\nqueries: []\n")
    assert "breakpoint 'nowhere' matches no statement" in error.message


def test_fault_injection_not_mapping(tmp_path: Path) -> None:
    error = load_error(tmp_path, "fault_injection: [a]\nqueries: []\n")
    assert "'fault_injection' must be a mapping" in error.message


def test_invalid_yaml_location(tmp_path: Path) -> None:
    error = load_error(tmp_path, "queries:\n  - name: [unclosed\n")
    assert "invalid YAML" in error.message
    assert error.location.line == 3


def test_empty_spec(tmp_path: Path) -> None:
    error = load_error(tmp_path, "")
    assert "the test spec is empty" in error.message


def test_spec_not_mapping(tmp_path: Path) -> None:
    error = load_error(tmp_path, "- a\n- b\n")
    assert "must be a mapping" in error.message


def test_spec_file_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_spec(tmp_path / "none.test.yaml", STATEMENTS)
    assert "test spec not found" in info.value.message


def test_yaml_date_value(tmp_path: Path) -> None:
    spec = load_text(
        tmp_path,
        """
        queries:
          - name: enriched
            assertions:
              - type: field_values
                field: day
                operator: greater_than
                value: 2024-01-01
        """,
    )
    assert spec.queries[0].assertions[0].params["value"] == "2024-01-01"


def test_nested_assertion_key_warns(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        """
        queries:
          - name: enriched
            assertions:
              - type: data_quality
                numeric_ranges:
                  - field: price
                    min: 0
                    maxx: 5
        """,
    )
    spec = load_spec(path, STATEMENTS)
    assert len(spec.warnings) == 1
    assert spec.warnings[0].startswith(f"{path}:8: unknown key 'maxx'")
    assert "did you mean 'max'?" in spec.warnings[0]

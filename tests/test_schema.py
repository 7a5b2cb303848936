"""Tests for loading record schemas: types, constraints, positioned errors and folder lookup."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from velo_tui.engine.errors import InputError
from velo_tui.engine.schema import (
    TimeBound,
    find_schema_dir,
    load_schema_dir,
    load_schema_file,
    parse_time_bound,
)


def write_schema(folder: Path, text: str, name: str = "thing.schema.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> InputError:
    path = write_schema(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_schema_file(path)
    return info.value


ALL_TYPES = """
name: all_types
description: every type
record_count: 42
key_field: id
fields:
  - name: id
    type: uuid
  - name: label
    type: string
    nullable: true
  - name: count
    type: integer
  - name: ratio
    type: float
  - name: flag
    type: boolean
  - name: at
    type: timestamp
  - name: day
    type: date
  - name: price
    type:
      decimal:
        precision: 3
"""


# --- corpus --------------------------------------------------------------------------------


def corpus_schema_dir(corpus_dir: Path) -> Path:
    folder = corpus_dir / "schemas"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return folder


def test_corpus_schemas_load(corpus_dir) -> None:
    schemas = load_schema_dir(corpus_schema_dir(corpus_dir))
    assert sorted(schemas) == ["event_record", "order_record", "trade_record"]


def test_corpus_order_record_types(corpus_dir) -> None:
    schema = load_schema_dir(corpus_schema_dir(corpus_dir))["order_record"]
    types = schema.duckdb_types()
    assert types["order_id"] == "VARCHAR"
    assert types["quantity"] == "BIGINT"
    assert types["unit_price"] == "DOUBLE"
    assert types["order_total"] == "DECIMAL(18,2)"
    assert types["event_time"] == "TIMESTAMP"


def test_corpus_event_record_constraints(corpus_dir) -> None:
    schema = load_schema_dir(corpus_schema_dir(corpus_dir))["event_record"]
    event_type = schema.field("event_type").constraints["enum_values"]
    assert event_type["weights"] == [0.3, 0.35, 0.15, 0.15, 0.05]
    assert schema.field("payload").nullable is True
    assert schema.field("payload").constraints["length"] == {"min": 10, "max": 200}
    assert schema.field("event_time").constraints["timestamp_range"]["start"].offset_ms == -3_600_000


# --- types ---------------------------------------------------------------------------------


def test_schema_all_types(tmp_path: Path) -> None:
    schema = load_schema_file(write_schema(tmp_path, ALL_TYPES))
    assert schema.duckdb_types() == {
        "id": "VARCHAR",
        "label": "VARCHAR",
        "count": "BIGINT",
        "ratio": "DOUBLE",
        "flag": "BOOLEAN",
        "at": "TIMESTAMP",
        "day": "DATE",
        "price": "DECIMAL(18,3)",
    }


def test_schema_top_level_values(tmp_path: Path) -> None:
    path = write_schema(tmp_path, ALL_TYPES)
    schema = load_schema_file(path)
    assert schema.name == "all_types"
    assert schema.record_count == 42
    assert schema.key_field == "id"
    assert schema.path == path
    assert schema.field("price").precision == 3


def test_schema_nullable_default(tmp_path: Path) -> None:
    schema = load_schema_file(write_schema(tmp_path, ALL_TYPES))
    assert schema.field("id").nullable is False
    assert schema.field("label").null_probability == pytest.approx(0.1)


def test_schema_name_defaults_to_stem(tmp_path: Path) -> None:
    path = write_schema(tmp_path, "fields:\n  - name: a\n    type: integer\n", "widgets.schema.yaml")
    assert load_schema_file(path).name == "widgets"


def test_schema_field_lookup_missing(tmp_path: Path) -> None:
    schema = load_schema_file(write_schema(tmp_path, ALL_TYPES))
    with pytest.raises(KeyError):
        schema.field("nope")


def test_schema_unknown_type_lists_valid(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        name: t
        fields:
          - name: a
            type: integr
        """,
    )
    assert "unknown type 'integr'" in error.message
    assert "did you mean 'integer'" in error.message
    assert "boolean" in error.message
    assert error.location.line == 4
    assert error.location.file.name == "thing.schema.yaml"


def test_schema_decimal_shorthand(tmp_path: Path) -> None:
    path = write_schema(tmp_path, "fields:\n  - name: a\n    type: decimal(2)\n")
    assert load_schema_file(path).field("a").duckdb_type == "DECIMAL(18,2)"


# --- constraint errors ---------------------------------------------------------------------


def test_schema_weights_length_mismatch(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        name: t
        fields:
          - name: a
            type: string
            constraints:
              enum_values:
                values: [x, y, z]
                weights: [0.5, 0.5]
        """,
    )
    assert "2 weights for 3 values" in error.message
    assert "field 'a'" in error.message
    assert error.location.line == 8


def test_schema_range_min_above_max(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        name: t
        fields:
          - name: qty
            type: integer
            constraints:
              range:
                min: 10
                max: 1
        """,
    )
    assert "min 10 is greater than max 1" in error.message
    assert "field 'qty'" in error.message
    assert error.location.line == 7


def test_schema_length_min_above_max(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        fields:
          - name: s
            type: string
            constraints:
              length: {min: 9, max: 3}
        """,
    )
    assert "min 9 is greater than max 3" in error.message


def test_schema_integer_range_without_whole_number(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        fields:
          - name: n
            type: integer
            constraints:
              range: {min: 1.2, max: 1.8}
        """,
    )
    assert "no whole number" in error.message


def test_schema_decimal_range_too_wide(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        fields:
          - name: d
            type: decimal(10)
            constraints:
              range: {min: 0, max: 1e9}
        """,
    )
    assert "DECIMAL(18,10)" in error.message


def test_schema_range_on_string_rejected(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        fields:
          - name: s
            type: string
            constraints:
              range: {min: 1, max: 2}
        """,
    )
    assert "not string" in error.message


def test_schema_enum_value_wrong_type(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        fields:
          - name: n
            type: integer
            constraints:
              enum_values:
                values: [1, two]
        """,
    )
    assert "'two' is not a valid integer" in error.message


def test_schema_unknown_distribution(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        fields:
          - name: x
            type: float
            constraints:
              distribution: gaussian
        """,
    )
    assert "unknown distribution 'gaussian'" in error.message
    assert "log_normal" in error.message


def test_schema_negative_std_dev(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        fields:
          - name: x
            type: float
            constraints:
              distribution:
                normal: {mean: 1, std_dev: -2}
        """,
    )
    assert "std_dev must not be negative" in error.message


def test_schema_timestamp_range_reversed(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        fields:
          - name: t
            type: timestamp
            constraints:
              timestamp_range: {start: "now", end: "-1h"}
        """,
    )
    assert "after end" in error.message


def test_schema_timestamp_range_invalid_text(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        fields:
          - name: t
            type: timestamp
            constraints:
              timestamp_range: {start: "yesterday", end: "now"}
        """,
    )
    assert "invalid time 'yesterday'" in error.message
    assert error.location.line == 5


def test_schema_duplicate_field(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        fields:
          - name: a
            type: string
          - name: a
            type: integer
        """,
    )
    assert "declared twice" in error.message
    assert error.location.line == 4


def test_schema_key_field_unknown(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        key_field: ide
        fields:
          - name: id
            type: uuid
        """,
    )
    assert "key_field 'ide'" in error.message
    assert "did you mean 'id'" in error.message


def test_schema_missing_fields(tmp_path: Path) -> None:
    error = load_error(tmp_path, "name: t\n")
    assert "no `fields` list" in error.message


def test_schema_invalid_yaml_position(tmp_path: Path) -> None:
    error = load_error(tmp_path, "name: t\nfields:\n  - name: [a\n")
    assert error.message.startswith("invalid YAML")
    assert error.location.line is not None


def test_schema_group_by_unknown_field(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        fields:
          - name: price
            type: float
            constraints:
              distribution:
                random_walk: {group_by: symbl}
          - name: symbol
            type: string
        """,
    )
    assert "group_by 'symbl'" in error.message


def test_schema_unknown_constraint_warns(tmp_path: Path) -> None:
    path = write_schema(
        tmp_path,
        """
        fields:
          - name: a
            type: integer
            constraints:
              rang: {min: 1, max: 2}
        """,
    )
    schema = load_schema_file(path)
    assert len(schema.warnings) == 1
    assert "did you mean 'range'" in schema.warnings[0]


def test_schema_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_schema_file(tmp_path / "absent.schema.yaml")
    assert "not found" in info.value.message


# --- time bounds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset_ms"),
    [("now", 0), ("-1h", -3_600_000), ("-30m", -1_800_000), ("+2d", 172_800_000), ("90", 90_000), (-5, -5_000)],
)
def test_time_bound_relative(text: object, offset_ms: int) -> None:
    assert parse_time_bound(text).offset_ms == offset_ms


def test_time_bound_absolute() -> None:
    bound = parse_time_bound("2026-01-01T00:00:10Z")
    assert bound.absolute_ms == 1_767_225_610_000
    assert bound.resolve(0) == 1_767_225_610_000


def test_time_bound_resolve_relative() -> None:
    assert TimeBound(offset_ms=-1000).resolve(5000) == 4000


def test_time_bound_invalid() -> None:
    with pytest.raises(ValueError):
        parse_time_bound("soon")


# --- folders -----------------------------------------------------------------------------------


def test_schema_dir_keys_by_name(tmp_path: Path) -> None:
    write_schema(tmp_path, "name: first\nfields:\n  - name: a\n    type: integer\n", "one.schema.yaml")
    write_schema(tmp_path, "fields:\n  - name: a\n    type: integer\n", "second.schema.yml")
    (tmp_path / "notes.txt").write_text("not a schema")
    assert sorted(load_schema_dir(tmp_path)) == ["first", "second"]


def test_schema_dir_duplicate_name(tmp_path: Path) -> None:
    write_schema(tmp_path, "name: same\nfields:\n  - name: a\n    type: integer\n", "a.schema.yaml")
    write_schema(tmp_path, "name: same\nfields:\n  - name: a\n    type: integer\n", "b.schema.yaml")
    with pytest.raises(InputError) as info:
        load_schema_dir(tmp_path)
    assert "schema name 'same'" in info.value.message


def test_find_schema_dir_beside_sql(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    sql = tmp_path / "p.sql"
    assert find_schema_dir(sql, None) == (tmp_path / "schemas").resolve()


def test_find_schema_dir_parent(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "tier1").mkdir()
    sql = tmp_path / "tier1" / "p.sql"
    assert find_schema_dir(sql, None) == (tmp_path / "schemas").resolve()


def test_find_schema_dir_none(tmp_path: Path) -> None:
    (tmp_path / "deep" / "er").mkdir(parents=True)
    assert find_schema_dir(tmp_path / "deep" / "er" / "p.sql", None) is None


def test_find_schema_dir_override(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "mine").mkdir()
    assert find_schema_dir(tmp_path / "p.sql", tmp_path / "mine") == tmp_path / "mine"


def test_find_schema_dir_override_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        find_schema_dir(tmp_path / "p.sql", tmp_path / "missing")
    assert "--schemas" in info.value.message

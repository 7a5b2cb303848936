"""Tests for the micro-batch decoder: the outcome of each kind of odd message value, typed
conversion, and column inference on sources without a schema."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from velo_tui.engine.broker.base import MESSAGE_SCHEMA
from velo_tui.engine.decode import ColumnSpec, DecodedBatch, Decoder, columns_from_arrow
from velo_tui.engine.pipeline import ROW_ID_COLUMN

#: The declared fields of the test source: a required integer, a float and a bounded string.
COLUMNS = [
    ColumnSpec("id", "BIGINT", nullable=False),
    ColumnSpec("amount", "DOUBLE"),
    ColumnSpec("name", "VARCHAR", max_length=20),
]

BOM = b"\xef\xbb\xbf"


def messages(values: list[bytes | None], keys: list[bytes | None] | None = None) -> pa.Table:
    """Build a consumed batch of partition 0 holding `values` at offsets 0, 1, ..."""
    keys = keys if keys is not None else [b"k"] * len(values)
    rows = [
        {"partition": 0, "offset": offset, "timestamp": 1_700_000_000_000 + offset, "key": key,
         "value": value, "headers": []}
        for offset, (key, value) in enumerate(zip(keys, values, strict=True))
    ]
    return pa.Table.from_pylist(rows, schema=MESSAGE_SCHEMA)


def decode(
    values: list[bytes | None],
    columns: list[ColumnSpec] | None = COLUMNS,
    keys: list[bytes | None] | None = None,
    **decoder_options: object,
) -> DecodedBatch:
    decoder = Decoder(columns, **decoder_options)
    return decoder.decode(duckdb.connect(), messages(values, keys))


def only_failure(batch: DecodedBatch) -> dict:
    assert batch.failures.num_rows == 1
    assert batch.rows.num_rows == 0
    return batch.failures.to_pylist()[0]


def only_row(batch: DecodedBatch) -> dict:
    assert batch.failures.num_rows == 0
    assert batch.rows.num_rows == 1
    return batch.rows.to_pylist()[0]


# --- one failure per odd value ---------------------------------------------------------------

FAILURES = [
    # (case, value, stage, error type, field)
    ("not_json", b"hello, world", "decode", "invalid_json", None),
    ("cut_json", b'{"id": 1, "amount": 2', "decode", "invalid_json", None),
    ("not_utf8", b'{"id": 1, "name": "caf\xe9"}', "decode", "invalid_encoding", None),
    ("json_array", b"[1, 2, 3]", "decode", "not_an_object", None),
    ("tombstone", None, "decode", "tombstone", None),
    ("nan", b'{"id": 3, "amount": NaN}', "validate", "non_finite_number", "amount"),
    ("infinity", b'{"id": 3, "amount": Infinity}', "validate", "non_finite_number", "amount"),
    ("minus_infinity", b'{"id": 3, "amount": -Infinity}', "validate", "non_finite_number", "amount"),
    ("int_beyond_64_bits", b'{"id": 99999999999999999999999}', "validate", "overflow", "id"),
    ("int_just_beyond", b'{"id": 9223372036854775808}', "validate", "overflow", "id"),
    ("duplicate_key", b'{"id": 4, "id": 5}', "validate", "duplicate_key", None),
    ("case_differs", b'{"ID": 6}', "validate", "missing_field", "id"),
    ("missing_required", b'{"amount": 1.0}', "validate", "missing_field", "id"),
    ("null_required", b'{"id": null}', "validate", "null_value", "id"),
    ("empty_object", b"{}", "validate", "missing_field", "id"),
    ("text_in_integer", b'{"id": "seven"}', "validate", "wrong_type", "id"),
    ("fraction_in_integer", b'{"id": 1.5}', "validate", "wrong_type", "id"),
    ("bool_in_float", b'{"id": 1, "amount": true}', "validate", "wrong_type", "amount"),
    ("number_in_string", b'{"id": 1, "name": 12}', "validate", "wrong_type", "name"),
    ("string_too_long", b'{"id": 1, "name": "' + b"x" * 21 + b'"}', "validate", "overflow", "name"),
]


@pytest.mark.parametrize(
    ("value", "stage", "error_type", "field"),
    [case[1:] for case in FAILURES],
    ids=[case[0] for case in FAILURES],
)
def test_decode_failure(value: bytes | None, stage: str, error_type: str, field: str | None) -> None:
    failure = only_failure(decode([value]))
    assert failure["stage"] == stage
    assert failure["error_type"] == error_type
    assert failure["field"] == field
    assert failure[ROW_ID_COLUMN] == 0


@pytest.mark.parametrize(
    ("value", "field"),
    [(b'{"id": 3, "amount": NaN}', "amount"), (b'{"ID": 6}', "id"), (b'{"id": "x"}', "id")],
    ids=["nan", "case_differs", "wrong_type"],
)
def test_decode_message_names_field(value: bytes, field: str) -> None:
    failure = only_failure(decode([value]))
    assert f"'{field}'" in failure["message"]


def test_decode_failures_keep_row_ids() -> None:
    batch = decode([b'{"id": 1}', b"nope", b'{"id": 2}', None])
    assert batch.failures.column(ROW_ID_COLUMN).to_pylist() == [1, 3]
    assert batch.rows.column(ROW_ID_COLUMN).to_pylist() == [0, 2]


# --- values that decode ----------------------------------------------------------------------


def test_decode_byte_order_mark() -> None:
    row = only_row(decode([BOM + b'{"id": 2, "amount": 1.5}']))
    assert row["id"] == 2
    assert row["amount"] == 1.5


def test_decode_numeric_strings() -> None:
    row = only_row(decode([b'{"id": "7", "amount": "2.5"}']))
    assert row["id"] == 7
    assert row["amount"] == 2.5


def test_decode_integer_in_float_field() -> None:
    row = only_row(decode([b'{"id": 1, "amount": 4}']))
    assert row["amount"] == 4.0


def test_decode_null_key() -> None:
    batch = decode([b'{"id": 8}'], keys=[None])
    row = only_row(batch)
    assert row["_key"] is None
    assert row["id"] == 8


def test_decode_key_and_metadata() -> None:
    row = only_row(decode([b'{"id": 8}'], keys=[b"order-8"]))
    assert row["_key"] == "order-8"
    assert row["_partition"] == 0
    assert row["_offset"] == 0
    assert row["_timestamp"] == 1_700_000_000_000


def test_decode_undeclared_field_ignored() -> None:
    batch = decode([b'{"id": 1, "colour": "red"}'])
    assert "colour" not in batch.rows.column_names
    assert batch.rows.num_rows == 1


def test_decode_nullable_fields_absent() -> None:
    row = only_row(decode([b'{"id": 1}']))
    assert row["amount"] is None
    assert row["name"] is None


def test_decode_largest_int64() -> None:
    row = only_row(decode([b'{"id": 9223372036854775807}']))
    assert row["id"] == 9223372036854775807


def test_decode_column_types() -> None:
    batch = decode([b'{"id": 1, "amount": 2.5, "name": "a"}'])
    assert batch.rows.schema.field("id").type == pa.int64()
    assert batch.rows.schema.field("amount").type == pa.float64()
    assert batch.rows.schema.field("name").type == pa.string()


def test_decode_timestamp_forms() -> None:
    columns = [ColumnSpec("at", "TIMESTAMP", nullable=False)]
    batch = decode([b'{"at": "2026-01-02T03:04:05"}', b'{"at": 1767323045000}'], columns)
    times = batch.rows.column("at").to_pylist()
    assert batch.failures.num_rows == 0
    assert times[0] == times[1]


def test_decode_invalid_timestamp() -> None:
    failure = only_failure(decode([b'{"at": "yesterday"}'], [ColumnSpec("at", "TIMESTAMP")]))
    assert failure["error_type"] == "invalid_timestamp"


def test_decode_invalid_uuid() -> None:
    columns = [ColumnSpec("ref", "VARCHAR", uuid=True)]
    failure = only_failure(decode([b'{"ref": "not-a-uuid"}'], columns))
    assert failure["error_type"] == "invalid_uuid"


def test_decode_decimal_overflow() -> None:
    columns = [ColumnSpec("price", "DECIMAL(4,2)")]
    failure = only_failure(decode([b'{"price": 123.45}'], columns))
    assert failure["error_type"] == "overflow"


def test_decode_trusted_skips_checks() -> None:
    columns = [ColumnSpec("id", "BIGINT"), ColumnSpec("label", "VARCHAR")]
    batch = decode([b'{"id": 5, "label": "five"}'], columns, trusted=True)
    assert batch.rows.to_pylist()[0]["label"] == "five"
    assert batch.failures.num_rows == 0


# --- sources without a schema ----------------------------------------------------------------


def test_infer_scalar_types() -> None:
    batch = decode([b'{"n": 1, "x": 1.5, "b": true, "s": "text"}'], None)
    schema = batch.rows.schema
    assert schema.field("n").type == pa.int64()
    assert schema.field("x").type == pa.float64()
    assert schema.field("b").type == pa.bool_()
    assert schema.field("s").type == pa.string()


def test_infer_mixed_types_as_text() -> None:
    batch = decode([b'{"a": 1}', b'{"a": "x"}'], None)
    assert batch.failures.num_rows == 0
    assert batch.rows.column("a").to_pylist() == ["1", "x"]


def test_infer_nested_values_as_text() -> None:
    batch = decode([b'{"o": {"x": 1}, "l": [1, 2]}'], None)
    row = only_row(batch)
    assert row["o"] == '{"x":1}'
    assert row["l"] == "[1,2]"


def test_infer_expected_field_absent() -> None:
    batch = decode([b'{"id": 1}'], None, expected=["id", "referrer"])
    row = only_row(batch)
    assert row["referrer"] is None
    assert row["id"] == 1


def test_infer_expected_field_present() -> None:
    batch = decode([b'{"id": 1, "referrer": "home"}'], None, expected=["id", "referrer"])
    assert only_row(batch)["referrer"] == "home"


def test_infer_expected_matches_case() -> None:
    batch = decode([b'{"Referrer": "home"}'], None, expected=["referrer"])
    assert batch.rows.column_names.count("Referrer") == 1
    assert "referrer" not in batch.rows.column_names


def test_infer_no_object_in_batch() -> None:
    batch = decode([b"nope", None], None)
    assert batch.rows.num_rows == 0
    assert batch.failures.column("error_type").to_pylist() == ["invalid_json", "tombstone"]


def test_infer_still_rejects_bad_json() -> None:
    batch = decode([b'{"id": 1}', b"{broken"], None)
    assert batch.rows.num_rows == 1
    assert batch.failures.column("error_type").to_pylist() == ["invalid_json"]


# --- output columns --------------------------------------------------------------------------


def test_columns_from_arrow_types() -> None:
    schema = pa.schema(
        [("n", pa.int32()), ("x", pa.float64()), ("d", pa.decimal128(10, 2)),
         ("t", pa.timestamp("us")), ("s", pa.string()), (ROW_ID_COLUMN, pa.int64())]
    )
    columns = {column.name: column.duckdb_type for column in columns_from_arrow(schema)}
    assert columns == {"n": "BIGINT", "x": "DOUBLE", "d": "DECIMAL(10,2)", "t": "TIMESTAMP", "s": "VARCHAR"}

"""Record and schema assertions over a statement's output: `record_count`, `schema_contains`
and `no_nulls`."""

from __future__ import annotations

from velo_tui.engine.assertions.base import (
    COUNT_KEYS,
    AssertionContext,
    AssertionResult,
    check_string,
    check_string_list,
    evaluate_count,
    missing_fields_result,
    param_error,
    query_one,
    quote_ident,
    require,
    resolve_fields,
    string_list,
    validate_count_checks,
)
from velo_tui.engine.assertions.registry import register
from velo_tui.engine.errors import SourceLocation
from velo_tui.engine.spec_model import AssertionSpec


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# --- record_count --------------------------------------------------------------------------


def _validate_record_count(spec: AssertionSpec, location: SourceLocation | None) -> None:
    validate_count_checks(spec, location)


@register(
    "record_count",
    set(COUNT_KEYS),
    _validate_record_count,
    ignored_keys={
        "expression": "templated count expressions are not supported; use equals, "
        "greater_than, less_than, between, min or max",
    },
)
def record_count(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check the number of records the statement wrote to its sink."""
    what = f"The statement produced {_plural(ctx.records_out, 'output record')}"
    return evaluate_count(spec, ctx.records_out, what)


# --- schema_contains -----------------------------------------------------------------------


def _validate_schema_contains(spec: AssertionSpec, location: SourceLocation | None) -> None:
    require(spec, location, "fields")
    check_string_list(spec, location, "fields", allow_single=True)
    if not string_list(spec.params["fields"]):
        raise param_error(spec, location, "'fields' is empty; list at least one field name")
    check_string(spec, location, "key_field")


@register("schema_contains", {"fields", "key_field"}, _validate_schema_contains)
def schema_contains(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check that the output has every listed field; fails when there is no output record.

    With `key_field`, that field must be an output field too and at least one output record
    must carry a non-empty key.
    """
    wanted = string_list(spec.params["fields"])
    key_field = spec.params.get("key_field")
    if key_field:
        wanted = wanted + [key_field] if key_field not in wanted else wanted

    (total,) = query_one(ctx, "SELECT count(*) FROM {rel}")
    if total == 0:
        return AssertionResult(
            type=spec.type,
            passed=False,
            message="The statement produced no output records, so its schema cannot be checked.",
            expected=wanted,
            actual=[],
        )

    _, missing = resolve_fields(ctx, wanted)
    if missing:
        return missing_fields_result(spec, ctx, missing)

    if key_field:
        (keyed,) = query_one(
            ctx,
            "SELECT count(*) FROM {rel} "
            "WHERE _key IS NOT NULL AND length(CAST(_key AS VARCHAR)) > 0",
        )
        if keyed == 0:
            return AssertionResult(
                type=spec.type,
                passed=False,
                message=(
                    f"None of the {total} output records carries a non-empty key, "
                    f"although key_field is {key_field}."
                ),
                expected=wanted,
                actual=list(ctx.fields),
            )

    return AssertionResult(
        type=spec.type,
        passed=True,
        message=f"The output has the {len(wanted)} expected fields: {', '.join(wanted)}.",
        expected=wanted,
        actual=list(ctx.fields),
    )


# --- no_nulls ------------------------------------------------------------------------------


def _validate_no_nulls(spec: AssertionSpec, location: SourceLocation | None) -> None:
    check_string_list(spec, location, "fields", allow_single=True)


@register("no_nulls", {"fields"}, _validate_no_nulls)
def no_nulls(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check that no output record has NULL in the listed fields (all output fields if none)."""
    names = string_list(spec.params.get("fields")) or list(ctx.fields)
    fields, missing = resolve_fields(ctx, names)
    if missing:
        return missing_fields_result(spec, ctx, missing)
    if not fields:
        return AssertionResult(
            type=spec.type,
            passed=True,
            message="The output has no fields, so there is nothing to check for NULL.",
        )

    counts = ", ".join(
        f"count(*) FILTER (WHERE {quote_ident(name)} IS NULL)" for name in fields
    )
    row = query_one(ctx, f"SELECT count(*), {counts} FROM {{rel}}")
    total, null_counts = row[0], row[1:]
    nulls = {name: count for name, count in zip(fields, null_counts) if count}

    if not nulls:
        return AssertionResult(
            type=spec.type,
            passed=True,
            message=(
                f"None of the {total} output records has NULL in "
                f"{', '.join(fields)}."
            ),
            expected={name: 0 for name in fields},
            actual={name: 0 for name in fields},
        )
    details = "; ".join(f"{name} in {count} of {total}" for name, count in nulls.items())
    return AssertionResult(
        type=spec.type,
        passed=False,
        message=f"NULL values found: {details} records.",
        expected={name: 0 for name in fields},
        actual={name: int(count) for name, count in zip(fields, null_counts)},
    )

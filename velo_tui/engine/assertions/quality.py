"""Data-quality assertions over a statement's output: `no_duplicates` and `data_quality`."""

from __future__ import annotations

from typing import Any

from velo_tui.engine.assertions.base import (
    AssertionContext,
    AssertionResult,
    check_bool,
    check_number,
    check_regex,
    check_string_list,
    format_number,
    format_values,
    is_number,
    missing_fields_result,
    param_error,
    query_one,
    quote_ident,
    require,
    resolve_fields,
    string_list,
)
from velo_tui.engine.assertions.registry import register
from velo_tui.engine.errors import SourceLocation
from velo_tui.engine.spec_model import AssertionSpec

#: Number of duplicated keys or violations a failure message lists.
SAMPLE_SIZE = 3
MAX_LISTED_VIOLATIONS = 10


# --- no_duplicates -------------------------------------------------------------------------


def _validate_no_duplicates(spec: AssertionSpec, location: SourceLocation | None) -> None:
    require(spec, location, "key_fields")
    check_string_list(spec, location, "key_fields", allow_single=True)
    if not string_list(spec.params["key_fields"]):
        raise param_error(spec, location, "'key_fields' is empty; list at least one field")
    check_number(spec, location, "max_duplicate_percent", low=0, high=100)
    check_bool(spec, location, "allow_updates")


@register(
    "no_duplicates",
    {"key_fields", "max_duplicate_percent", "allow_updates"},
    _validate_no_duplicates,
)
def no_duplicates(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check that no two output records share the same values of `key_fields`.

    A duplicate is every record beyond the first with a given key (NULL counts as a value).
    With `max_duplicate_percent`, up to that share of duplicates passes; with
    `allow_updates: true`, repeated keys are updates of one key and never fail.
    """
    fields, missing = resolve_fields(ctx, string_list(spec.params["key_fields"]))
    if missing:
        return missing_fields_result(spec, ctx, missing)
    key_list = ", ".join(quote_ident(name) for name in fields)
    key_text = ", ".join(fields)

    total, distinct = query_one(
        ctx,
        f"SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT {key_list} FROM {{rel}})) "
        f"FROM {{rel}}",
    )
    duplicates = total - distinct
    percent = duplicates / total * 100 if total else 0.0
    max_percent = spec.params.get("max_duplicate_percent")
    allow_updates = bool(spec.params.get("allow_updates", False))
    expected: dict[str, Any] = {"key_fields": fields}
    if max_percent is not None:
        expected["max_duplicate_percent"] = max_percent
    actual = {"records": total, "duplicates": duplicates, "duplicate_percent": percent}

    if allow_updates:
        return AssertionResult(
            type=spec.type,
            passed=True,
            message=(
                f"{duplicates} of {total} output records repeat a key ({key_text}); "
                "allow_updates is true, so repeats count as updates."
            ),
            expected=expected,
            actual=actual,
        )

    limit = float(max_percent) if max_percent is not None else 0.0
    passed = percent <= limit if max_percent is not None else duplicates == 0
    share = f"{duplicates} of {total} output records ({format_number(percent)} %)"
    if passed:
        bound = f"at most {format_number(limit)} % allowed" if max_percent is not None else "none allowed"
        message = f"{share} repeat a key ({key_text}); {bound}."
        return AssertionResult(
            type=spec.type, passed=True, message=message, expected=expected, actual=actual
        )

    rows = ctx.con.execute(
        f"SELECT {key_list}, count(*) AS copies FROM {ctx.relation} GROUP BY ALL "
        f"HAVING count(*) > 1 ORDER BY copies DESC LIMIT {SAMPLE_SIZE}"
    ).fetchall()
    examples = "; ".join(
        f"({format_values(list(row[:-1]))}) {row[-1]} times" for row in rows
    )
    bound = f"at most {format_number(limit)} %" if max_percent is not None else "none"
    actual["examples"] = [list(row) for row in rows]
    return AssertionResult(
        type=spec.type,
        passed=False,
        message=f"{share} repeat a key ({key_text}), but expected {bound}; for example {examples}.",
        expected=expected,
        actual=actual,
    )


# --- data_quality --------------------------------------------------------------------------


def _validate_rules(
    spec: AssertionSpec, location: SourceLocation | None, key: str, required: tuple[str, ...]
) -> None:
    rules = spec.params.get(key)
    if rules is None:
        return
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise param_error(spec, location, f"'{key}' must be a list of mappings")
    for rule in rules:
        for name in required:
            if name not in rule:
                raise param_error(spec, location, f"every '{key}' entry needs '{name}'")
        if not isinstance(rule["field"], str):
            raise param_error(spec, location, f"'{key}' field must be a string")


def _validate_data_quality(spec: AssertionSpec, location: SourceLocation | None) -> None:
    check_string_list(spec, location, "no_nulls_in", allow_single=True)
    check_string_list(spec, location, "no_empty_strings_in", allow_single=True)
    _validate_rules(spec, location, "numeric_ranges", ("field",))
    for rule in spec.params.get("numeric_ranges") or []:
        if "min" not in rule and "max" not in rule:
            raise param_error(spec, location, "every 'numeric_ranges' entry needs min or max")
        for bound in ("min", "max"):
            if bound in rule and not is_number(rule[bound]):
                raise param_error(
                    spec, location, f"numeric_ranges {bound} must be a number, got {rule[bound]!r}"
                )
    _validate_rules(spec, location, "string_patterns", ("field", "pattern"))
    for rule in spec.params.get("string_patterns") or []:
        check_regex(spec, location, rule["pattern"], "string_patterns pattern")


@register(
    "data_quality",
    {"no_nulls_in", "no_empty_strings_in", "numeric_ranges", "string_patterns"},
    _validate_data_quality,
    nested_keys={
        "numeric_ranges": frozenset({"field", "min", "max"}),
        "string_patterns": frozenset({"field", "pattern"}),
    },
    ignored_keys={
        "referential_integrity": "referential integrity checks are not supported",
        "min_quality_score": "a quality score is not computed",
    },
)
def data_quality(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check NULLs, empty strings, numeric ranges and regular-expression patterns in one pass.

    A pattern matches anywhere in the value's text unless it is anchored with ^ and $. A value
    that is not a number is outside every numeric range.
    """
    null_fields = string_list(spec.params.get("no_nulls_in"))
    empty_fields = string_list(spec.params.get("no_empty_strings_in"))
    ranges = spec.params.get("numeric_ranges") or []
    patterns = spec.params.get("string_patterns") or []

    referenced = null_fields + empty_fields + [r["field"] for r in ranges] + [
        p["field"] for p in patterns
    ]
    resolved, missing = resolve_fields(ctx, referenced)
    if missing:
        return missing_fields_result(spec, ctx, missing)
    name_of = dict(zip(referenced, resolved))

    # One (description, SQL condition) pair per rule; all counted in a single query.
    checks: list[tuple[str, str]] = []
    params: dict[str, Any] = {}
    for field in null_fields:
        checks.append((f"{name_of[field]} is NULL", f"{quote_ident(name_of[field])} IS NULL"))
    for field in empty_fields:
        column = quote_ident(name_of[field])
        checks.append((f"{name_of[field]} is empty", f"CAST({column} AS VARCHAR) = ''"))
    for index, rule in enumerate(ranges):
        column = quote_ident(name_of[rule["field"]])
        number = f"TRY_CAST({column} AS DOUBLE)"
        outside = [f"{number} IS NULL"]
        bounds = []
        if "min" in rule:
            params[f"min{index}"] = float(rule["min"])
            outside.append(f"{number} < $min{index}")
            bounds.append(f">= {format_number(rule['min'])}")
        if "max" in rule:
            params[f"max{index}"] = float(rule["max"])
            outside.append(f"{number} > $max{index}")
            bounds.append(f"<= {format_number(rule['max'])}")
        checks.append(
            (
                f"{name_of[rule['field']]} is not a number {' and '.join(bounds)}",
                f"{column} IS NOT NULL AND ({' OR '.join(outside)})",
            )
        )
    for index, rule in enumerate(patterns):
        column = quote_ident(name_of[rule["field"]])
        params[f"pattern{index}"] = rule["pattern"]
        checks.append(
            (
                f"{name_of[rule['field']]} does not match {rule['pattern']!r}",
                f"{column} IS NOT NULL AND NOT regexp_matches(CAST({column} AS VARCHAR), "
                f"$pattern{index})",
            )
        )

    if not checks:
        return AssertionResult(
            type=spec.type,
            passed=True,
            message="No data-quality rule was given, so nothing was constrained.",
        )

    counts = ", ".join(f"count(*) FILTER (WHERE {condition})" for _, condition in checks)
    row = query_one(ctx, f"SELECT count(*), {counts} FROM {{rel}}", params)
    total, violation_counts = row[0], row[1:]
    violations = {
        description: int(count)
        for (description, _), count in zip(checks, violation_counts)
        if count
    }
    expected = {key: spec.params[key] for key in spec.params if key != "description"}
    if not violations:
        return AssertionResult(
            type=spec.type,
            passed=True,
            message=f"All {total} output records pass {len(checks)} data-quality rules.",
            expected=expected,
            actual={"records": total, "violations": {}},
        )
    listed = list(violations.items())[:MAX_LISTED_VIOLATIONS]
    details = "; ".join(f"{description} in {count} records" for description, count in listed)
    more = len(violations) - len(listed)
    suffix = f"; and {more} more rules failed" if more > 0 else ""
    return AssertionResult(
        type=spec.type,
        passed=False,
        message=(
            f"{len(violations)} of {len(checks)} data-quality rules failed over {total} "
            f"output records: {details}{suffix}."
        ),
        expected=expected,
        actual={"records": total, "violations": violations},
    )

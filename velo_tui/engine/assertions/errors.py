"""DLQ assertions on a statement's failed records: `dlq_count` and `error_rate`.

Both count every failed record of the statement, the DLQ entries kept plus those dropped past
`dlq_max_size`, so a full DLQ never hides failures.
"""

from __future__ import annotations

from typing import Any

from velo_tui.engine.assertions.base import (
    COUNT_KEYS,
    AssertionContext,
    AssertionResult,
    check_number,
    check_string_list,
    evaluate_count,
    format_number,
    param_error,
    string_list,
    validate_count_checks,
)
from velo_tui.engine.assertions.registry import register
from velo_tui.engine.errors import SourceLocation
from velo_tui.engine.spec_model import AssertionSpec


def _validate_filters(spec: AssertionSpec, location: SourceLocation | None) -> None:
    check_string_list(spec, location, "error_types", allow_single=True)
    check_string_list(spec, location, "stage", allow_single=True)
    if "error_types" in spec.params and "stage" in spec.params:
        raise param_error(
            spec,
            location,
            "'error_types' and 'stage' cannot be combined, because failures are counted by "
            "error type and by stage separately; use one of them",
        )


def _failed_records(spec: AssertionSpec, ctx: AssertionContext) -> tuple[int, str]:
    """Return the failed-record count the assertion's filter selects, and its description."""
    if "error_types" in spec.params:
        types = string_list(spec.params["error_types"])
        count = sum(ctx.dlq_by_error_type.get(name, 0) for name in types)
        return count, f"with error type {' or '.join(types)}"
    if "stage" in spec.params:
        stages = string_list(spec.params["stage"])
        count = sum(ctx.dlq_by_stage.get(name, 0) for name in stages)
        return count, f"failed at stage {' or '.join(stages)}"
    assert ctx.errors is not None, "set by AssertionContext.__post_init__"
    return ctx.errors, ""


# --- dlq_count -----------------------------------------------------------------------------


def _validate_dlq_count(spec: AssertionSpec, location: SourceLocation | None) -> None:
    validate_count_checks(spec, location)
    _validate_filters(spec, location)


@register(
    "dlq_count",
    set(COUNT_KEYS) | {"error_types", "stage"},
    _validate_dlq_count,
    ignored_keys={"topic": "DLQ entries are counted per statement, whatever their topic"},
)
def dlq_count(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check the number of the statement's failed records (DLQ entries kept plus dropped).

    `error_types` or `stage` restrict the count to the DLQ entries of those error types or
    failure stages.
    """
    count, selection = _failed_records(spec, ctx)
    noun = "failed record" if count == 1 else "failed records"
    what = f"The statement had {count} {noun}"
    if selection:
        what += f" {selection}"
    if ctx.dlq_dropped and not selection:
        what += f" ({ctx.dlq} kept in the DLQ, {ctx.dlq_dropped} dropped past its size limit)"
    return evaluate_count(spec, count, what)


# --- error_rate ----------------------------------------------------------------------------


def _validate_error_rate(spec: AssertionSpec, location: SourceLocation | None) -> None:
    check_number(spec, location, "max_rate", low=0, high=1)
    check_number(spec, location, "max_percent", low=0, high=100)
    check_number(spec, location, "min_records", low=0)
    _validate_filters(spec, location)


@register(
    "error_rate",
    {"max_rate", "max_percent", "min_records", "error_types", "stage"},
    _validate_error_rate,
)
def error_rate(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check failed records as a share of input records against `max_rate` and `max_percent`.

    With `min_records`, a statement that read fewer input records passes as skipped.
    """
    errors, selection = _failed_records(spec, ctx)
    rate = errors / ctx.records_in if ctx.records_in else 0.0
    expected: dict[str, Any] = {
        key: spec.params[key] for key in ("max_rate", "max_percent") if key in spec.params
    }
    actual = {"errors": errors, "records_in": ctx.records_in, "rate": rate}
    failures = f"{errors} failed records {selection}".rstrip()
    what = (
        f"{failures} out of {ctx.records_in} input records, an error rate of "
        f"{format_number(rate * 100)} %"
    )

    min_records = spec.params.get("min_records")
    if min_records is not None and ctx.records_in < min_records:
        return AssertionResult(
            type=spec.type,
            passed=True,
            message=(
                f"Skipped: the statement read {ctx.records_in} input records, fewer than "
                f"min_records {format_number(min_records)}."
            ),
            expected=expected,
            actual=actual,
        )
    if not expected:
        return AssertionResult(
            type=spec.type,
            passed=True,
            message=f"{what}; no limit was given, so nothing was constrained.",
            actual=actual,
        )

    failed = []
    if "max_rate" in expected and rate > expected["max_rate"]:
        failed.append(f"a rate of at most {format_number(expected['max_rate'])}")
    if "max_percent" in expected and rate * 100 > expected["max_percent"]:
        failed.append(f"at most {format_number(expected['max_percent'])} %")
    if failed:
        message = f"{what}, but expected {' and '.join(failed)}."
    else:
        limits = " and ".join(
            f"max_rate {format_number(v)}" if k == "max_rate" else f"max_percent {format_number(v)}"
            for k, v in expected.items()
        )
        message = f"{what}, within {limits}."
    return AssertionResult(
        type=spec.type, passed=not failed, message=message, expected=expected, actual=actual
    )

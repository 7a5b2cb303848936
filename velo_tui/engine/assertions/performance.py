"""Performance assertions on a statement's run: `throughput` and `execution_time`."""

from __future__ import annotations

import math
from typing import Any

from velo_tui.engine.assertions.base import (
    COUNT_KEYS,
    AssertionContext,
    AssertionResult,
    check_number,
    count_checks,
    evaluate_count,
    format_number,
    validate_count_checks,
)
from velo_tui.engine.assertions.registry import register
from velo_tui.engine.errors import SourceLocation
from velo_tui.engine.spec_model import AssertionSpec

#: Default allowed deviation from `expected_records_per_second`, in percent.
DEFAULT_TOLERANCE_PERCENT = 20.0


# --- throughput ----------------------------------------------------------------------------


def _validate_throughput(spec: AssertionSpec, location: SourceLocation | None) -> None:
    validate_count_checks(spec, location)
    for key in ("min_records_per_second", "max_records_per_second", "expected_records_per_second"):
        check_number(spec, location, key, low=0)
    check_number(spec, location, "tolerance_percent", low=0)


def _throughput_checks(params: dict[str, Any]) -> dict[str, Any]:
    checks = count_checks(params)
    if "min_records_per_second" in params:
        checks["min"] = max(checks.get("min", -math.inf), params["min_records_per_second"])
    if "max_records_per_second" in params:
        checks["max"] = min(checks.get("max", math.inf), params["max_records_per_second"])
    if "expected_records_per_second" in params:
        target = float(params["expected_records_per_second"])
        tolerance = float(params.get("tolerance_percent", DEFAULT_TOLERANCE_PERCENT)) / 100
        # `between` from count_checks and this band must both hold, so keep the narrower one.
        low, high = target * (1 - tolerance), target * (1 + tolerance)
        if "between" in checks:
            low, high = max(low, checks["between"][0]), min(high, checks["between"][1])
        checks["between"] = [low, high]
    return checks


@register(
    "throughput",
    set(COUNT_KEYS)
    | {
        "min_records_per_second",
        "max_records_per_second",
        "expected_records_per_second",
        "tolerance_percent",
    },
    _validate_throughput,
)
def throughput(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check input records per second of the statement (records_in / duration_s).

    A zero duration gives an infinite rate when there was input, else zero.
    """
    if ctx.duration_s > 0:
        rate = ctx.records_in / ctx.duration_s
    else:
        rate = math.inf if ctx.records_in else 0.0
    what = (
        f"The statement processed {ctx.records_in} input records in "
        f"{format_number(ctx.duration_s)} s, {format_number(rate)} records per second"
    )
    return evaluate_count(spec, rate, what, _throughput_checks(spec.params))


# --- execution_time ------------------------------------------------------------------------


def _validate_execution_time(spec: AssertionSpec, location: SourceLocation | None) -> None:
    validate_count_checks(spec, location)
    check_number(spec, location, "max_ms", low=0)
    check_number(spec, location, "min_ms", low=0)


@register("execution_time", set(COUNT_KEYS) | {"max_ms", "min_ms"}, _validate_execution_time)
def execution_time(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check the statement's run time in milliseconds against `max_ms` and `min_ms`."""
    checks = count_checks(spec.params)
    if "min_ms" in spec.params:
        checks["min"] = max(checks.get("min", -math.inf), spec.params["min_ms"])
    if "max_ms" in spec.params:
        checks["max"] = min(checks.get("max", math.inf), spec.params["max_ms"])
    elapsed_ms = ctx.duration_s * 1000
    what = f"The statement ran for {format_number(elapsed_ms)} ms"
    return evaluate_count(spec, elapsed_ms, what, checks)

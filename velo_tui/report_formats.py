"""Render a run report as text, JSON or JUnit XML."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import quoteattr

FORMATS = ("text", "json", "junit")


def render(report: dict[str, Any], output_format: str) -> str:
    if output_format == "json":
        return json.dumps(report, indent=2, default=str) + "\n"
    if output_format == "junit":
        return render_junit(report)
    return render_text(report)


def format_for_path(path: str, default: str) -> str:
    """Pick a report format from a file suffix (.json, .xml), else `default`."""
    lowered = path.lower()
    if lowered.endswith(".json"):
        return "json"
    if lowered.endswith(".xml"):
        return "junit"
    if lowered.endswith((".txt", ".log")):
        return "text"
    return default


def render_text(report: dict[str, Any]) -> str:
    lines = [
        f"velo-tui report: {report['application']} ({report['sql_file']})",
        f"seed {report['seed']} · {report.get('broker', '')} · {report['duration_s']:.2f} s",
        "",
        "statements:",
    ]
    for s in report["statements"]:
        balance = "" if s.get("accounting_ok", True) else "  ACCOUNTING MISMATCH"
        lines.append(
            f"  {s['status']:<8} {s['name']}: {s['records_in']} in, {s['records_out']} out, "
            f"{s['filtered']} filtered, {s['dlq']} DLQ, {s.get('dlq_dropped', 0)} dropped, "
            f"{s['duration_s']:.3f} s{balance}"
        )
        if s.get("error"):
            lines.append(f"           error: {s['error']}")
    if report["queries"]:
        lines += ["", "assertions:"]
    status = {s["name"]: s["status"] for s in report["statements"]}
    for query in report["queries"]:
        mark = "PASS" if query["passed"] else "FAIL"
        lines.append(f"  {mark} {query['name']}")
        outcome = {"not_run": "did not run", "failed": "failed"}.get(status.get(query["name"], "ok"))
        if outcome:
            lines.append(f"    the statement {outcome}, so its assertions were not checked")
        for assertion in query["assertions"]:
            sign = "ok  " if assertion["passed"] else "FAIL"
            lines.append(f"    {sign} {assertion['type']}: {assertion['message']}")
    dlq = report["dlq"]
    lines += ["", f"DLQ: {dlq['count']} entries, {dlq['dropped']} dropped (topic {dlq['topic']})"]
    if dlq["by_stage"]:
        lines.append("  by stage: " + _pairs(dlq["by_stage"]))
        lines.append("  by error type: " + _pairs(dlq["by_error_type"]))
    faults = report["faults"]
    if faults["injected"]:
        lines.append(
            f"faults: {faults['injected_total']} injected ({_pairs(faults['injected'])}), "
            f"{faults['caught_in_dlq']} caught in the DLQ"
        )
    lines += closing_lines(report)
    return "\n".join(lines) + "\n"


def closing_lines(report: dict[str, Any], scope: str = "") -> list[str]:
    """Return the accounting line, warnings, note and verdict that end a text report."""
    accounting = report["accounting"]
    lines = [
        "accounting: " + ("holds" if accounting["holds"] else "DOES NOT HOLD")
        + f"{scope} ({accounting['rule']})"
    ]
    lines += [f"warning: {warning}" for warning in report.get("warnings", [])]
    if report.get("note"):
        lines.append(f"note: {report['note']}")
    lines += ["", "PASSED" if report["passed"] else "FAILED"]
    return lines


def _pairs(mapping: dict[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(mapping.items()))


def render_junit(report: dict[str, Any]) -> str:
    cases = []
    failures = 0
    errors = 0
    for statement in report["statements"]:
        query = next((q for q in report["queries"] if q["name"] == statement["name"]), None)
        body = []
        if statement["status"] == "failed":
            errors += 1
            body.append(f"<error message={quoteattr(statement.get('error') or 'failed')}/>")
        elif statement["status"] == "not_run":
            body.append("<skipped/>")
        elif not statement.get("accounting_ok", True):
            failures += 1
            body.append('<failure type="accounting" message="records_in does not balance"/>')
        for assertion in (query or {}).get("assertions", []):
            if not assertion["passed"]:
                failures += 1
                body.append(
                    f"<failure type={quoteattr(assertion['type'])} "
                    f"message={quoteattr(assertion['message'])}/>"
                )
        cases.append(
            f'    <testcase name={quoteattr(statement["name"])} '
            f'classname={quoteattr(report["application"])} time="{statement["duration_s"]:.3f}">'
            + "".join(body)
            + "</testcase>"
        )
    total = len(report["statements"])
    header = (
        f'<testsuite name={quoteattr(report["application"])} tests="{total}" '
        f'failures="{failures}" errors="{errors}" time="{report["duration_s"]:.3f}">'
    )
    return "\n".join(
        ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>", "  " + header, *cases,
         "  </testsuite>", "</testsuites>"]
    ) + "\n"

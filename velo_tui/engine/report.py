"""Build the run report: the JSON document whose keys scripts and CI rely on."""

from __future__ import annotations

import time
from typing import Any

from velo_tui.engine.session import NOT_RUN, OK, Session, StatementState

#: How many DLQ entries the report lists in full; the counts always cover all of them.
REPORT_DLQ_ENTRIES = 100


def statement_report(state: StatementState) -> dict[str, Any]:
    stats = state.stats
    return {
        "name": state.name,
        "status": state.status if state.status in (OK, "failed") else NOT_RUN,
        "records_in": stats.records_in,
        "records_out": stats.records_out,
        "filtered": stats.filtered,
        "dlq": stats.dlq,
        "dlq_dropped": stats.dlq_dropped,
        "duration_s": round(stats.duration_s, 6),
        "error": state.error if state.status != NOT_RUN or state.error == "cancelled" else None,
        "source_topic": state.statement.source.topic,
        "sink_topic": state.statement.sink.topic,
        "batches": stats.batches,
        "accounting_ok": stats.balanced,
    }


def build_report(session: Session, *, complete: bool = True, note: str | None = None) -> dict[str, Any]:
    """Return the report of everything the session has run so far.

    `complete` is False for a partial report (timeout, interruption, lost broker); such a report
    never passes.
    """
    statements = [statement_report(state) for state in session.states]
    queries = []
    for state in session.states:
        query = session.spec_query(state.name)
        if query is None:
            continue
        assertions = [
            {
                "type": result.type,
                "passed": result.passed,
                "message": result.message,
                "expected": result.expected,
                "actual": result.actual,
            }
            for result in state.assertions
        ]
        ran = state.status == OK
        queries.append({
            "name": query.name,
            "passed": ran and all(a["passed"] for a in assertions),
            "assertions": assertions,
        })

    accounting_ok = all(s["accounting_ok"] for s in statements)
    all_ran = all(s["status"] == OK for s in statements)
    passed = complete and all_ran and accounting_ok and all(q["passed"] for q in queries)

    dlq = session.dlq
    ledger = getattr(session.fault_plan, "ledger", None) if session.fault_plan else None
    injected = dict(ledger.counts()) if ledger is not None else {}
    entries = dlq.snapshot()
    report: dict[str, Any] = {
        "application": session.pipeline.application,
        "sql_file": str(session.sql_path),
        "spec_file": str(session.spec.path) if session.spec else None,
        "seed": session.seed,
        "passed": passed,
        "complete": complete,
        "duration_s": round(time.time() - session.started_at, 6),
        "broker": session.broker.description,
        "statements": statements,
        "queries": queries,
        "accounting": {
            "rule": "records_in == records_out + filtered + dlq + dlq_dropped",
            "holds": accounting_ok,
        },
        "dlq": {
            "count": dlq.count,
            "dropped": dlq.dropped,
            "max_size": dlq.max_size,
            "topic": session.dlq_topic,
            "by_stage": dict(dlq.by_stage),
            "by_error_type": dict(dlq.by_error_type),
            "by_fault": dict(dlq.by_fault),
            "entries": [entry.to_json() for entry in entries[:REPORT_DLQ_ENTRIES]],
        },
        "faults": {
            "injected": injected,
            "injected_total": sum(injected.values()),
            # Injected records that failed, stored or counted as dropped.
            "caught_in_dlq": sum(dlq.by_fault.values()),
        },
        "warnings": list(session.warnings),
    }
    if note:
        report["note"] = note
    return report


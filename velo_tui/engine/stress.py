"""Stress-mode figures: micro-batch latency percentiles, peak RSS and throughput of a session run.

`RssSampler` samples the process's resident set size in a background thread while the load
runs. `RunClock` uses the session's progress events to time input production apart from
statement processing. `stress_figures` turns a finished session into the report's `stress`
object.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psutil

from velo_tui.engine.session import OK, Session, SessionEvent

log = logging.getLogger(__name__)

#: Seconds between two RSS samples; a peak shorter than this can be missed.
RSS_SAMPLE_INTERVAL_S = 0.02

#: Megabyte as the report counts it: 10**6 bytes.
MB = 1_000_000


@dataclass
class StressSettings:
    """The load of one stress run and where each value came from."""

    records: int
    records_from: str  # "--records", "stress_test.records" or "default"
    rate_per_second: float | None  # None: unpaced
    rate_from: str  # "--rate", "stress_test.rate_per_second" or "unpaced"
    duration_s: float | None  # None: no limit on input production
    duration_from: str  # "--duration", "stress_test.duration_seconds" or "none"
    faults: bool
    batch_size: int | None  # None: each statement's own (1000 unless its SQL sets job.batch_size)

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "records_from": self.records_from,
            "rate_per_second": self.rate_per_second,
            "rate_from": self.rate_from,
            "duration_s": self.duration_s,
            "duration_from": self.duration_from,
            "faults": self.faults,
            "batch_size": self.batch_size,
        }


def latency_summary(latencies_s: Sequence[float]) -> dict[str, Any]:
    """Return p50, p95, p99 and max of micro-batch latencies in milliseconds, with the count.

    Percentiles interpolate linearly between the two nearest batches (numpy's default), so
    p50 <= p95 <= p99 <= max always holds. Without any batch the figures are null.
    """
    if len(latencies_s) == 0:
        return {"batches": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    values = np.asarray(latencies_s, dtype=np.float64) * 1000.0
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "batches": int(values.size),
        "p50_ms": round(float(p50), 3),
        "p95_ms": round(float(p95), 3),
        "p99_ms": round(float(p99), 3),
        "max_ms": round(float(values.max()), 3),
    }


class RssSampler:
    """Samples this process's resident set size in a background thread and keeps the peak."""

    def __init__(self, interval_s: float = RSS_SAMPLE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._process = psutil.Process()
        self.start_bytes = 0
        self.peak_bytes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> int:
        """Take one sample now and return it in bytes."""
        rss = self._process.memory_info().rss
        self.peak_bytes = max(self.peak_bytes, rss)
        self.samples += 1
        return rss

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.start_bytes = self.sample()
        self._thread = threading.Thread(target=self._loop, name="velo-rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()


@dataclass
class RunClock:
    """Times a session run from its progress events: input production apart from processing."""

    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    cpu_started: float = field(default_factory=time.process_time)
    cpu_finished: float | None = None
    statement_started: dict[str, float] = field(default_factory=dict)
    last_input: dict[str, float] = field(default_factory=dict)
    #: Per statement: (produced, planned) at its last input event.
    last_input_counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    def restart(self) -> None:
        """Start timing now."""
        self.started = time.perf_counter()
        self.finished = None
        self.cpu_started = time.process_time()
        self.cpu_finished = None

    def on_event(self, event: SessionEvent) -> None:
        now = time.perf_counter()
        if event.kind == "statement_started":
            self.statement_started[event.statement] = now
        elif event.kind == "input":
            self.last_input[event.statement] = now
            self.last_input_counts[event.statement] = (event.done, event.total)

    def stop(self) -> None:
        self.finished = time.perf_counter()
        self.cpu_finished = time.process_time()

    @property
    def cpu_s(self) -> float:
        """CPU seconds this process used in all its threads since the start."""
        end = self.cpu_finished if self.cpu_finished is not None else time.process_time()
        return end - self.cpu_started

    @property
    def production_stopped(self) -> bool:
        """True when some input ended before all its planned records were produced."""
        return any(produced < planned for produced, planned in self.last_input_counts.values())

    @property
    def total_s(self) -> float:
        end = self.finished if self.finished is not None else time.perf_counter()
        return end - self.started

    @property
    def input_production_s(self) -> float:
        """Seconds from each statement's start to its last produced input chunk, summed.

        Input production is the first thing a statement does, so this is the time spent
        generating, faulting, pacing and producing input records.
        """
        return sum(
            self.last_input[name] - self.statement_started[name]
            for name in self.last_input
            if name in self.statement_started
        )


def _per_second(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None


def stress_figures(
    session: Session,
    settings: StressSettings,
    clock: RunClock,
    sampler: RssSampler,
    *,
    production_stopped: bool = False,
) -> dict[str, Any]:
    """Return the report's `stress` object for a session that has run (fully or partly)."""
    pipeline = session.pipeline
    consumed = {state.statement.source.topic for state in session.states}
    statements = []
    input_records = 0
    output_records = 0
    all_latencies: list[float] = []
    for state in session.states:
        stats = state.stats
        statement = state.statement
        if pipeline.producer_of(statement.source.topic) is None:
            input_records += stats.records_in
        if statement.sink.topic not in consumed:
            output_records += stats.records_out
        all_latencies.extend(stats.batch_latencies_s)
        statements.append({
            "name": state.name,
            "status": state.status,
            "records_in": stats.records_in,
            "records_out": stats.records_out,
            "filtered": stats.filtered,
            "dlq": stats.dlq,
            "dlq_dropped": stats.dlq_dropped,
            "duration_s": round(stats.duration_s, 6),
            "batch_size": session.batch_size(statement),
            "records_per_second": _per_second(stats.records_in, stats.duration_s),
            "latency": latency_summary(stats.batch_latencies_s),
            "accounting_ok": stats.balanced,
        })

    total_s = clock.total_s
    input_s = min(clock.input_production_s, total_s)
    stored_bytes = getattr(session.broker, "stored_bytes", None)  # the embedded broker only
    ledger = getattr(session.fault_plan, "ledger", None) if session.fault_plan else None
    injected = dict(ledger.counts()) if ledger is not None else {}
    return {
        "settings": settings.to_json(),
        "input_records": input_records,
        "output_records": output_records,
        "input_production_stopped": production_stopped,
        "total_s": round(total_s, 6),
        "input_production_s": round(input_s, 6),
        "processing_s": round(total_s - input_s, 6),
        # CPU time depends less than wall time on what else the machine runs.
        "cpu_s": round(clock.cpu_s, 3),
        "throughput": {
            "unit": "input records per second",
            "end_to_end_including_input_production": _per_second(input_records, total_s),
            "end_to_end_excluding_input_production": _per_second(input_records, total_s - input_s),
        },
        "statements": statements,
        "latency": latency_summary(all_latencies),
        "memory": {
            "peak_rss_mb": round(sampler.peak_bytes / MB, 1),
            "rss_at_start_mb": round(sampler.start_bytes / MB, 1),
            "sample_interval_s": sampler.interval_s,
            "samples": sampler.samples,
            # Messages held by the embedded broker at the end; null on Kafka.
            "topic_storage_mb": round(stored_bytes() / MB, 1) if stored_bytes else None,
        },
        "dlq": {"count": session.dlq.count, "dropped": session.dlq.dropped},
        "faults": {
            "injected": injected,
            "injected_total": sum(injected.values()),
            "caught_in_dlq": sum(session.dlq.by_fault.values()),
        },
        "accounting_ok": all(s["accounting_ok"] for s in statements),
        "all_statements_ok": all(state.status == OK for state in session.states),
    }

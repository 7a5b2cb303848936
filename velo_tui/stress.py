"""`velo-tui FILE.sql --stress`: push a generated load through the real statements and report
throughput, micro-batch latency, peak RSS, DLQ and fault figures.

The load comes from the command line or the spec's `stress_test` block:
- records: `--records`, else `stress_test.records`, else 100,000 per generated input;
- pacing: `--rate`, else the spec's `stress_test.rate_per_second` when neither `--records` nor
  `--rate` is given, else none. Stress mode ignores the spec's per-input rates, so
  `--records 1000000` alone is produced unpaced instead of at a rate meant for a smaller run;
- duration: `--duration`; the spec's `stress_test.duration_seconds` under the same condition as
  its rate. When it expires, input production ends and the statements run over what was produced.

Stress mode does not evaluate the spec's assertions, which are sized for the spec's own record
counts. Exit code 0 means every statement ran and its accounting holds, 1 that a statement
failed or its accounting does not hold, 2 invalid input, 3 timed out, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from typing import Any

from velo_tui.cli import (
    EXIT_FAILED,
    EXIT_OK,
    session_options,
)
from velo_tui.engine.errors import InputError
from velo_tui.engine.report import build_report
from velo_tui.engine.session import Session, SessionEvent
from velo_tui.engine.stress import RssSampler, RunClock, StressSettings, stress_figures
from velo_tui.progress import StderrProgress
from velo_tui.report_formats import closing_lines, render
from velo_tui.runner import emit_report, run_guarded

log = logging.getLogger(__name__)

#: Records per generated input when neither --records nor the spec's stress_test sets a count.
DEFAULT_STRESS_RECORDS = 100_000


def stress_settings(args: argparse.Namespace, session: Session) -> StressSettings:
    """Decide the load from the options and the spec's `stress_test` block (module docstring)."""
    block = session.spec.stress_test if session.spec is not None else None
    load_on_command_line = args.records is not None or args.rate is not None

    if args.records is not None:
        records, records_from = args.records, "--records"
    elif block is not None and block.records:
        records, records_from = block.records, "stress_test.records"
    else:
        records, records_from = DEFAULT_STRESS_RECORDS, "default"

    if args.rate is not None:
        rate, rate_from = args.rate, "--rate"
    elif not load_on_command_line and block is not None and block.rate_per_second:
        rate, rate_from = float(block.rate_per_second), "stress_test.rate_per_second"
    else:
        rate, rate_from = None, "unpaced"

    if args.duration is not None:
        duration, duration_from = args.duration, "--duration"
    elif not load_on_command_line and block is not None and block.duration_seconds:
        duration, duration_from = float(block.duration_seconds), "stress_test.duration_seconds"
    else:
        duration, duration_from = None, "none"

    return StressSettings(
        records=records, records_from=records_from,
        rate_per_second=rate, rate_from=rate_from,
        duration_s=duration, duration_from=duration_from,
        faults=not args.no_faults, batch_size=args.batch_size,
    )


def _check_options(args: argparse.Namespace) -> None:
    if args.rate is not None and args.rate <= 0:
        raise InputError(f"--rate must be more than 0 records per second, got {args.rate}")
    if args.duration is not None and args.duration <= 0:
        raise InputError(f"--duration must be more than 0 seconds, got {args.duration}")


def run_stress(args: argparse.Namespace) -> int:
    """Run stress mode for the parsed command line and return the exit code."""
    _check_options(args)
    options = session_options(args)
    options.evaluate_assertions = False
    options.input_stop = threading.Event()
    session = Session(args.sql_file, options)
    print(f"velo-tui: seed {session.seed}", file=sys.stderr)
    for warning in session.warnings:
        print(f"velo-tui: warning: {warning}", file=sys.stderr)

    # The session reads these when it plans its inputs, so they may be set after loading it.
    settings = stress_settings(args, session)
    options.records = settings.records
    options.rate_per_second = settings.rate_per_second
    options.unpaced = settings.rate_per_second is None
    print(f"velo-tui: stress load: {describe_load(settings)}", file=sys.stderr)

    timers: list[threading.Timer] = []
    timed_out = threading.Event()
    if args.timeout is not None:
        def expire() -> None:
            timed_out.set()
            session.cancel()

        timers.append(threading.Timer(args.timeout, expire))
    if settings.duration_s is not None:
        timers.append(threading.Timer(settings.duration_s, options.input_stop.set))

    clock = RunClock()
    progress = StderrProgress()

    def on_event(event: SessionEvent) -> None:
        clock.on_event(event)
        progress.update(event)

    def run() -> None:
        with sampler, progress:
            clock.restart()
            for timer in timers:
                timer.daemon = True
                timer.start()
            session.run_all(on_event)

    sampler = RssSampler()
    try:
        code, note = run_guarded(session, run, timed_out, args.timeout)
    finally:
        clock.stop()
        for timer in timers:
            timer.cancel()

    report = build_report(session, complete=code == EXIT_OK, note=note)
    report["stress"] = stress_figures(
        session, settings, clock, sampler, production_stopped=clock.production_stopped
    )
    emit_report(report, args.output, args.report, render_stress)
    session.close()
    if code != EXIT_OK:
        print(f"velo-tui: {note}", file=sys.stderr)
        return code
    return EXIT_OK if report["passed"] else EXIT_FAILED


def describe_load(settings: StressSettings) -> str:
    """Return a one-line description of the load, naming where each value came from."""
    rate = (
        f"{settings.rate_per_second:,.0f} records/s ({settings.rate_from})"
        if settings.rate_per_second is not None else "unpaced"
    )
    duration = (
        f"input for at most {settings.duration_s:g} s ({settings.duration_from})"
        if settings.duration_s is not None else "no duration limit"
    )
    faults = "faults on" if settings.faults else "faults off (--no-faults)"
    return f"{settings.records:,} records per input ({settings.records_from}), {rate}, {duration}, {faults}"


def render_stress(report: dict[str, Any], output_format: str) -> str:
    """Render a stress report: its own text layout, else the run report formats."""
    if output_format == "text":
        return render_stress_text(report)
    return render(report, output_format)


def _number(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _latency(latency: dict[str, Any]) -> str:
    if not latency["batches"]:
        return "no micro-batches"
    return (
        f"p50 {_number(latency['p50_ms'], 2)} ms, p95 {_number(latency['p95_ms'], 2)} ms, "
        f"p99 {_number(latency['p99_ms'], 2)} ms, max {_number(latency['max_ms'], 2)} ms "
        f"over {latency['batches']} micro-batches"
    )


def render_stress_text(report: dict[str, Any]) -> str:
    """Render a stress report (the run report plus its `stress` object) as text."""
    stress = report["stress"]
    settings = stress["settings"]
    throughput = stress["throughput"]
    memory = stress["memory"]
    batch = settings["batch_size"] or "each statement's own"
    lines = [
        f"velo-tui stress: {report['application']} ({report['sql_file']})",
        f"seed {report['seed']} · {report.get('broker', '')} · micro-batch size {batch}",
        "load: " + describe_load(StressSettings(**{
            key: settings[key] for key in (
                "records", "records_from", "rate_per_second", "rate_from", "duration_s",
                "duration_from", "faults", "batch_size",
            )
        })),
        "",
        f"input records:   {stress['input_records']:,}"
        + ("  (input production stopped by the duration limit)" if stress["input_production_stopped"] else ""),
        f"output records:  {stress['output_records']:,}",
        f"time:            {stress['total_s']:.3f} s in total, {stress['input_production_s']:.3f} s "
        f"producing input, {stress['processing_s']:.3f} s processing; {stress['cpu_s']:.3f} s of CPU",
        f"throughput:      {_number(throughput['end_to_end_including_input_production'])} input records/s "
        "end to end, input production included",
        f"                 {_number(throughput['end_to_end_excluding_input_production'])} input records/s "
        "end to end, input production excluded",
        f"latency:         {_latency(stress['latency'])}",
        f"peak RSS:        {memory['peak_rss_mb']:,.1f} MB (sampled every {memory['sample_interval_s']:g} s; "
        f"{memory['rss_at_start_mb']:,.1f} MB at start"
        + (f"; topics hold {memory['topic_storage_mb']:,.1f} MB" if memory.get("topic_storage_mb") is not None else "")
        + ")",
        f"DLQ:             {stress['dlq']['count']:,} entries, {stress['dlq']['dropped']:,} dropped",
    ]
    faults = stress["faults"]
    if faults["injected"]:
        pairs = ", ".join(f"{key} {value:,}" for key, value in sorted(faults["injected"].items()))
        lines.append(
            f"faults:          {faults['injected_total']:,} injected ({pairs}), "
            f"{faults['caught_in_dlq']:,} caught in the DLQ"
        )
    else:
        lines.append("faults:          none injected")

    lines += ["", "statements:"]
    for statement in stress["statements"]:
        balance = "accounting holds" if statement["accounting_ok"] else "ACCOUNTING DOES NOT HOLD"
        lines.append(
            f"  {statement['status']:<8} {statement['name']}: {statement['records_in']:,} in, "
            f"{statement['records_out']:,} out, {statement['filtered']:,} filtered, "
            f"{statement['dlq']:,} DLQ, {statement['dlq_dropped']:,} dropped; "
            f"{statement['duration_s']:.3f} s, {_number(statement['records_per_second'])} records/s"
        )
        lines.append(f"           latency {_latency(statement['latency'])}; {balance}")
    for entry in report["statements"]:
        if entry.get("error"):
            lines.append(f"  error in {entry['name']}: {entry['error']}")

    lines.append("")
    lines += closing_lines(report, " for every statement")
    return "\n".join(lines) + "\n"

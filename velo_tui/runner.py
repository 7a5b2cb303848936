"""`velo-tui FILE.sql --run`: run every statement headless, check assertions, report, exit.

Standard output carries only the report; the seed, warnings and progress go to standard error.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from velo_tui.cli import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TIMEOUT,
    session_options,
)
from velo_tui.engine.errors import BrokerError, Cancelled
from velo_tui.engine.report import build_report
from velo_tui.engine.session import Session
from velo_tui.progress import StderrProgress
from velo_tui.report_formats import format_for_path, render


def run_headless(args: argparse.Namespace) -> int:
    session = Session(args.sql_file, session_options(args))
    print(f"velo-tui: seed {session.seed}", file=sys.stderr)
    for warning in session.warnings:
        print(f"velo-tui: warning: {warning}", file=sys.stderr)

    timed_out = threading.Event()
    timer = None
    if args.timeout is not None:
        def expire() -> None:
            timed_out.set()
            session.cancel()

        timer = threading.Timer(args.timeout, expire)
        timer.daemon = True
        timer.start()

    progress = StderrProgress()

    def run() -> None:
        with progress:
            session.run_all(progress.update)

    try:
        code, note = run_guarded(session, run, timed_out, args.timeout)
    finally:
        if timer is not None:
            timer.cancel()

    report = build_report(session, complete=code == EXIT_OK, note=note)
    emit_report(report, args.output, args.report)
    session.close()
    if code != EXIT_OK:
        print(f"velo-tui: {note}", file=sys.stderr)
        return code
    return EXIT_OK if report["passed"] else EXIT_FAILED


def run_guarded(
    session: Session,
    run: Callable[[], object],
    timed_out: threading.Event,
    timeout_s: float | None,
) -> tuple[int, str | None]:
    """Call `run` and turn a cancel, a timeout, Ctrl-C or a lost broker into an exit code and a
    note for the partial report. Return (EXIT_OK, None) when `run` finishes."""
    try:
        run()
    except Cancelled:
        if timed_out.is_set():
            return EXIT_TIMEOUT, f"timed out after {timeout_s} s"
        return EXIT_INTERRUPTED, "cancelled"
    except KeyboardInterrupt:
        session.cancel()
        return EXIT_INTERRUPTED, "interrupted (Ctrl-C); the report covers what ran before"
    except BrokerError as error:
        return EXIT_FAILED, f"broker error: {error}"
    return EXIT_OK, None


def emit_report(
    report: dict[str, Any],
    output_format: str,
    path: str | None,
    render_report: Callable[[dict[str, Any], str], str] = render,
) -> None:
    """Print the report on standard output and, with --report, write it to `path` too."""
    sys.stdout.write(render_report(report, output_format))
    sys.stdout.flush()
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = render_report(report, format_for_path(path, output_format))
        target.write_text(text, encoding="utf-8")

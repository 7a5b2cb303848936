"""`velo-tui validate FILE.sql`: load and check the pipeline, spec and schemas; run nothing."""

from __future__ import annotations

import argparse
import sys

from velo_tui.cli import EXIT_OK, session_options
from velo_tui.engine.broker.embedded import EmbeddedBroker
from velo_tui.engine.session import Session


def validate(args: argparse.Namespace) -> int:
    options = session_options(args)
    options.broker = EmbeddedBroker()  # validation never connects to Kafka
    session = Session(args.sql_file, options)
    print(f"{args.sql_file}: valid, application {session.pipeline.application}")
    for number, state in enumerate(session.states, start=1):
        statement = state.statement
        print(
            f"  {number}. {statement.name} (line {statement.line}): "
            f"{statement.source.topic} -> {statement.sink.topic}"
        )
    if session.spec is not None:
        print(f"  spec {session.spec.path}: {len(session.spec.queries)} query test(s)")
    for warning in session.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK

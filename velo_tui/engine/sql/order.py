"""Execution order of a pipeline's statements: a statement runs after the statements whose sink
topic is its source topic, and otherwise in file order."""

from __future__ import annotations

from pathlib import Path

from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.pipeline import Statement


def order_statements(statements: list[Statement], path: Path | str) -> list[Statement]:
    """Return `statements` in dependency order, keeping file order among independent ones.

    Raises `InputError` naming the statements when their topics form a cycle, including a
    statement that reads its own sink topic.
    """
    producers: dict[str, list[int]] = {}
    for index, statement in enumerate(statements):
        producers.setdefault(statement.sink.topic, []).append(index)
    dependencies = [set(producers.get(statement.source.topic, ())) for statement in statements]

    ordered: list[int] = []
    placed: set[int] = set()
    while len(ordered) < len(statements):
        ready = next(
            (
                index
                for index in range(len(statements))
                if index not in placed and dependencies[index] <= placed
            ),
            None,
        )
        if ready is None:
            raise _cycle_error(statements, dependencies, placed, path)
        ordered.append(ready)
        placed.add(ready)
    return [statements[index] for index in ordered]


def _cycle_error(
    statements: list[Statement],
    dependencies: list[set[int]],
    placed: set[int],
    path: Path | str,
) -> InputError:
    # Walk back along unplaced dependencies from any waiting statement until one repeats.
    current = min(index for index in range(len(statements)) if index not in placed)
    trail: list[int] = []
    while current not in trail:
        trail.append(current)
        current = min(dependency for dependency in dependencies[current] if dependency not in placed)
    cycle = trail[trail.index(current) :]
    cycle.reverse()
    earliest = cycle.index(min(cycle))  # start the report at the cycle's first statement in the file
    cycle = cycle[earliest:] + cycle[:earliest]
    cycle.append(cycle[0])
    steps = " -> ".join(
        f"{statements[index].name} (line {statements[index].line}, topic "
        f"'{statements[index].sink.topic}')"
        for index in cycle
    )
    first = statements[cycle[0]]
    return InputError(
        f"statements read each other's sink topics in a cycle: {steps}; change a source or "
        "sink topic to break the cycle",
        SourceLocation(path, first.line, 1),
    )

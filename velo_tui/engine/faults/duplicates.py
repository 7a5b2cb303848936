"""The `duplicates` fault: extra identical copies of a record, produced right after the original.

Copies keep the original key, value and timestamp, as a producer retry would. Only their headers
gain the fault tag, so a statement that must de-duplicate can be checked against the fault ledger.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from velo_tui.engine.faults.base import FaultContext, FaultInjector, fault_headers, register, rewrite_rows


@register
class Duplicates(FaultInjector):
    """Follow a share of records with 1 to `max_duplicates` copies each."""

    name = "duplicates"
    config_keys = ("max_duplicates",)
    default_rate = 0.01
    order = 30

    def __init__(self, config: dict, rng: np.random.Generator, location) -> None:
        super().__init__(config, rng, location)
        self.max_duplicates = self._integer("max_duplicates", 1, minimum=1)

    def apply(self, batch: pa.Table, context: FaultContext) -> pa.Table:
        count = batch.num_rows
        rows = self.select(count)
        if len(rows) == 0:
            return batch
        copies = self.rng.integers(1, self.max_duplicates, size=len(rows), endpoint=True)

        repeats = np.ones(count, dtype=np.int64)
        repeats[rows] += copies
        order = np.repeat(np.arange(count, dtype=np.int64), repeats)
        first_position = np.cumsum(repeats) - repeats
        sequence = context.sequence if context.sequence is not None else context.offset + np.arange(count, dtype=np.int64)

        headers = batch.column("headers").take(pa.array(rows)).to_pylist()
        copy_positions: list[int] = []
        copy_headers: list[list] = []
        for row, copy_count, row_headers in zip(rows, copies, headers):
            for copy_number in range(1, int(copy_count) + 1):
                entry = context.ledger.record(
                    self.name,
                    context.source,
                    int(sequence[row]),
                    f"copy {copy_number} of {int(copy_count)} produced after the original",
                )
                copy_positions.append(int(first_position[row]) + copy_number)
                copy_headers.append(fault_headers(row_headers, entry))

        expanded = batch.take(pa.array(order))
        context.sequence = sequence[order]
        return rewrite_rows(expanded, np.asarray(copy_positions, dtype=np.int64), headers=copy_headers)

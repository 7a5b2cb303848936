"""The `slow_processing` fault: seeded delays before micro-batches, recorded in the fault ledger.

It leaves records unchanged. The executor calls `next_delay_ms()` once per micro-batch and waits
that long, which exercises timeouts and latency figures.
"""

from __future__ import annotations

import numpy as np

from velo_tui.engine.faults.base import FaultInjector, FaultLedger, register


@register
class SlowProcessing(FaultInjector):
    """Delay a share `rate` of micro-batches by `min_delay_ms` to `max_delay_ms` milliseconds."""

    name = "slow_processing"
    config_keys = ("min_delay_ms", "max_delay_ms")
    default_rate = 0.05
    order = 60

    def __init__(self, config: dict, rng: np.random.Generator, location) -> None:
        super().__init__(config, rng, location)
        self.min_delay_ms = self._integer("min_delay_ms", 100, minimum=0)
        self.max_delay_ms = self._integer("max_delay_ms", max(1000, self.min_delay_ms), minimum=0)
        if self.min_delay_ms > self.max_delay_ms:
            raise self.error(f"min_delay_ms {self.min_delay_ms} is greater than max_delay_ms {self.max_delay_ms}")
        self.ledger: FaultLedger | None = None
        self.batches = 0

    def next_delay_ms(self, source: str = "") -> int:
        """Return the delay in milliseconds before the next micro-batch: 0 or a seeded draw.

        Both random numbers are drawn on every call, so the sequence of delays depends only on
        the seed and the number of calls.
        """
        batch_number = self.batches
        self.batches += 1
        hit = self.rng.random() < self.rate
        delay = int(self.rng.integers(self.min_delay_ms, self.max_delay_ms, endpoint=True))
        if not (self.enabled and hit):
            return 0
        if self.ledger is not None:
            self.ledger.record(self.name, source, batch_number, f"micro-batch {batch_number} delayed {delay} ms")
        return delay

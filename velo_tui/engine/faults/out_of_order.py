"""The `out_of_order` fault: late records whose event time lies before records produced earlier.

A selected record's timestamp (the message timestamp and the schema's event-time field) moves
back by up to `max_delay_ms`, and the record is produced a few positions later in the
micro-batch, so windows and watermarks see it arrive late.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

from velo_tui.engine.faults.base import (
    FaultContext,
    FaultInjector,
    decode_json_object,
    encode_json_object,
    fault_headers,
    register,
    rewrite_rows,
)
from velo_tui.engine.generate import event_time_field

logger = logging.getLogger(__name__)

_TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")


def shift_timestamp_text(text: str, delay_ms: int) -> str | None:
    """Return the ISO 8601 timestamp `text` moved back by `delay_ms`, or None when unparseable."""
    for pattern in _TIMESTAMP_FORMATS:
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        shifted = moment.replace(tzinfo=timezone.utc) - timedelta(milliseconds=delay_ms)
        return shifted.strftime("%Y-%m-%dT%H:%M:%S.") + f"{shifted.microsecond // 1000:03d}"
    return None


@register
class OutOfOrder(FaultInjector):
    """Make a share of records late: earlier event time, produced up to `window_size` positions later."""

    name = "out_of_order"
    config_keys = ("max_delay_ms", "window_size")
    default_rate = 0.1
    order = 40

    def __init__(self, config: dict, rng: np.random.Generator, location) -> None:
        super().__init__(config, rng, location)
        self.max_delay_ms = self._integer("max_delay_ms", 5000, minimum=1)
        self.window_size = self._integer("window_size", 10, minimum=1)

    def apply(self, batch: pa.Table, context: FaultContext) -> pa.Table:
        count = batch.num_rows
        rows = self.select(count)
        if len(rows) == 0:
            return batch
        delays = self.rng.integers(1, self.max_delay_ms, size=len(rows), endpoint=True)
        shifts = self.rng.integers(1, self.window_size, size=len(rows), endpoint=True)

        # A moved record sorts just after the record that sits `shift` positions later.
        sort_key = np.arange(count, dtype=np.float64)
        sort_key[rows] += shifts + 0.5
        order = np.argsort(sort_key, kind="stable")
        new_position = np.empty(count, dtype=np.int64)
        new_position[order] = np.arange(count)
        sequence = context.sequence if context.sequence is not None else context.offset + np.arange(count, dtype=np.int64)

        time_field = event_time_field(context.schema) if context.schema is not None else None
        selected = pa.array(rows)
        values = batch.column("value").take(selected).to_pylist()
        headers = batch.column("headers").take(selected).to_pylist()
        timestamps = batch.column("timestamp").take(selected).to_pylist()

        new_values: list[bytes | None] = []
        new_headers: list[list] = []
        new_timestamps: list[int | None] = []
        for row, delay, shift, value, row_headers, timestamp in zip(rows, delays, shifts, values, headers, timestamps):
            delay = int(delay)
            new_value, field_name = self._shift_event_time(value, time_field, delay)
            # Records moved further ahead of it can leave fewer than `shift` records overtaken.
            overtaken = int(np.count_nonzero(new_position[row + 1 : row + 1 + int(shift)] < new_position[row]))
            change = f"timestamp moved back {delay} ms; produced after {overtaken} records that followed it"
            entry = context.ledger.record(
                self.name, context.source, int(sequence[row]), change, field_name=field_name
            )
            new_values.append(new_value)
            new_headers.append(fault_headers(row_headers, entry))
            new_timestamps.append(None if timestamp is None else timestamp - delay)

        changed = rewrite_rows(batch, rows, new_values, new_headers, new_timestamps)
        context.sequence = sequence[order]
        return changed.take(pa.array(order))

    @staticmethod
    def _shift_event_time(value: bytes | None, time_field: str | None, delay_ms: int) -> tuple[bytes | None, str | None]:
        """Move the event-time field inside the JSON value back too, when it can be read."""
        if time_field is None:
            return value, None
        record = decode_json_object(value)
        if record is None or not isinstance(record.get(time_field), str):
            return value, None
        shifted = shift_timestamp_text(record[time_field], delay_ms)
        if shifted is None:
            return value, None
        record[time_field] = shifted
        return encode_json_object(record), time_field

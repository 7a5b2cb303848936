"""The fault plan: the injectors that a test spec's `fault_injection` block requests, with their ledger.

`build_fault_plan` validates the block once; `FaultPlan.apply` then runs the injectors over each
generated micro-batch of a source before it is produced to the source topic.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from velo_tui.engine.broker.base import PRODUCE_SCHEMA
from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.faults.base import FaultContext, FaultInjector, FaultLedger, available_faults, closest_hint
from velo_tui.engine.faults.slow_processing import SlowProcessing
from velo_tui.engine.schema import Schema

logger = logging.getLogger(__name__)

TOP_LEVEL_KEYS = ("seed", "enable_dlq", "dlq_max_size")


def injector_rng(seed: int, fault: str, source: str) -> np.random.Generator:
    """Return the generator of one injector for one source.

    Each (fault, source) pair has its own stream, so the order in which sources are fed to the
    plan does not change which records are hit.
    """
    entropy = [seed % 2**64, zlib.crc32(fault.encode("utf-8")), zlib.crc32(source.encode("utf-8"))]
    return np.random.Generator(np.random.PCG64(entropy))


def seed_from_config(config: dict | None, override: int | None = None) -> int:
    """Return the run's seed: `override` (the --seed option), else the block's `seed`, else 0."""
    if override is not None:
        return override
    if isinstance(config, dict) and isinstance(config.get("seed"), int) and not isinstance(config.get("seed"), bool):
        return config["seed"]
    return 0


@dataclass
class FaultPlan:
    """Configured fault injectors, run in a fixed order over every micro-batch of every source."""

    seed: int
    location: SourceLocation | None = None
    enable_dlq: bool | None = None
    dlq_max_size: int | None = None
    warnings: list[str] = field(default_factory=list)
    ledger: FaultLedger = field(default_factory=FaultLedger)
    slow_processing: SlowProcessing | None = None
    injector_configs: list[tuple[type[FaultInjector], dict]] = field(default_factory=list)
    _injectors: dict[str, list[FaultInjector]] = field(default_factory=dict, repr=False)
    _offsets: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def fault_names(self) -> list[str]:
        """Names of the enabled injectors, in the order they run (slow_processing last)."""
        names = [cls.name for cls, _ in self.injector_configs]
        if self.slow_processing is not None:
            names.append(SlowProcessing.name)
        return names

    @property
    def active(self) -> bool:
        return bool(self.fault_names)

    def _injectors_for(self, source: str) -> list[FaultInjector]:
        if source not in self._injectors:
            self._injectors[source] = [
                cls(config, injector_rng(self.seed, cls.name, source), self.location)
                for cls, config in self.injector_configs
            ]
        return self._injectors[source]

    def apply(self, batch: pa.Table, schema: Schema | None, source: str) -> pa.Table:
        """Return the micro-batch of `source` with every configured fault injected.

        Input sequence numbers in the ledger count the records of `source` across calls, so
        feed each source's generated records to the plan once, in order.
        """
        if batch.schema != PRODUCE_SCHEMA:
            batch = batch.select(PRODUCE_SCHEMA.names).cast(PRODUCE_SCHEMA)
        offset = self._offsets.get(source, 0)
        self._offsets[source] = offset + batch.num_rows
        if batch.num_rows == 0 or not self.injector_configs:
            return batch

        context = FaultContext(schema=schema, source=source, offset=offset, ledger=self.ledger)
        before = len(self.ledger)
        for injector in self._injectors_for(source):
            batch = injector.apply(batch, context)
        logger.debug(
            "fault plan: %d faults injected into %d records of source %s", len(self.ledger) - before, batch.num_rows, source
        )
        return batch


def _warn(plan: FaultPlan, location: SourceLocation | None, key_path: str, choices: list[str] | tuple[str, ...]) -> None:
    where = f"{location}: " if location is not None else ""
    message = f"{where}unknown key '{key_path}' ignored{closest_hint(key_path.rsplit('.', 1)[-1], choices)}"
    plan.warnings.append(message)
    logger.warning("%s", message)


def _block(name: str, value: Any, location: SourceLocation | None) -> dict:
    if value is None or value is True:
        return {}
    if value is False:
        return {"enabled": False}
    if not isinstance(value, dict):
        raise InputError(
            f"fault_injection.{name} must be a mapping of settings such as `enabled` and `rate`, got {value!r}",
            location,
        )
    return value


def build_fault_plan(config: dict | None, seed: int, location: SourceLocation | None) -> FaultPlan:
    """Validate a spec's `fault_injection` block and build the plan that applies it.

    `seed` is used as given; resolve it first with `seed_from_config`. An unknown fault type or
    invalid setting raises InputError listing the valid names; an unknown scalar key is a
    warning kept in `plan.warnings`. A fault block without `enabled` is enabled.
    """
    plan = FaultPlan(seed=seed, location=location)
    if config is None:
        return plan
    if not isinstance(config, dict):
        raise InputError(f"fault_injection must be a mapping of fault types, got {config!r}", location)

    faults = available_faults()
    valid_names = ", ".join(faults)
    all_keys = [*TOP_LEVEL_KEYS, *faults]

    for key, value in config.items():
        key = str(key)
        if key == "seed":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(f"fault_injection.seed must be a whole number, got {value!r}", location)
        elif key == "enable_dlq":
            if not isinstance(value, bool):
                raise InputError(f"fault_injection.enable_dlq must be true or false, got {value!r}", location)
            plan.enable_dlq = value
        elif key == "dlq_max_size":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"fault_injection.dlq_max_size must be a whole number of at least 0, got {value!r}", location)
            plan.dlq_max_size = value
        elif key in faults:
            cls = faults[key]
            block = _block(key, value, location)
            for setting in block:
                if str(setting) not in cls.valid_keys():
                    _warn(plan, location, f"fault_injection.{key}.{setting}", cls.valid_keys())
            # Building one instance validates the settings now rather than at the first batch.
            injector = cls(block, injector_rng(seed, key, ""), location)
            if not injector.enabled:
                continue
            if isinstance(injector, SlowProcessing):
                injector.ledger = plan.ledger
                plan.slow_processing = injector
            else:
                plan.injector_configs.append((cls, block))
        elif isinstance(value, dict):
            raise InputError(
                f"unknown fault type 'fault_injection.{key}'{closest_hint(key, list(faults))}; valid fault types: {valid_names}",
                location,
            )
        else:
            _warn(plan, location, f"fault_injection.{key}", all_keys)

    plan.injector_configs.sort(key=lambda item: item[0].order)
    return plan

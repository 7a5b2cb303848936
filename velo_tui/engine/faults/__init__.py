"""Fault injection: pluggable injectors that alter generated micro-batches before the source topic.

Importing this package registers the built-in injectors; more come from the `velo_tui.faults`
entry-point group.
"""

from __future__ import annotations

from velo_tui.engine.faults import duplicates, field_corruption, malformed, out_of_order, slow_processing
from velo_tui.engine.faults.base import (
    ENTRY_POINT_GROUP,
    FAULT_HEADER,
    FAULT_ID_HEADER,
    FaultContext,
    FaultEntry,
    FaultInjector,
    FaultLedger,
    available_faults,
    register,
)
from velo_tui.engine.faults.plan import FaultPlan, build_fault_plan, seed_from_config

__all__ = [
    "ENTRY_POINT_GROUP",
    "FAULT_HEADER",
    "FAULT_ID_HEADER",
    "FaultContext",
    "FaultEntry",
    "FaultInjector",
    "FaultLedger",
    "FaultPlan",
    "available_faults",
    "build_fault_plan",
    "duplicates",
    "field_corruption",
    "malformed",
    "out_of_order",
    "register",
    "seed_from_config",
    "slow_processing",
]

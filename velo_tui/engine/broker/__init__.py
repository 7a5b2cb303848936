"""Brokers: the embedded in-process broker and Kafka, behind one interface."""

from velo_tui.engine.broker.base import (
    MESSAGE_SCHEMA,
    PRODUCE_SCHEMA,
    Broker,
    PartitionWatermarks,
    empty_messages,
    make_produce_batch,
)

__all__ = [
    "MESSAGE_SCHEMA",
    "PRODUCE_SCHEMA",
    "Broker",
    "PartitionWatermarks",
    "empty_messages",
    "make_produce_batch",
]

"""The Kafka broker: topics on an Apache Kafka cluster, read and written with confluent-kafka.

Consumers read from the beginning with `assign()` and a throwaway group id, up to the high
watermarks taken when reading starts, and turn messages into Arrow batches of one partition each.
Producing only queues messages in librdkafka; `flush`, and every read of a topic with queued
messages, waits until they are acknowledged.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import repeat

import pyarrow as pa
import pyarrow.compute as pc
from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from velo_tui.engine.broker.base import (
    HEADER_TYPE,
    MESSAGE_SCHEMA,
    PRODUCE_SCHEMA,
    Broker,
    PartitionWatermarks,
    choose_partitions,
    null_key_count,
)
from velo_tui.engine.errors import BrokerError, InputError
from velo_tui.engine.secrets import redact_text, secret_values

log = logging.getLogger(__name__)

#: Default limit for a produce, a stalled consume or a topic change before `BrokerError`.
OPERATION_TIMEOUT_S = 30.0

# Properties only a producer or only a consumer understands, by prefix. librdkafka ignores a
# property of the other role with a warning, so each client gets only its own and the shared ones.
_PRODUCER_PREFIXES = (
    "acks",
    "request.required.acks",
    "linger.ms",
    "queue.buffering.",
    "batch.",
    "compression.",
    "enable.idempotence",
    "enable.gapless.guarantee",
    "transactional.id",
    "transaction.timeout.ms",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "message.send.max.retries",
    "retries",
    "partitioner",
    "sticky.partitioning.linger.ms",
    "delivery.report.only.error",
    "request.timeout.ms",
)
_CONSUMER_PREFIXES = (
    "group.",
    "auto.",
    "enable.auto.",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "partition.assignment.strategy",
    "max.poll.",
    "fetch.",
    "queued.",
    "isolation.level",
    "enable.partition.eof",
    "check.crcs",
    "coordinator.query.interval.ms",
    "consume.callback.max.messages",
)

# Consumer properties velo-tui sets unless the user's configuration does.
_CONSUMER_DEFAULTS: dict[str, object] = {
    "group.id": "velo-tui",
    # Once librdkafka has queued.min.messages (100,000 by default) fetched and not yet consumed,
    # it waits fetch.queue.backoff.ms before fetching again. Its default of 1,000 ms made reading
    # 2,000,000 messages take 12.2 s instead of 2.2 s (librdkafka 2.16, local broker).
    "fetch.queue.backoff.ms": "20",
}

# velo-tui sets these keys itself on every client, so a user value for them is ignored.
_RESERVED_KEYS = (
    "bootstrap.servers",
    "metadata.broker.list",
    "delivery.report.only.error",
    "on_delivery",
    "error_cb",
    "logger",
    "stats_cb",
    "throttle_cb",
    "oauth_cb",
)


# Errors a partition reports for a moment after its topic is created.
_PARTITION_STARTING_CODES = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
)


@dataclass(frozen=True)
class _DeliveryFailure:
    """A message librdkafka reported as not delivered."""

    topic: str
    partition: int
    error: KafkaError


@dataclass
class _PartitionBuffer:
    """Messages of one partition waiting to become an Arrow batch."""

    partition: int
    offsets: list[int] = field(default_factory=list)
    timestamps: list[int | None] = field(default_factory=list)
    keys: list[bytes | None] = field(default_factory=list)
    values: list[bytes | None] = field(default_factory=list)
    headers: list[list[tuple[str, bytes | None]] | None] = field(default_factory=list)

    def add(self, message: Message, offset: int) -> None:
        self.offsets.append(offset)
        kind, timestamp = message.timestamp()
        self.timestamps.append(None if kind == TIMESTAMP_NOT_AVAILABLE else timestamp)
        self.keys.append(message.key())
        self.values.append(message.value())
        self.headers.append(message.headers())

    def __len__(self) -> int:
        return len(self.offsets)

    def take(self) -> pa.Table:
        """Return the buffered messages as a `MESSAGE_SCHEMA` batch and empty the buffer."""
        rows = len(self.offsets)
        table = pa.Table.from_arrays(
            [
                pa.nulls(rows, pa.int32()).fill_null(self.partition),
                pa.array(self.offsets, pa.int64()),
                pa.array(self.timestamps, pa.int64()),
                pa.array(self.keys, pa.binary()),
                pa.array(self.values, pa.binary()),
                pa.array(self.headers, HEADER_TYPE),
            ],
            schema=MESSAGE_SCHEMA,
        )
        self.offsets, self.timestamps, self.keys = [], [], []
        self.values, self.headers = [], []
        return table


class _ClientLog:
    """Receives librdkafka log lines and passes them on at DEBUG level with secrets removed.

    Problems that matter reach the caller as exceptions, so librdkafka's own warnings (a refused
    connection while a broker restarts, for example) stay out of the user's log.
    """

    def __init__(self, secrets: set[str]) -> None:
        self._secrets = secrets

    def log(self, level: int, message: str, *args: object) -> None:
        if log.isEnabledFor(logging.DEBUG):
            text = message % args if args else message
            log.debug("librdkafka: %s", redact_text(text, self._secrets))


class _ErrorRecorder:
    """Keeps the latest client-wide error librdkafka reports (lost connection, failed login)."""

    def __init__(self) -> None:
        self.last: KafkaError | None = None

    def __call__(self, error: KafkaError) -> None:
        self.last = error


class KafkaBroker(Broker):
    """A Kafka cluster reached with confluent-kafka.

    `client_config` contains user client properties (from config files or `producer.*` WITH
    properties). Properties librdkafka rejects, such as the Java-client keys `buffer_memory`
    and `buffer.size`, are dropped with a debug log line naming the key.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        client_config: Mapping[str, object] | None = None,
        timeout_s: float = 10.0,
        *,
        operation_timeout_s: float = OPERATION_TIMEOUT_S,
        replication_factor: int = 1,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers.strip()
        self.description = f"Kafka at {self.bootstrap_servers}"
        self.timeout_s = timeout_s
        self.operation_timeout_s = operation_timeout_s
        self.replication_factor = replication_factor
        self._secrets = secret_values(client_config or {})
        self._client_log = _ClientLog(self._secrets)
        self._lock = threading.RLock()
        self._partition_counts: dict[str, int] = {}
        self._round_robin: dict[str, int] = {}
        self._producer: Producer | None = None
        self._producer_errors = _ErrorRecorder()
        self._delivery_failures: list[_DeliveryFailure] = []
        # Topics with messages queued since the last complete flush; reads of them flush first.
        self._unflushed: set[str] = set()

        if not self.bootstrap_servers:
            raise InputError("the Kafka bootstrap servers are missing: pass HOST:PORT")
        user = _stringify(client_config or {})
        for key in _RESERVED_KEYS:
            if user.pop(key, None) is not None:
                log.debug("ignoring client property %s: velo-tui sets it itself", key)
        _translate_jaas(user)
        self._admin_config = self._accepted(AdminClient, "admin client", _shared(user), {})
        self._producer_config = self._accepted(
            Producer, "producer", _for_role(user, _PRODUCER_PREFIXES), self._producer_defaults(user)
        )
        self._consumer_config = self._accepted(
            Consumer, "consumer", _for_role(user, _CONSUMER_PREFIXES), _CONSUMER_DEFAULTS
        )

        self._admin_errors = _ErrorRecorder()
        self._admin = AdminClient(
            {
                **self._admin_config,
                "bootstrap.servers": self.bootstrap_servers,
                "logger": self._client_log,
                "error_cb": self._admin_errors,
            }
        )
        self._check_reachable()

    # -- configuration -------------------------------------------------------------------------

    def _producer_defaults(self, user: Mapping[str, str]) -> dict[str, object]:
        defaults: dict[str, object] = {
            # Delivery reports only for failures: success is a flush that leaves nothing queued.
            # confluent-kafka reads this key itself and wants a bool.
            "delivery.report.only.error": True,
            # A message fails after this long unacknowledged, so a lost broker ends a produce
            # with an error instead of a hang.
            "message.timeout.ms": str(int(self.operation_timeout_s * 1000 * 0.8)),
            "message.max.bytes": str(16 * 1024 * 1024),
            "linger.ms": "5",
        }
        # Idempotence keeps per-partition order across retries; it requires acks=all, so it is
        # left off when the user chose acks.
        if not {"acks", "request.required.acks"} & user.keys():
            defaults["enable.idempotence"] = "true"
        return defaults

    def _accepted(
        self,
        client_type: Callable[[dict[str, object]], object],
        role: str,
        user: dict[str, str],
        defaults: dict[str, object],
    ) -> dict[str, object]:
        """Return `defaults` plus the `user` properties librdkafka accepts for `role`.

        Each rejected user property is dropped and logged by name, never by value. The trial
        clients get no bootstrap servers, so they open no connection.
        """
        config = {**defaults, **user}
        while True:
            try:
                client = client_type({**config, "logger": self._client_log})
                if isinstance(client, Consumer):
                    client.close()
                return config
            except (KafkaException, TypeError, ValueError) as error:
                reason = _error_text(error)
                rejected = _named_key(reason, user.keys() & config.keys())
                if rejected is None:
                    raise InputError(
                        f"the Kafka {role} configuration is invalid: "
                        f"{redact_text(reason, self._secrets)}; fix the client properties"
                    ) from None
                del config[rejected]
                log.debug("ignoring client property %s for the %s: %s", rejected, role,
                          redact_text(reason, self._secrets))

    def _check_reachable(self) -> None:
        self._check_listening()
        try:
            metadata = self._admin.list_topics(timeout=self.timeout_s)
        except KafkaException as error:
            reason = _error_text(error)
            self._admin.poll(0)  # serves error_cb, which may hold the cause (a failed login)
            if self._admin_errors.last is not None:
                reason = f"{reason}; {self._admin_errors.last.str()}"
            reason = redact_text(reason, self._secrets)
            raise InputError(
                f"could not reach Kafka at {self.bootstrap_servers} within {self.timeout_s:g} s "
                f"({reason}); check --bootstrap-servers and the client security properties, "
                "or start a broker"
            ) from None
        log.debug("connected to %s: %d broker(s), %d topic(s)", self.description,
                  len(metadata.brokers), len(metadata.topics))

    def _check_listening(self) -> None:
        """Fail at once when no bootstrap address accepts a TCP connection.

        librdkafka keeps retrying a refused connection until `list_topics` times out, while a
        plain connect reports a refused or unresolvable address straight away.
        """
        reasons = []
        for address in self.bootstrap_servers.split(","):
            host, _, port = address.strip().rpartition(":")
            host = host.strip("[]") or "127.0.0.1"
            try:
                with socket.create_connection((host, int(port)), timeout=min(3.0, self.timeout_s)):
                    return
            except ValueError:
                raise InputError(
                    f"invalid Kafka address '{address.strip()}'; use HOST:PORT"
                ) from None
            except OSError as error:
                reasons.append(f"{address.strip()}: {error.strerror or error}")
        raise InputError(
            f"could not reach Kafka at {self.bootstrap_servers} ({'; '.join(reasons)}); "
            "check --bootstrap-servers or start a broker"
        )

    def _fail(self, action: str, reason: str) -> BrokerError:
        """Build a `BrokerError` for a failed `action`, naming the cluster, without secrets."""
        text = f"{action} on {self.description} failed: {reason}"
        return BrokerError(redact_text(text, self._secrets))

    # -- topics --------------------------------------------------------------------------------

    def create_topic(self, topic: str, partitions: int = 1) -> None:
        if partitions < 1:
            raise InputError(f"topic '{topic}' needs at least 1 partition, got {partitions}")
        # Generated records carry event times from a fixed past instant, which time-based
        # retention would delete before they are read. Topics created here keep every message
        # regardless of age.
        new_topic = NewTopic(topic, num_partitions=partitions,
                             replication_factor=self.replication_factor,
                             config={"retention.ms": "-1"})
        futures = self._admin.create_topics(
            [new_topic], operation_timeout=self.timeout_s, request_timeout=self.timeout_s
        )
        try:
            futures[topic].result(timeout=self.operation_timeout_s)
            log.debug("created topic %s with %d partition(s) on %s", topic, partitions,
                      self.description)
        except KafkaException as error:
            kafka_error = error.args[0] if error.args else None
            code = kafka_error.code() if isinstance(kafka_error, KafkaError) else None
            if code != KafkaError.TOPIC_ALREADY_EXISTS:
                raise self._fail(f"creating topic '{topic}'", _error_text(error)) from None
        except TimeoutError:
            raise self._fail(f"creating topic '{topic}'",
                             f"no answer within {self.operation_timeout_s:g} s") from None
        # Creation reaches the metadata asynchronously; a produce right after needs it there.
        self._wait_for_topic(topic, present=True)

    def delete_topic(self, topic: str) -> None:
        with self._lock:
            self._partition_counts.pop(topic, None)
        futures = self._admin.delete_topics(
            [topic], operation_timeout=self.timeout_s, request_timeout=self.timeout_s
        )
        try:
            futures[topic].result(timeout=self.operation_timeout_s)
        except KafkaException as error:
            kafka_error = error.args[0] if error.args else None
            code = kafka_error.code() if isinstance(kafka_error, KafkaError) else None
            if code != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise self._fail(f"deleting topic '{topic}'", _error_text(error)) from None
            return
        except TimeoutError:
            raise self._fail(f"deleting topic '{topic}'",
                             f"no answer within {self.operation_timeout_s:g} s") from None
        self._wait_for_topic(topic, present=False)

    def _wait_for_topic(self, topic: str, *, present: bool) -> None:
        """Poll the metadata until `topic` appears (or disappears) with all partitions led."""
        deadline = time.monotonic() + self.operation_timeout_s
        while True:
            count = self._metadata_partition_count(topic, require_leaders=True)
            if (count > 0) == present:
                with self._lock:
                    if present:
                        self._partition_counts[topic] = count
                    else:
                        self._partition_counts.pop(topic, None)
                return
            if time.monotonic() > deadline:
                state = "appear" if present else "disappear"
                raise self._fail(f"waiting for topic '{topic}' to {state}",
                                 f"still not done after {self.operation_timeout_s:g} s")
            time.sleep(0.05)  # no metadata event exists to wait on

    def list_topics(self) -> list[str]:
        metadata = self._metadata()
        # Names starting with "__" are Kafka's internal topics (__consumer_offsets and others).
        return sorted(name for name in metadata.topics if not name.startswith("__"))

    def partition_count(self, topic: str) -> int:
        return self._metadata_partition_count(topic)

    def _metadata(self):
        try:
            return self._admin.list_topics(timeout=self.timeout_s)
        except KafkaException as error:
            raise self._fail("reading the topic list", _error_text(error)) from None

    def _metadata_partition_count(self, topic: str, *, require_leaders: bool = False) -> int:
        """Return the partition count of `topic`, 0 when it is missing.

        With `require_leaders`, a topic whose partitions do not all have a leader yet counts as
        missing, because a new topic cannot take messages before that.
        """
        topic_metadata = self._metadata().topics.get(topic)
        if topic_metadata is None or topic_metadata.error is not None:
            return 0
        partitions = topic_metadata.partitions.values()
        if require_leaders and any(p.leader < 0 for p in partitions):
            return 0
        return len(partitions)

    def _known_partition_count(self, topic: str) -> int:
        with self._lock:
            count = self._partition_counts.get(topic)
        if count is None:
            count = self._metadata_partition_count(topic)
            if count == 0:
                self.create_topic(topic)
                count = self._metadata_partition_count(topic)
            with self._lock:
                self._partition_counts[topic] = count
        return count

    # -- producing -----------------------------------------------------------------------------

    def _get_producer(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(
                {
                    **self._producer_config,
                    "bootstrap.servers": self.bootstrap_servers,
                    "logger": self._client_log,
                    "error_cb": self._producer_errors,
                    "on_delivery": self._on_delivery,
                }
            )
        return self._producer

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        # Called from poll() and flush() for failed messages only (delivery.report.only.error).
        if error is not None:
            failure = _DeliveryFailure(message.topic(), message.partition(), error)
            self._delivery_failures.append(failure)

    def produce(self, topic: str, batch: pa.Table) -> None:
        """Queue `batch` for `topic` and return without waiting for acknowledgements.

        Raises `BrokerError` for delivery failures librdkafka has reported by now, from this
        batch or an earlier one; `flush` waits for the rest.
        """
        if batch.schema != PRODUCE_SCHEMA:
            batch = batch.select(PRODUCE_SCHEMA.names).cast(PRODUCE_SCHEMA)
        count = self._known_partition_count(topic)
        if batch.num_rows == 0:
            return
        self._check_partitions(topic, batch, count)
        with self._lock:
            if count > 1:
                # Place messages as the embedded broker does (not by librdkafka's partitioner),
                # so a record gets the same partition and offset on both brokers.
                start = self._round_robin.get(topic, 0)
                self._round_robin[topic] = start + null_key_count(batch)
                batch = batch.set_column(
                    0, "partition", choose_partitions(batch, count, start)
                )
            producer = self._get_producer()
            self._raise_delivery_failures(producer)
            self._unflushed.add(topic)
            self._enqueue(producer, topic, batch)
            producer.poll(0)  # serves the failure reports that are ready
            self._raise_delivery_failures(producer)

    def _check_partitions(self, topic: str, batch: pa.Table, count: int) -> None:
        partitions = batch.column("partition")
        if partitions.null_count == batch.num_rows:
            return
        bounds = pc.min_max(partitions)
        lowest, highest = bounds["min"].as_py(), bounds["max"].as_py()
        if lowest < 0 or highest >= count:
            wrong = highest if highest >= count else lowest
            raise InputError(
                f"topic '{topic}' has {count} partition(s); a message asked for partition "
                f"{wrong}; use a partition from 0 to {count - 1}"
            )

    def _enqueue(self, producer: Producer, topic: str, batch: pa.Table) -> None:
        """Hand every message of `batch` to librdkafka, one `Producer.produce` call each.

        librdkafka takes messages one at a time, so each column becomes a Python list once. The
        calls pass arguments by position and only up to the last column with a value, because
        keyword arguments and arguments left at their defaults cost time per message.
        """
        rows = batch.num_rows
        # Positional parameters of Producer.produce after topic and value: key, partition,
        # callback, on_delivery, timestamp, headers. librdkafka reads partition -1 as "let the
        # partitioner choose" and timestamp 0 as "now".
        optional: list[list | None] = [
            _column_values(batch, "key"),
            _column_values(batch, "partition", null=-1),
            None,
            None,
            _column_values(batch, "timestamp", null=0),
            _header_values(batch),
        ]
        defaults = (None, -1, None, None, 0, None)
        used = max((i + 1 for i, values in enumerate(optional) if values is not None), default=0)
        columns: list = [repeat(topic, rows), batch.column("value").to_pylist()]
        for values, default in zip(optional[:used], defaults, strict=False):
            columns.append(repeat(default, rows) if values is None else values)

        send = producer.produce
        for row, arguments in enumerate(zip(*columns)):
            try:
                send(*arguments)
            except BufferError:
                self._wait_for_room(producer, topic, arguments)
            except KafkaException as error:
                self._abandon(producer)
                raise self._fail(
                    f"producing message {row} of the batch to topic '{topic}'",
                    _error_text(error),
                ) from None

    def _wait_for_room(self, producer: Producer, topic: str, arguments: tuple) -> None:
        """Produce one message once librdkafka's full send queue has room for it.

        Fails when the queue does not shrink for the operation timeout, or when a delivery
        fails meanwhile (a lost broker fails queued messages after `message.timeout.ms`).
        """
        last_progress = time.monotonic()
        queued = len(producer)
        while True:
            producer.poll(0.05)  # returns early when acknowledgements free up room
            self._raise_delivery_failures(producer)
            try:
                producer.produce(*arguments)
                return
            except BufferError:
                now = time.monotonic()
                if len(producer) < queued:
                    queued, last_progress = len(producer), now
                elif now - last_progress > self.operation_timeout_s:
                    self._abandon(producer)
                    raise self._fail(
                        f"producing to topic '{topic}'",
                        f"the send queue stayed full for {self.operation_timeout_s:g} s "
                        f"({self._last_error_text(self._producer_errors)})",
                    ) from None

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every queued message is acknowledged; raise `BrokerError` otherwise.

        `timeout_s` (default: the operation timeout) limits a wait without progress, not the
        whole flush, so a long queue on a slow broker still completes.
        """
        stall_limit = self.operation_timeout_s if timeout_s is None else timeout_s
        with self._lock:
            producer = self._producer
            if producer is None:
                return
            remaining = self._await_delivery(producer, stall_limit)
            self._raise_delivery_failures(producer)
            if remaining:
                self._abandon(producer)
                raise self._fail(
                    "producing to " + _topic_list(self._unflushed),
                    f"{remaining} message(s) were still unacknowledged after {stall_limit:g} s "
                    f"without progress ({self._last_error_text(self._producer_errors)})",
                )
            self._unflushed.clear()

    def _settle(self, topic: str) -> None:
        """Wait for queued messages before `topic` is read, so a read sees every message
        produced to it before the read began.

        Raises `BrokerError` when messages to `topic` failed, but leaves the failures for the
        producing thread's next `produce` or `flush`, which reports them as well.
        """
        with self._lock:
            producer = self._producer
            if producer is None or topic not in self._unflushed:
                return
            remaining = self._await_delivery(producer, self.operation_timeout_s)
            failures = [f for f in self._delivery_failures if f.topic == topic]
            if failures:
                raise self._delivery_error(failures)
            if remaining:
                raise self._fail(
                    f"reading topic '{topic}'",
                    f"{remaining} message(s) produced before the read were still "
                    f"unacknowledged after {self.operation_timeout_s:g} s without progress "
                    f"({self._last_error_text(self._producer_errors)})",
                )
            if not self._delivery_failures:
                self._unflushed.clear()

    def _await_delivery(self, producer: Producer, stall_limit: float) -> int:
        """Flush until the queue is empty, a delivery fails, or the queue stops shrinking for
        `stall_limit` seconds; return how many messages are still queued."""
        last_progress = time.monotonic()
        remaining = producer.flush(0.5)
        while remaining and not self._delivery_failures:
            if time.monotonic() - last_progress > stall_limit:
                break
            still_queued = producer.flush(0.5)
            if still_queued < remaining:
                last_progress = time.monotonic()
            remaining = still_queued
        return remaining

    def _raise_delivery_failures(self, producer: Producer) -> None:
        """Raise the reported delivery failures, dropping the queued messages with them."""
        if not self._delivery_failures:
            return
        error = self._delivery_error(self._delivery_failures)
        self._abandon(producer)
        raise error

    def _delivery_error(self, failures: list[_DeliveryFailure]) -> BrokerError:
        first = failures[0]
        return self._fail(
            "producing to " + _topic_list({f.topic for f in failures}),
            f"{len(failures)} message(s) were not delivered; first error at topic "
            f"'{first.topic}' partition {first.partition}: {first.error.str()}",
        )

    def _abandon(self, producer: Producer) -> None:
        """Drop queued messages after a failure, so a later produce or flush cannot send them."""
        producer.purge(in_queue=True, in_flight=True, blocking=False)
        producer.flush(0)
        self._delivery_failures = []
        self._unflushed.clear()

    def _last_error_text(self, recorder: _ErrorRecorder) -> str:
        if recorder.last is None:
            return "no client error reported"
        return f"last client error: {recorder.last.str()}"

    # -- consuming -----------------------------------------------------------------------------

    def consume(
        self,
        topic: str,
        max_batch: int = 1000,
        start_offsets: Mapping[int, int] | None = None,
    ) -> Iterator[pa.Table]:
        if max_batch < 1:
            raise InputError(f"max_batch must be at least 1, got {max_batch}")
        starts = start_offsets or {}
        pending: dict[int, PartitionWatermarks] = {}
        for mark in self.watermarks(topic):
            # A start below the low watermark reads from the low watermark (older messages
            # were deleted by retention).
            first = max(mark.low, starts.get(mark.partition, mark.low))
            if first < mark.high:
                pending[mark.partition] = PartitionWatermarks(mark.partition, first, mark.high)
        if not pending:
            return

        errors = _ErrorRecorder()
        consumer = Consumer(
            {
                **self._consumer_config,
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": f"velo-tui-{uuid.uuid4().hex}",
                "enable.auto.commit": "false",
                "enable.auto.offset.store": "false",
                "enable.partition.eof": "true",
                "auto.offset.reset": "earliest",
                "logger": self._client_log,
                "error_cb": errors,
            }
        )
        try:
            consumer.assign([TopicPartition(topic, p, m.low) for p, m in pending.items()])
            yield from self._read_until_high(consumer, topic, pending, max_batch, errors)
        finally:
            consumer.close()

    def _read_until_high(
        self,
        consumer: Consumer,
        topic: str,
        pending: dict[int, PartitionWatermarks],
        max_batch: int,
        errors: _ErrorRecorder,
    ) -> Iterator[pa.Table]:
        buffers = {p: _PartitionBuffer(p) for p in pending}
        reached = {p: m.low for p, m in pending.items()}
        last_progress = time.monotonic()

        while pending:
            # consume() waits until it has num_messages or the timeout passes, so asking for no
            # more than the messages still due lets the last call return as soon as they arrive.
            due = sum(m.high - reached[p] for p, m in pending.items())
            messages = consumer.consume(num_messages=max(1, min(max_batch, due)), timeout=0.5)
            finished: list[int] = []
            for message in messages:
                partition = message.partition()
                error = message.error()
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    raise self._fail(f"reading topic '{topic}' partition {partition}", error.str())
                if partition not in pending:
                    continue
                high = pending[partition].high
                if error is not None:
                    # End of partition: the offsets up to `high` may include gaps (compacted
                    # records, transaction markers) that never arrive as messages.
                    if message.offset() >= high:
                        finished.append(partition)
                    continue
                offset = message.offset()
                if offset >= high:
                    finished.append(partition)
                    continue
                buffer = buffers[partition]
                buffer.add(message, offset)
                reached[partition] = offset + 1
                if offset + 1 >= high:
                    finished.append(partition)
                elif len(buffer.offsets) >= max_batch:
                    yield buffer.take()
            if messages:
                last_progress = time.monotonic()

            for partition in dict.fromkeys(finished):
                if partition not in pending:
                    continue
                del pending[partition]
                if len(buffers[partition]):
                    yield buffers[partition].take()

            if pending and time.monotonic() - last_progress > self.operation_timeout_s:
                behind = ", ".join(
                    f"partition {p} at offset {reached[p]} of {m.high}" for p, m in pending.items()
                )
                raise self._fail(
                    f"reading topic '{topic}'",
                    f"no message arrived for {self.operation_timeout_s:g} s with {behind} "
                    f"({self._last_error_text(errors)})",
                )

    def watermarks(self, topic: str) -> list[PartitionWatermarks]:
        self._settle(topic)
        count = self._metadata_partition_count(topic)
        if count == 0:
            return []
        lows = self._list_offsets(topic, count, OffsetSpec.earliest())
        highs = self._list_offsets(topic, count, OffsetSpec.latest())
        return [PartitionWatermarks(p, lows[p], highs[p]) for p in range(count)]

    def _list_offsets(self, topic: str, count: int, spec: OffsetSpec) -> dict[int, int]:
        """Return the offset `spec` selects for each partition of `topic`.

        Retriable errors are retried until the operation timeout, because a topic created a
        moment ago can report "not leader" while its partitions start.
        """
        deadline = time.monotonic() + self.operation_timeout_s
        while True:
            request = {TopicPartition(topic, p): spec for p in range(count)}
            futures = self._admin.list_offsets(request, request_timeout=self.timeout_s)
            try:
                return {
                    partition.partition: future.result(timeout=self.operation_timeout_s).offset
                    for partition, future in futures.items()
                }
            except KafkaException as error:
                kafka_error = error.args[0] if error.args else None
                retriable = isinstance(kafka_error, KafkaError) and (
                    kafka_error.retriable() or kafka_error.code() in _PARTITION_STARTING_CODES
                )
                if not retriable or time.monotonic() > deadline:
                    raise self._fail(
                        f"reading the offsets of topic '{topic}'", _error_text(error)
                    ) from None
                log.debug("retrying offsets of topic %s: %s", topic, _error_text(error))
            except TimeoutError:
                raise self._fail(f"reading the offsets of topic '{topic}'",
                                 f"no answer within {self.operation_timeout_s:g} s") from None
            time.sleep(0.05)  # the broker offers no event for a partition becoming ready

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            remaining = producer.flush(self.timeout_s)
            if remaining:
                log.warning("%d message(s) to %s were still unsent at close",
                            remaining, self.description)


def _column_values(batch: pa.Table, name: str, null: object = None) -> list | None:
    """Return column `name` of `batch` as a list with nulls replaced by `null`, or None when
    every value is null."""
    column = batch.column(name)
    if column.null_count == batch.num_rows:
        return None
    if null is not None and column.null_count:
        column = column.fill_null(null)
    return column.to_pylist()


def _header_values(batch: pa.Table) -> list | None:
    """Return the headers of `batch` as confluent-kafka's lists of (key, value) pairs, or None
    when no message has headers."""
    column = batch.column("headers")
    if column.null_count == batch.num_rows:
        return None
    return [
        None if entry is None else [(h["key"], h["value"]) for h in entry]
        for entry in column.to_pylist()
    ]


def _topic_list(topics: Iterable[str]) -> str:
    names = sorted(topics)
    if not names:
        return "Kafka"
    if len(names) == 1:
        return f"topic '{names[0]}'"
    return "topics " + ", ".join(f"'{name}'" for name in names)


def _stringify(config: Mapping[str, object]) -> dict[str, str]:
    """Return `config` with librdkafka's string values: booleans as true/false, None dropped."""
    result: dict[str, str] = {}
    for key, value in config.items():
        if value is None or isinstance(value, Mapping):
            continue
        if isinstance(value, bool):
            result[str(key)] = "true" if value else "false"
        else:
            result[str(key)] = str(value)
    return result


def _for_role(config: Mapping[str, str], own_prefixes: tuple[str, ...]) -> dict[str, str]:
    """Return the shared properties of `config` plus those starting with `own_prefixes`."""
    other = _CONSUMER_PREFIXES if own_prefixes is _PRODUCER_PREFIXES else _PRODUCER_PREFIXES
    return {
        key: value
        for key, value in config.items()
        if key.startswith(own_prefixes) or not key.startswith(other)
    }


def _shared(config: Mapping[str, str]) -> dict[str, str]:
    """Return the properties of `config` that belong to neither producers nor consumers alone."""
    return {
        key: value
        for key, value in config.items()
        if not key.startswith(_PRODUCER_PREFIXES + _CONSUMER_PREFIXES)
    }


def _translate_jaas(config: dict[str, str]) -> None:
    """Replace a Java `sasl.jaas.config` in `config` with librdkafka's SASL properties.

    librdkafka rejects `sasl.jaas.config`. For the PLAIN and SCRAM login modules, its username
    and password become `sasl.username` and `sasl.password` unless those are set already.
    Any other login module (Kerberos, OAuth) is dropped with a debug log line.
    """
    jaas = config.pop("sasl.jaas.config", None)
    if jaas is None:
        return
    if not re.search(r"(PlainLoginModule|ScramLoginModule)\b", jaas):
        log.debug("ignoring client property sasl.jaas.config: librdkafka supports only PLAIN "
                  "and SCRAM logins from it")
        return
    options = {
        name.lower(): quoted[1:-1]
        for name, quoted in re.findall(r"""(\w+)\s*=\s*("[^"]*"|'[^']*')""", jaas)
    }
    for option, key in (("username", "sasl.username"), ("password", "sasl.password")):
        if option in options and key not in config:
            config[key] = options[option]
    log.debug("took sasl.username and sasl.password from sasl.jaas.config")


def _error_text(error: Exception) -> str:
    """Return the message inside a `KafkaException` without the KafkaError{...} wrapping."""
    inner = error.args[0] if error.args else error
    if isinstance(inner, KafkaError):
        return inner.str()
    return str(inner)


def _named_key(reason: str, keys: set[str]) -> str | None:
    """Return the one of `keys` that the librdkafka error `reason` names, if any."""
    for key in sorted(keys, key=len, reverse=True):
        if re.search(rf"(?<![\w.]){re.escape(key)}(?![\w.])", reason):
            return key
    return None

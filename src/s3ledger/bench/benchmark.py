"""``s3ledger bench``: what each mode costs and how fast it goes, side by side, on one workload.

For every mode, one after the other on one workbench, on its own pipeline (prefixed bucket,
queues and tables provisioned from ``template.yaml``):

1. **fresh events**: N notifications of N distinct objects, with real-shaped sequencers, are sent
   to the queue (as S3 would; the bucket's own notification is removed) while the local runner
   (W workers, the template's batch size) drains it, a bounded backlog ahead of it;
2. **duplicates**: the same N notifications again, in new SQS messages, drained by the same warm
   sandboxes.

A :class:`Meter` on each sandbox's DynamoDB client counts every request (Powertools' own
included: they share the client), adds ``ReturnConsumedCapacity=TOTAL`` to every call that
accepts it and sums what DynamoDB reports. Handler latency is timed around each invocation
(``Pipeline.handle_sqs``) and divided by the events in it; throughput runs from the runner's start
to its last delete. Cold start is timed in a fresh interpreter per mode.

DynamoDB Local reports 2.0 write units per *table* of a transaction, however many items of that
table it holds, and nothing for a failed write; so write units are also computed by DynamoDB's
rule from each request's items, and ``inbox-batch`` (up to 50 audit items of one table per
transaction) is reported by the rule.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote_plus

from rich.console import Console
from rich.progress import Progress

from s3ledger.core.config import Mode, Settings
from s3ledger.operate.scan import check_tables
from s3ledger.pipeline.handlers import Pipeline
from s3ledger.pipeline.writers import CountingMetrics, InvocationContext
from s3ledger.workbench.console import counting_progress, handler_logs_silenced
from s3ledger.workbench.dynamodb_local import dynamodb_client, free_port
from s3ledger.workbench.emulators import Workbench
from s3ledger.workbench.provision import Resources, provision
from s3ledger.workbench.runner import ExecutionEnvironment, LocalRunner, RunnerSettings
from s3ledger.workbench.session import queue_arn
from s3ledger.workbench.template import load_pipeline_spec

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

__all__ = [
    "BENCH_OVERRIDES",
    "FIGURES",
    "MODE_OVERRIDES",
    "Meter",
    "MeterTotals",
    "bench_events",
    "cold_start_ms",
    "rule_write_units",
    "run_bench",
    "write_chart",
]

# Rejected duplicates (transact) go to the DLQ at their first redelivery instead of coming back
# MaxReceiveCount times, and transact's visibility timeout is short so that this redelivery comes
# within seconds. The other modes reject nothing: their visibility timeout stays well above any
# invocation's time, so no message is redelivered while it is being processed. FunctionTimeout
# stays as the template declares it, so no invocation is cut short.
# (MaxReceiveCount stays at the template's value elsewhere: two concurrent receives in moto can
# count one receive twice, which at 1 would park a message that is being processed.)
BENCH_OVERRIDES: Final = {"QueueVisibilityTimeout": "60"}
MODE_OVERRIDES: Final[Mapping[str, Mapping[str, str]]] = {
    "transact": {"MaxReceiveCount": "1", "QueueVisibilityTimeout": "10"},
}
REFERENCE_MODE: Final = "powertools"  # the article's final design
_COLD_START_RUNS: Final = 9
_WARMUP_EVENTS: Final = 500
_ROUNDS: Final = 2  # the modes take turns: in order, then in reverse
_MIN_BACKLOG: Final = 20
_BACKLOG_BATCHES: Final = 3  # batches queued ahead of each worker
_KB: Final = 1024
# Modes whose write units come from the rule: DynamoDB Local under-reports their transactions.
_RULE_MODES: Final = frozenset({"inbox-batch"})
_WRITE_OPERATIONS: Final = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
_CONTEXT_KEY: Final = "s3ledger_bench"

# The workbench's processes, as the bench's per-process CPU figures name them.
PROCESS_LABELS: Final = (
    ("dynamodb_local", "CPU / fresh event: DynamoDB Local (ms)"),
    ("moto", "CPU / fresh event: moto, S3+SQS (ms)"),
    ("bench", "CPU / fresh event: runner+handler (ms)"),
)

# (JSON key, label, higher is better). Each also gets a ratio to powertools.
FIGURES: Final[tuple[tuple[str, str, bool], ...]] = (
    ("requests_per_event", "requests / fresh event", False),
    ("requests_per_duplicate", "requests / duplicate", False),
    ("write_units_per_event", "write units / fresh event", False),
    ("write_units_per_duplicate", "write units / duplicate (by rule)", False),
    ("events_per_second", "fresh events / s", True),
    ("duplicates_per_second", "duplicates / s", True),
    ("latency_ms_p50", "latency / event p50 (ms)", False),
    ("handler_ms_per_event", "handler time / fresh event, mean (ms)", False),
    ("latency_ms_p99", "latency / event p99 (ms)", False),
    ("handler_cpu_ms_per_event", "handler CPU / fresh event (ms)", False),
    ("import_ms", "cold start: import + writer (ms)", False),
)


# ------------------------------------------------------------------------------------ metering


def _value_size(value: Mapping[str, Any]) -> int:  # noqa: PLR0911 -- one return per type
    """DynamoDB's size of one attribute value (typed JSON), as its item size rules count it."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return 1 + (len(digits) + 1) // 2
    if kind == "B":
        return len(data) if isinstance(data, bytes | bytearray) else len(str(data)) * 3 // 4
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    if kind in {"SS", "NS", "BS"}:
        return sum(_value_size({kind[0]: member}) for member in data)
    return 0


def _item_size(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _action_units(action: Mapping[str, Any]) -> int:
    """Write units of one item written by ``action`` (a PutItem/UpdateItem/DeleteItem request).

    A Put is sized by its item; an Update or Delete by its key, attribute names and values
    (the item it leaves behind is not in the request: a lower bound, exact for items ≤ 1 KB).
    """
    if "Item" in action:
        size = _item_size(action["Item"])
    else:
        size = _item_size(action.get("Key", {}))
        size += sum(len(n.encode()) for n in action.get("ExpressionAttributeNames", {}).values())
        size += sum(_value_size(v) for v in action.get("ExpressionAttributeValues", {}).values())
    return max(1, math.ceil(size / _KB))


def rule_write_units(operation: str, params: Mapping[str, Any]) -> float:
    """Write units a committed request costs by DynamoDB's rule.

    1 unit per KB (rounded up) per item for a standard write, 2 per KB per item written in a
    transaction. Reads and non-write operations cost no write units.
    """
    if operation in {"PutItem", "UpdateItem", "DeleteItem"}:
        return float(_action_units(params))
    if operation == "TransactWriteItems":
        return float(
            sum(
                2 * _action_units(body)
                for action in params.get("TransactItems", [])
                for body in action.values()
            )
        )
    if operation == "BatchWriteItem":
        return float(
            sum(
                _action_units(request.get("PutRequest") or request.get("DeleteRequest") or {})
                for requests in params.get("RequestItems", {}).values()
                for request in requests
            )
        )
    return 0.0


@dataclass(frozen=True)
class MeterTotals:
    """What a meter has counted so far; subtract two to get what happened in between, add
    those of several rounds to get their total."""

    requests: int = 0  # HTTP requests sent to DynamoDB (every attempt, retries included)
    api_calls: int = 0  # client calls (one per call, whatever botocore retried)
    write_units_reported: float = 0.0  # ConsumedCapacity of write operations, as reported
    read_units_reported: float = 0.0
    write_units_rule: float = 0.0  # by DynamoDB's rule, from the requests' items
    call_ms: tuple[float, ...] = ()
    operations: Mapping[str, int] = field(default_factory=dict)

    def __sub__(self, earlier: MeterTotals) -> MeterTotals:
        operations = Counter(self.operations)
        operations.subtract(earlier.operations)
        return MeterTotals(
            requests=self.requests - earlier.requests,
            api_calls=self.api_calls - earlier.api_calls,
            write_units_reported=self.write_units_reported - earlier.write_units_reported,
            read_units_reported=self.read_units_reported - earlier.read_units_reported,
            write_units_rule=self.write_units_rule - earlier.write_units_rule,
            call_ms=self.call_ms[len(earlier.call_ms) :],
            operations={k: v for k, v in operations.items() if v},
        )

    def __add__(self, other: MeterTotals) -> MeterTotals:
        return MeterTotals(
            requests=self.requests + other.requests,
            api_calls=self.api_calls + other.api_calls,
            write_units_reported=self.write_units_reported + other.write_units_reported,
            read_units_reported=self.read_units_reported + other.read_units_reported,
            write_units_rule=self.write_units_rule + other.write_units_rule,
            call_ms=self.call_ms + other.call_ms,
            operations=dict(Counter(self.operations) + Counter(other.operations)),
        )


def _consumed(parsed: Mapping[str, Any], *, writes: bool) -> tuple[float, float]:
    """(write, read) units in a response's ``ConsumedCapacity`` (one entry or a list).

    With ``TOTAL`` an entry names no kind, only ``CapacityUnits``: they are the operation's own
    kind (``writes`` for a write operation).
    """
    consumed = parsed.get("ConsumedCapacity")
    entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
    write = read = 0.0
    for entry in entries:
        write += float(entry.get("WriteCapacityUnits", 0.0))
        read += float(entry.get("ReadCapacityUnits", 0.0))
        if "WriteCapacityUnits" not in entry and "ReadCapacityUnits" not in entry:
            units = float(entry.get("CapacityUnits", 0.0))
            write, read = (write + units, read) if writes else (write, read + units)
    return write, read


class Meter:
    """Count a DynamoDB client's requests and write units through botocore's event hooks.

    Attach it to any number of clients (one per sandbox); it is thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._api_calls = 0
        self._write_reported = 0.0
        self._read_reported = 0.0
        self._write_rule = 0.0
        self._call_ms: list[float] = []
        self._operations: Counter[str] = Counter()

    def attach(self, client: DynamoDBClient) -> None:
        events = client.meta.events
        events.register("before-parameter-build.dynamodb", self._before_parameter_build)
        events.register("before-send.dynamodb", self._before_send)
        events.register("after-call.dynamodb", self._after_call)
        events.register("after-call-error.dynamodb", self._after_call_error)

    def totals(self) -> MeterTotals:
        with self._lock:
            return MeterTotals(
                requests=self._requests,
                api_calls=self._api_calls,
                write_units_reported=self._write_reported,
                read_units_reported=self._read_reported,
                write_units_rule=self._write_rule,
                call_ms=tuple(self._call_ms),
                operations=dict(self._operations),
            )

    def _before_parameter_build(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        members = model.input_shape.members if model.input_shape is not None else {}
        if "ReturnConsumedCapacity" in members:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        committed = rule_write_units(model.name, params)
        # DynamoDB charges a standard write whose condition failed as if it had written.
        condition_failed = committed if model.name != "TransactWriteItems" else 0.0
        context[_CONTEXT_KEY] = (time.perf_counter(), committed, condition_failed)

    def _before_send(self, **_: Any) -> None:
        with self._lock:
            self._requests += 1

    def _after_call(
        self,
        http_response: Any,
        parsed: Mapping[str, Any],
        model: Any,
        context: Mapping[str, Any],
        **_: Any,
    ) -> None:
        started, committed, condition_failed = context.get(_CONTEXT_KEY, (None, 0.0, 0.0))
        is_write = model.name in _WRITE_OPERATIONS
        write, read = _consumed(parsed, writes=is_write)
        status = getattr(http_response, "status_code", 500)
        code = parsed.get("Error", {}).get("Code", "")
        if status < 300:
            rule = committed
        elif code == "ConditionalCheckFailedException":
            rule = condition_failed
        else:
            rule = 0.0  # cancelled transactions and other errors: counted as free (a lower bound)
        with self._lock:
            self._api_calls += 1
            self._operations[model.name] += 1
            if is_write:
                self._write_reported += write
            self._read_reported += read
            self._write_rule += rule
            if started is not None:
                self._call_ms.append((time.perf_counter() - started) * 1000)

    def _after_call_error(self, model: Any = None, **_: Any) -> None:
        with self._lock:
            self._api_calls += 1
            self._operations[getattr(model, "name", "?")] += 1


# ----------------------------------------------------------------------- sandboxes and timing


class _Probe:
    """Per-invocation timings and the runner's last activity, shared by one mode's sandboxes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.samples_ms: list[float] = []  # one per event: its invocation's time / its events
        self.cpu_seconds = 0.0  # the handler threads' CPU time (Python's side only)
        self.handled = 0
        self.last_activity = 0.0
        self.on_progress: Callable[[int], None] = lambda _: None

    def reset(self) -> None:
        with self._lock:
            self.samples_ms = []
            self.cpu_seconds = 0.0
            self.handled = 0
            self.last_activity = 0.0

    def invocation(self, events: int, seconds: float, cpu_seconds: float) -> None:
        with self._lock:
            self.cpu_seconds += cpu_seconds
            if events:
                self.samples_ms.extend([seconds * 1000 / events] * events)
            self.handled += events
            self.last_activity = time.monotonic()
        self.on_progress(events)

    def deleted(self, **_: Any) -> None:
        with self._lock:
            self.last_activity = time.monotonic()


class _TimedPipeline(Pipeline):
    """The product's pipeline, timed around each SQS invocation."""

    def __init__(self, settings: Settings, client: DynamoDBClient, probe: _Probe) -> None:
        super().__init__(settings, client, CountingMetrics())
        self._probe = probe

    def handle_sqs(self, event: Mapping[str, Any], context: InvocationContext) -> dict[str, Any]:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return super().handle_sqs(event, context)
        finally:
            self._probe.invocation(
                len(event.get("Records", [])),
                time.perf_counter() - started,
                time.thread_time() - cpu,
            )


class _Sandboxes:
    """The runner's environment factory: one metered, timed sandbox per worker, kept warm.

    A worker index gets the same sandbox every time, so the duplicates phase runs on the
    sandboxes that recorded the fresh events (as warm Lambda environments would).
    """

    def __init__(self, endpoint: str, settings: Settings, meter: Meter, probe: _Probe) -> None:
        self._endpoint = endpoint
        self._settings = settings
        self._meter = meter
        self._probe = probe
        self._lock = threading.Lock()
        self._built: dict[int, ExecutionEnvironment] = {}

    def __call__(self, index: int) -> ExecutionEnvironment:
        with self._lock:
            if index not in self._built:
                client = dynamodb_client(self._endpoint)
                self._meter.attach(client)
                pipeline = _TimedPipeline(self._settings, client, self._probe)
                self._built[index] = ExecutionEnvironment(pipeline=pipeline, index=index)
            return self._built[index]


# ------------------------------------------------------------------------------- the workload


def bench_events(events: int, seed: int, bucket: str) -> list[str]:
    """``events`` S3 notifications (SQS bodies) of uploads of distinct keys, each with a
    real-shaped (18 hex digit) sequencer, as S3 sends them (*Event message structure*).

    Distinct keys keep every mode able to apply every fresh event: ``transact`` and
    ``powertools`` reject a second event of one key by design, which ``chaos`` measures.
    """
    rng = random.Random(seed)  # noqa: S311 -- a replayable workload, not a secret
    folders = ("in", "out", "archive", "tmp")
    bodies = []
    for index in range(events):
        key = f"{folders[index % len(folders)]}/bench-{index:06d} {rng.randrange(10**6)}.csv"
        body = f"bench {index} {rng.random()}".encode()
        record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": f"2026-11-26T10:{index // 60000 % 60:02d}:{index // 1000 % 60:02d}."
            f"{index % 1000:03d}Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:BENCH"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": f"BENCH{index:011d}"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "s3ledger-bench",
                "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                "object": {
                    "key": quote_plus(key),
                    "size": len(body),
                    "eTag": hashlib.md5(body, usedforsecurity=False).hexdigest(),
                    "sequencer": f"{rng.getrandbits(64):018X}",
                },
            },
        }
        bodies.append(json.dumps({"Records": [record]}))
    return bodies


def _enqueue(sqs: SQSClient, queue_url: str, bodies: Sequence[str]) -> None:
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
        )
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused messages: {response['Failed']}")


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[rank]


# ------------------------------------------------------------------------------ one mode's run


def _process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process so far, from ``/proc`` (Linux); else ``None``."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _CpuClock:
    """CPU seconds of the workbench's processes and of this one (runner, handlers, feeder)."""

    def __init__(self, workbench: Workbench) -> None:
        self._pids = {
            "dynamodb_local": workbench.dynamodb_local.pid,
            "moto": workbench.moto_server.pid,
        }

    def read(self) -> dict[str, float | None]:
        times = os.times()
        readings = {name: _process_cpu_seconds(pid) for name, pid in self._pids.items()}
        return {**readings, "bench": times.user + times.system}

    @staticmethod
    def spent(
        before: Mapping[str, float | None], after: Mapping[str, float | None]
    ) -> dict[str, float]:
        return {
            name: end - start
            for name, end in after.items()
            if end is not None and (start := before.get(name)) is not None
        }


@dataclass
class _Phase:
    seconds: float
    drained: bool
    meter: MeterTotals
    samples_ms: list[float]
    cpu_seconds: float
    handled: int
    process_cpu_seconds: dict[str, float]

    @classmethod
    def total(cls, phases: Sequence[_Phase]) -> _Phase:
        """One phase's figures summed over its rounds."""
        cpu: Counter[str] = Counter()
        for phase in phases:
            cpu.update(phase.process_cpu_seconds)
        return cls(
            seconds=sum(p.seconds for p in phases),
            drained=all(p.drained for p in phases),
            meter=sum((p.meter for p in phases), MeterTotals()),
            samples_ms=[ms for p in phases for ms in p.samples_ms],
            cpu_seconds=sum(p.cpu_seconds for p in phases),
            handled=sum(p.handled for p in phases),
            process_cpu_seconds=dict(cpu),
        )


def _run_phase(  # noqa: PLR0917 -- private: one phase of one mode, every collaborator explicit
    workbench: Workbench,
    settings: RunnerSettings,
    sandboxes: _Sandboxes,
    meter: Meter,
    probe: _Probe,
    bodies: Sequence[str],
) -> _Phase:
    sqs = workbench.sqs()
    # Notifications arrive as the runner works, a bounded backlog ahead of it, as uploads would
    # make S3 send them. The feeder paces itself by the events the handler has taken (no queue
    # polling: each GetQueueAttributes would cost moto a scan of the queue).
    backlog = max(_MIN_BACKLOG, _BACKLOG_BATCHES * settings.batch_size * settings.workers)
    probe.reset()
    _enqueue(sqs, settings.queue_url, bodies[:backlog])
    failures: list[BaseException] = []

    def feed() -> None:
        client = workbench.sqs()
        sent = min(backlog, len(bodies))
        try:
            while sent < len(bodies):
                ahead = sent - probe.handled
                if ahead >= backlog:
                    time.sleep(0.005)
                    continue
                chunk = bodies[sent : sent + backlog - ahead]
                _enqueue(client, settings.queue_url, chunk)
                sent += len(chunk)
        except BaseException as exc:  # re-raised below, in the caller's thread
            failures.append(exc)

    def sqs_factory() -> SQSClient:
        client = workbench.sqs()
        client.meta.events.register("after-call.sqs.DeleteMessageBatch", probe.deleted)
        return client

    before = meter.totals()
    clock = _CpuClock(workbench)
    cpu_before = clock.read()
    runner = LocalRunner(settings, sqs_factory, sandboxes)
    feeder = threading.Thread(target=feed, name="s3ledger-bench-feeder", daemon=True)
    started = time.monotonic()
    runner.start()
    feeder.start()
    try:
        feeder.join()
        drained = runner.wait_until_drained(sqs, timeout=60.0 + 0.1 * len(bodies))
    finally:
        runner.stop()
    if failures:
        raise failures[0]
    if runner.errors:
        raise RuntimeError(f"the local runner failed: {runner.errors[0]!r}")
    end = probe.last_activity or time.monotonic()
    cpu_after = clock.read()
    return _Phase(
        seconds=max(end - started, 1e-6),
        drained=drained,
        meter=meter.totals() - before,
        samples_ms=list(probe.samples_ms),
        cpu_seconds=probe.cpu_seconds,
        handled=probe.handled,
        process_cpu_seconds=clock.spent(cpu_before, cpu_after),
    )


class _ModeBench:
    """One mode's pipeline, sandboxes and meters; its phases run in rounds between other modes'.

    Each round sends one slice of the events fresh, then the same slice again as duplicates.
    DynamoDB Local keeps getting faster as its JIT warms, so the modes take turns (in order, then
    in reverse): no mode is measured only early or only late in the run.
    """

    def __init__(
        self,
        workbench: Workbench,
        mode: Mode,
        *,
        events: int,
        workers: int,
        batch: int,
        seed: int,
        progress: Progress,
        streams: bool,
        prefix: str = "bench-",
        label: str | None = None,
    ) -> None:
        spec = load_pipeline_spec(
            overrides={
                **BENCH_OVERRIDES,
                **MODE_OVERRIDES.get(mode, {}),
                "Mode": mode,
                "BatchSize": str(batch),
            }
        )
        if not streams:
            spec = spec.without_streams()
        self.workbench, self.mode, self.events = workbench, mode, events
        self.resources = provision(
            workbench.dynamodb(), workbench.s3(), workbench.sqs(), spec, prefix=f"{prefix}{mode}-"
        )
        # The bench sends the notifications itself, as S3 would, with real sequencers.
        workbench.s3().put_bucket_notification_configuration(
            Bucket=self.resources.bucket, NotificationConfiguration={}
        )
        workbench.sqs().purge_queue(QueueUrl=self.resources.queue_url)  # moto's s3:TestEvent
        self.bodies = bench_events(events, seed, self.resources.bucket)
        settings = Settings(
            mode=mode,
            ledger_table=self.resources.ledger_table,
            audit_table=self.resources.audit_table,
            idempotency_table=self.resources.idempotency_table,
        )
        self.meter, self.probe = Meter(), _Probe()
        self.sandboxes = _Sandboxes(workbench.dynamodb_endpoint, settings, self.meter, self.probe)
        for index in range(workers):  # warm: cold start is measured apart
            self.sandboxes(index)
        self.runner_settings = RunnerSettings(
            queue_url=self.resources.queue_url,
            queue_arn=queue_arn(workbench.sqs(), self.resources.queue_url),
            batch_size=spec.function.batch_size,
            function_timeout=float(spec.function.timeout),
            workers=workers,
        )
        self.label = label or mode
        self.progress = progress
        self.task = progress.add_task(f"{self.label}: waiting", total=2 * events)
        self.probe.on_progress = lambda done: progress.advance(self.task, done)
        self.fresh: list[_Phase] = []
        self.duplicates: list[_Phase] = []

    def run_round(self, index: int, rounds: int) -> None:
        """Round ``index`` of ``rounds``: its slice of the events fresh, then again."""
        bodies = self.bodies[index * self.events // rounds : (index + 1) * self.events // rounds]
        if not bodies:
            return
        for phases, what in ((self.fresh, "fresh events"), (self.duplicates, "duplicates")):
            self.progress.update(self.task, description=f"{self.label}: {what}")
            phases.append(
                _run_phase(
                    self.workbench,
                    self.runner_settings,
                    self.sandboxes,
                    self.meter,
                    self.probe,
                    bodies,
                )
            )
        self.progress.update(self.task, description=f"{self.label}: waiting")

    def summary(self) -> dict[str, Any]:
        self.progress.update(self.task, description=f"{self.label}: checking")
        result = _summarise_mode(
            self.workbench,
            self.mode,
            self.resources,
            self.events,
            _Phase.total(self.fresh),
            _Phase.total(self.duplicates),
        )
        self.progress.update(self.task, description=f"{self.label}: done")
        return result


def _summarise_mode(  # noqa: PLR0917 -- private, called once per mode with its two phases
    workbench: Workbench,
    mode: str,
    resources: Resources,
    events: int,
    fresh: _Phase,
    duplicates: _Phase,
) -> dict[str, Any]:
    report = check_tables(
        workbench.dynamodb(),
        ledger_table=resources.ledger_table,
        audit_table=resources.audit_table,
    )
    dlq = workbench.sqs().get_queue_attributes(
        QueueUrl=resources.dlq_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    by_rule = mode in _RULE_MODES
    n = float(events)

    def units(phase: _Phase) -> float:
        return phase.meter.write_units_rule if by_rule else phase.meter.write_units_reported

    return {
        "requests_per_event": round(fresh.meter.requests / n, 3),
        "requests_per_duplicate": round(duplicates.meter.requests / n, 3),
        "write_units_per_event": round(units(fresh) / n, 3),
        # DynamoDB Local reports nothing for a failed write: duplicates are counted by the rule.
        "write_units_per_duplicate": round(duplicates.meter.write_units_rule / n, 3),
        "events_per_second": round(events / fresh.seconds, 1),
        "duplicates_per_second": round(events / duplicates.seconds, 1),
        "latency_ms_p50": round(_percentile(fresh.samples_ms, 50), 2),
        # Invocation time per event, on average: what Lambda bills and, at a fixed concurrency,
        # what its throughput scales with (SQS is polled outside the function there).
        "handler_ms_per_event": round(sum(fresh.samples_ms) / n, 2),
        "latency_ms_p99": round(_percentile(fresh.samples_ms, 99), 2),
        "handler_cpu_ms_per_event": round(fresh.cpu_seconds * 1000 / n, 2),
        "handler_cpu_ms_per_duplicate": round(duplicates.cpu_seconds * 1000 / n, 2),
        # Every process's CPU over the fresh phase (from runner start to the drained queue),
        # per event: what the workbench spends where.
        "process_cpu_ms_per_event": {
            name: round(seconds * 1000 / n, 2)
            for name, seconds in fresh.process_cpu_seconds.items()
        },
        "process_cpu_ms_per_duplicate": {
            name: round(seconds * 1000 / n, 2)
            for name, seconds in duplicates.process_cpu_seconds.items()
        },
        "duplicate_latency_ms_p50": round(_percentile(duplicates.samples_ms, 50), 2),
        "duplicate_latency_ms_p99": round(_percentile(duplicates.samples_ms, 99), 2),
        "write_units_source": "rule" if by_rule else "reported",
        "write_units_duplicate_source": "rule",
        "write_units_per_event_reported": round(fresh.meter.write_units_reported / n, 3),
        "write_units_per_event_rule": round(fresh.meter.write_units_rule / n, 3),
        "write_units_per_duplicate_reported": round(duplicates.meter.write_units_reported / n, 3),
        "write_units_per_duplicate_rule": round(duplicates.meter.write_units_rule / n, 3),
        # Reads: inbox's duplicate lookup (BatchGetItem), as DynamoDB Local reports them.
        "read_units_per_event": round(fresh.meter.read_units_reported / n, 3),
        "read_units_per_duplicate": round(duplicates.meter.read_units_reported / n, 3),
        "api_calls_per_event": round(fresh.meter.api_calls / n, 3),
        "api_calls_per_duplicate": round(duplicates.meter.api_calls / n, 3),
        "dynamodb_call_ms_p50": round(_percentile(fresh.meter.call_ms, 50), 2),
        "operations": {
            "fresh": dict(fresh.meter.operations),
            "duplicates": dict(duplicates.meter.operations),
        },
        "seconds": {"fresh": round(fresh.seconds, 3), "duplicates": round(duplicates.seconds, 3)},
        "drained": fresh.drained and duplicates.drained,
        "ledger_items": report.ledger_items,
        "audit_items": report.audit_items,
        "anomalies_total": report.anomalies_total,
        "dlq_messages": sum(int(v) for v in dlq.values()),
    }


# ---------------------------------------------------------------------------------- cold start

# The client is built as the handler builds it (botocore, no boto3), outside the timer: the
# same for every mode. A mode whose writer imports more (Powertools' idempotency imports boto3)
# pays for it inside the timer, as its Lambda would.
_COLD_START_CODE: Final = """
import time
started = time.perf_counter()
import s3ledger.pipeline.handlers
imported = time.perf_counter()
client = s3ledger.pipeline.handlers.default_dynamodb_client()
from s3ledger.core.config import Settings
from s3ledger.pipeline.writers import make_writer
built = time.perf_counter()
make_writer(client, Settings.from_env())
done = time.perf_counter()
print((imported - started + done - built) * 1000)
"""


def _cold_start_once(mode: str) -> float:
    env = {
        **os.environ,
        "S3LEDGER_MODE": mode,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",  # never contacted
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # a dummy: the client sends nothing
    }
    result = subprocess.run(  # noqa: S603 -- our own interpreter and fixed code
        [sys.executable, "-c", _COLD_START_CODE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(result.stdout.strip().splitlines()[-1])


def cold_start_ms(
    modes: Sequence[str],
    runs: int = _COLD_START_RUNS,
    on_run: Callable[[], None] = lambda: None,
) -> dict[str, float]:
    """Median time per mode to import the handler module and build its writer, fresh each time.

    The modes take turns run after run, so that a slower moment of the machine does not fall on
    one mode only. The DynamoDB client is built outside the timer (every mode builds the same
    one) and never used: no request is sent.
    """
    timings: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(runs):
        for mode in modes:
            timings[mode].append(_cold_start_once(mode))
            on_run()
    return {mode: statistics.median(values) for mode, values in timings.items()}


# ------------------------------------------------------------------------------------- output


def _ratios(modes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float | None]]:
    reference = modes.get(REFERENCE_MODE)
    if reference is None:
        return {}
    ratios: dict[str, dict[str, float | None]] = {}
    for mode, result in modes.items():
        ratios[mode] = {}
        for key, _, _ in FIGURES:
            base = float(reference[key])
            ratios[mode][key] = round(float(result[key]) / base, 3) if base else None
    return ratios


def _machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                "",
            )
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _notes(summary: Mapping[str, Any]) -> list[str]:
    modes: Mapping[str, Mapping[str, Any]] = summary["modes"]
    notes = [
        "requests: every HTTP request the handler's DynamoDB client sent (Powertools' included).",
        "CPU / fresh event: each process's user+system CPU over the fresh phases (from /proc), "
        "per event; runner+handler is this process (runner, handlers, feeder, meters).",
        "latency: each invocation's time (Pipeline.handle_sqs) divided by the events in it; "
        "handler CPU: the invocations' thread CPU time (Python's side, not DynamoDB Local's) / N.",
        "events/s: N / (runner start → last delete), warm sandboxes, notifications sent as "
        "the runner works (at most a bounded backlog queued ahead), "
        f"{summary['workers']} workers, batch size {summary['batch']}.",
        f"cold start: median of {summary['cold_start_runs']} fresh interpreters per mode, the "
        "modes taking turns; import s3ledger.pipeline.handlers + make_writer (DynamoDB client "
        "built outside the timer).",
        f"before the modes, DynamoDB Local is warmed up with {summary['warmup_events']} events "
        "of each mode (both phases), each on a pipeline of its own; figures exclude them. "
        f"Then the modes take turns in {summary['rounds']} rounds (in order, then in reverse), "
        "each round a slice of the events fresh then again, so that none is measured only "
        "while DynamoDB Local is still speeding up.",
        f"the bench pipelines use {dict(BENCH_OVERRIDES)}, transact "
        f"{dict(MODE_OVERRIDES['transact'])}: {summary['dlq_note']}.",
    ]
    rule = [m for m, r in modes.items() if r["write_units_source"] == "rule"]
    if rule:
        notes.append(
            f"† write units of {', '.join(rule)} by DynamoDB's rule (2 per KB per transactional "
            "item, 1 per standard write): DynamoDB Local reports 2.0 per table of a transaction "
            "however many items of it the transaction writes ("
            + ", ".join(
                f"{m}: {modes[m]['write_units_per_event_reported']} per event reported"
                for m in rule
            )
            + "). The other modes' write units / fresh event are as DynamoDB Local reports them."
        )
    notes.append(
        "write units / duplicate, by the rule for every mode: DynamoDB Local reports nothing for "
        "a failed write. A failed conditional standard write costs its units (as DynamoDB "
        "documents); a cancelled transaction is counted as free here, so the transactional "
        "modes' figure is a lower bound."
    )
    if "inbox" in modes:
        inbox = modes["inbox"]
        notes.append(
            f"inbox: DynamoDB Local reports {inbox['write_units_per_event_reported']} units per "
            f"fresh event, the rule gives {inbox['write_units_per_event_rule']}."
        )
    return notes


_CHART_PANELS: Final = (
    ("requests_per_event", "requests / fresh event"),
    ("write_units_per_event", "write units / fresh event"),
    ("requests_per_duplicate", "requests / duplicate"),
    ("events_per_second", "fresh events / s"),
    ("duplicates_per_second", "duplicates / s"),
    ("latency_ms_p50", "latency / event p50 (ms)"),
)


def write_chart(summary: Mapping[str, Any], path: Path) -> None:
    """Bars per mode for the main figures; PNG or SVG by the file's suffix."""
    import matplotlib  # noqa: PLC0415 -- only for --chart

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: PLC0415

    modes: Mapping[str, Mapping[str, Any]] = summary["modes"]
    names = list(modes)
    colours = [f"C{i}" for i in range(len(names))]
    figure = Figure(figsize=(13, 7.5), layout="constrained")
    axes = figure.subplots(2, 3)
    for ax, (key, title) in zip(axes.flat, _CHART_PANELS, strict=True):
        values = [float(modes[m][key]) for m in names]
        bars = ax.bar(names, values, color=colours)
        ax.bar_label(bars, labels=[f"{v:.2f}" if v < 100 else f"{v:.0f}" for v in values])
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=20)
        ax.margins(y=0.15)
    figure.suptitle(
        f"s3ledger bench — {summary['events']} events, {summary['workers']} workers, "
        f"batch {summary['batch']}, {summary['machine']['cores']} cores, {summary['date']}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


# --------------------------------------------------------------------------------------- entry


def _warnings(modes: Mapping[str, Mapping[str, Any]], events: int) -> list[str]:
    warnings = []
    for mode, result in modes.items():
        if not result["drained"]:
            warnings.append(f"{mode}: the queue did not drain in time; figures are partial")
        if mode in {"inbox", "inbox-batch"} and (
            result["anomalies_total"]
            or result["ledger_items"] != events
            or result["audit_items"] != events
        ):
            warnings.append(
                f"{mode}: expected {events} ledger and audit items and no anomaly, found "
                f"{result['ledger_items']} / {result['audit_items']} and "
                f"{result['anomalies_total']} anomalies"
            )
    return warnings


def run_bench(
    *,
    events: int,
    modes: Sequence[Mode],
    workers: int,
    batch: int,
    as_json: bool,
    chart: Path | None,
    seed: int,
    streams: bool = False,
    cold_start_runs: int = _COLD_START_RUNS,
    warmup_events: int | None = None,
) -> dict[str, Any]:
    """Run the bench and return its summary (the CLI prints it and writes nothing else).

    ``warmup_events`` (default: ``min(events, 500)``) go through a throwaway pipeline of each mode
    first, so that no mode pays for DynamoDB Local's JIT warm-up; 0 skips it.
    """
    warmup = min(events, _WARMUP_EVENTS) if warmup_events is None else warmup_events
    console = Console(stderr=True)
    machine = _machine()
    date = datetime.now(UTC).isoformat(timespec="seconds")
    results: dict[str, Any] = {}
    # transact's rejected duplicates would log a line each; they are counted instead.
    with (
        handler_logs_silenced(),
        Workbench(dynamodb_port=free_port(), aws_port=free_port()) as workbench,
        counting_progress(console, disable=as_json) as progress,
    ):
        mode_bench = functools.partial(
            _ModeBench, workbench, workers=workers, batch=batch, progress=progress, streams=streams
        )
        # DynamoDB Local's JIT keeps speeding up over its first thousands of requests, and
        # each mode uses other request shapes: every mode warms up on a throwaway pipeline
        # of its own first, so no mode pays for the warm-up in its figures.
        for mode in modes if warmup else ():
            mode_bench(
                mode, events=warmup, seed=seed + 1, prefix="bench-warmup-", label=f"warm-up {mode}"
            ).run_round(0, 1)
        benches = [mode_bench(mode, events=events, seed=seed) for mode in modes]
        for index in range(_ROUNDS):
            for bench in benches if index % 2 == 0 else reversed(benches):
                bench.run_round(index, _ROUNDS)
        results.update({bench.mode: bench.summary() for bench in benches})
        task = progress.add_task("cold start", total=len(modes) * cold_start_runs)
        imports = cold_start_ms(modes, cold_start_runs, on_run=lambda: progress.advance(task))
        for mode in modes:
            results[mode]["import_ms"] = round(imports[mode], 1)
    summary: dict[str, Any] = {
        "modes": results,
        "ratios_to_powertools": _ratios(results),
        "events": events,
        "workers": workers,
        "batch": batch,
        "seed": seed,
        "streams": streams,
        "machine": machine,
        "date": date,
        "latency_method": "invocation time / events in the invocation",
        "overrides": {mode: {**BENCH_OVERRIDES, **MODE_OVERRIDES.get(mode, {})} for mode in modes},
        "cold_start_runs": cold_start_runs,
        "warmup_events": warmup,
        "rounds": _ROUNDS,
        "dlq_note": "transact rejects every duplicate, which goes to the DLQ at its first "
        "redelivery; its duplicates/s is the rate at which it rejects them (to the last "
        "invocation, not the DLQ move)",
        "warnings": _warnings(results, events),
    }
    summary["notes"] = _notes(summary)
    if chart is not None:
        write_chart(summary, chart)
    return summary

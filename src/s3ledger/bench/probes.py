"""Each sandbox of a bench run: metered, timed, kept warm.

A :class:`Probe` collects each invocation's time (``Handler.handle_sqs``, divided by the events
in it), the handler threads' CPU time and the runner's last activity, for one mode's sandboxes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from s3ledger.pipeline.handlers import Handler
from s3ledger.pipeline.writers import CountingMetrics, InvocationContext
from s3ledger.workbench.dynamodb_local import dynamodb_client
from s3ledger.workbench.runner import ExecutionEnvironment

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from s3ledger.bench.meters import Meter
    from s3ledger.core.config import Settings

__all__ = ["Probe", "Sandboxes", "TimedHandler"]


class Probe:
    """Per-invocation timings and the runner's last activity, shared by one mode's sandboxes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.samples_ms: list[float] = []  # one per event: its invocation's time / its events
        self.cpu_seconds = 0.0  # the handler threads' CPU time (Python's side only)
        self.handled = 0
        self.invocations = 0  # those that had events: the batches the runner handed over
        self.last_activity = 0.0
        self.on_progress: Callable[[int], None] = lambda _: None

    def reset(self) -> None:
        with self._lock:
            self.samples_ms = []
            self.cpu_seconds = 0.0
            self.handled = 0
            self.invocations = 0
            self.last_activity = 0.0

    def invocation(self, events: int, seconds: float, cpu_seconds: float) -> None:
        with self._lock:
            self.cpu_seconds += cpu_seconds
            if events:
                self.samples_ms.extend([seconds * 1000 / events] * events)
                self.invocations += 1
            self.handled += events
            self.last_activity = time.monotonic()
        self.on_progress(events)

    def deleted(self, **_: Any) -> None:
        with self._lock:
            self.last_activity = time.monotonic()


class TimedHandler(Handler):
    """The product's pipeline, timed around each SQS invocation."""

    def __init__(self, settings: Settings, client: DynamoDBClient, probe: Probe) -> None:
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


class Sandboxes:
    """The runner's environment factory: one metered, timed sandbox per worker, kept warm.

    A worker index gets the same sandbox every time, so the duplicates phase runs on the
    sandboxes that recorded the fresh events (as warm Lambda environments would).
    """

    def __init__(self, endpoint: str, settings: Settings, meter: Meter, probe: Probe) -> None:
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
                pipeline = TimedHandler(self._settings, client, self._probe)
                self._built[index] = ExecutionEnvironment(pipeline=pipeline, index=index)
            return self._built[index]

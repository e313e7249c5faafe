"""A local stand-in for Lambda's SQS event source mapping.

It does what the mapping does, on the queue the template declares:

* long-polls the queue and hands up to ``batch_size`` messages to the handler as one SQS event;
* polls apart from the sandboxes, as the mapping's pollers do: while ``workers`` sandboxes run
  invocations, ``workers`` pollers receive the next batches (at most one waiting per sandbox),
  so a sandbox does not sit idle while the queue is polled;
* gives each invocation a Lambda-like context whose deadline really runs out;
* deletes only the messages that succeeded (``batchItemFailures`` lists the others), on the
  mapping's side, so the sandbox takes its next batch meanwhile; a handler that raises, crashes
  or outlives its timeout has its whole batch left in the queue;
* leaves redelivery (after the visibility timeout) and the move to the DLQ (after
  ``maxReceiveCount`` receives) to the queue itself, as on AWS;
* runs ``workers`` execution environments concurrently, each with its own handler state.

Not emulated: the batching window (a receive returns as soon as messages are there) and scaling
the number of workers with the queue depth.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from s3ledger.operate.queues import queue_depth
from s3ledger.pipeline.handlers import Handler
from s3ledger.workbench.context import LocalContext
from s3ledger.workbench.faults import DynamoDBFaults, SimulatedCrash

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

__all__ = [
    "ExecutionEnvironment",
    "InvocationHook",
    "LocalRunner",
    "RunnerSettings",
    "RunnerStats",
    "lambda_sqs_event",
]


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    queue_url: str
    queue_arn: str
    batch_size: int
    function_timeout: float
    workers: int = 2
    wait_seconds: int = 1
    function_name: str = "s3ledger-local"


@dataclass
class ExecutionEnvironment:
    """One warm Lambda sandbox: handler state that lives across invocations."""

    pipeline: Handler
    faults: DynamoDBFaults | None = None
    index: int = 0


@dataclass
class RunnerStats:
    invocations: int = 0
    failed_invocations: int = 0  # raised, crashed, timed out, or reported a failed item
    crashed: int = 0
    timed_out: int = 0
    messages_received: int = 0
    messages_deleted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                # By name: callers add to any counter field (add(messages_deleted=3)).
                setattr(self, name, getattr(self, name) + value)

    def to_json(self) -> dict[str, int]:
        with self._lock:
            return {k: v for k, v in vars(self).items() if not k.startswith("_")}


# Called before each invocation with the batch and the environment about to run it: the proof
# harness arms faults here (a crash, a lost response) or sends a duplicate of a message.
InvocationHook = Callable[[Sequence["MessageTypeDef"], ExecutionEnvironment], None]


def _message_attributes(message: MessageTypeDef) -> dict[str, Any]:
    return {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }


def lambda_sqs_event(
    messages: Sequence[MessageTypeDef], queue_arn: str, region: str = "us-east-1"
) -> dict[str, Any]:
    """The event Lambda builds from received messages (the SQS record shape of the docs)."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": _message_attributes(message),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


class LocalRunner:
    """Poll a queue and invoke the handler in ``workers`` sandboxes, as the event mapping does.

    Each sandbox has a poller thread of its own; a batch received by any poller goes to the next
    free sandbox.
    """

    def __init__(
        self,
        settings: RunnerSettings,
        sqs_factory: Callable[[], SQSClient],
        environment_factory: Callable[[int], ExecutionEnvironment],
        before_invoke: InvocationHook | None = None,
    ) -> None:
        self.settings = settings
        self.stats = RunnerStats()
        self._sqs_factory = sqs_factory
        self._environment_factory = environment_factory
        self._before_invoke = before_invoke
        self._stop = threading.Event()
        self._sandboxes_stopped = threading.Event()
        # Received batches waiting for a sandbox: at most one per sandbox. A poller takes a slot
        # before it receives and a sandbox frees it when it takes the batch, so no poller holds
        # messages (their visibility timeout running) beyond that one batch ahead.
        self._batches: queue.Queue[list[MessageTypeDef]] = queue.Queue()
        self._slots = threading.Semaphore(settings.workers)
        # Messages of finished invocations, for the deleter. A batch counts as busy from the
        # moment a sandbox takes it until its messages are deleted.
        self._finished: queue.Queue[list[MessageTypeDef]] = queue.Queue()
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._deleter: threading.Thread | None = None
        self._errors: list[BaseException] = []

    def start(self) -> LocalRunner:
        for index in range(self.settings.workers):
            self._threads += [
                threading.Thread(
                    target=self._sandbox,
                    args=(index,),
                    name=f"s3ledger-sandbox-{index}",
                    daemon=True,
                ),
                threading.Thread(target=self._poll, name=f"s3ledger-poller-{index}", daemon=True),
            ]
        self._deleter = threading.Thread(
            target=self._delete_finished, name="s3ledger-deleter", daemon=True
        )
        for thread in [*self._threads, self._deleter]:
            thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        # Sandboxes first: the deleter then deletes what their last invocations finished.
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        self._sandboxes_stopped.set()
        if self._deleter is not None:
            self._deleter.join(max(0.0, deadline - time.monotonic()))
            self._deleter = None

    def __enter__(self) -> LocalRunner:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def busy(self) -> bool:
        """Whether a received batch is waiting for a sandbox, being handled, or being deleted."""
        with self._busy_lock:
            return self._busy > 0 or not self._batches.empty()

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected failures of the runner itself (not of the handler)."""
        return list(self._errors)

    def _poll(self) -> None:
        try:
            sqs = self._sqs_factory()
            while not self._stop.is_set():
                if not self._slots.acquire(timeout=0.1):
                    continue
                response = sqs.receive_message(
                    QueueUrl=self.settings.queue_url,
                    MaxNumberOfMessages=self.settings.batch_size,
                    WaitTimeSeconds=self.settings.wait_seconds,
                    MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
                messages = response.get("Messages", [])
                if messages:
                    self._batches.put(messages)  # its slot is freed when a sandbox takes it
                else:
                    self._slots.release()
        except BaseException as exc:  # reported through .errors; a dead poller must not hide
            self._errors.append(exc)

    def _sandbox(self, index: int) -> None:
        try:
            environment = self._environment_factory(index)
            while not self._stop.is_set():
                try:
                    messages = self._batches.get(timeout=0.1)
                except queue.Empty:
                    continue
                self._slots.release()
                with self._busy_lock:
                    self._busy += 1
                done: list[MessageTypeDef] = []
                try:
                    done = self._invoke(environment, messages)
                finally:
                    if done:
                        self._finished.put(done)
                    else:
                        self._not_busy()
        except BaseException as exc:  # reported through .errors; a dead worker must not hide
            self._errors.append(exc)

    def _not_busy(self) -> None:
        with self._busy_lock:
            self._busy -= 1

    def _delete_finished(self) -> None:
        """Delete the messages of finished invocations, as the event source mapping does."""
        try:
            sqs = self._sqs_factory()
            while not (self._sandboxes_stopped.is_set() and self._finished.empty()):
                try:
                    done = self._finished.get(timeout=0.05)
                except queue.Empty:
                    continue
                try:
                    self._delete(sqs, done)
                finally:
                    self._not_busy()
        except BaseException as exc:  # reported through .errors; a dead deleter must not hide
            self._errors.append(exc)

    def _delete(self, sqs: SQSClient, done: Sequence[MessageTypeDef]) -> None:
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            sqs.delete_message_batch(
                QueueUrl=self.settings.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        self.stats.add(messages_deleted=len(done))

    def _invoke(
        self, environment: ExecutionEnvironment, messages: list[MessageTypeDef]
    ) -> list[MessageTypeDef]:
        """Run one invocation; the messages to delete (none if it raised, crashed or timed out)."""
        self.stats.add(invocations=1, messages_received=len(messages))
        if self._before_invoke is not None:
            self._before_invoke(messages, environment)
        context = LocalContext(
            timeout_seconds=self.settings.function_timeout,
            function_name=self.settings.function_name,
        )
        event = lambda_sqs_event(messages, self.settings.queue_arn)
        started = time.monotonic()
        try:
            response = environment.pipeline.handle_sqs(event, context)
        except SimulatedCrash:
            self.stats.add(crashed=1, failed_invocations=1)
            return []  # the sandbox died: nothing is deleted, everything comes back
        except Exception:
            self.stats.add(failed_invocations=1)
            return []
        if time.monotonic() - started > self.settings.function_timeout:
            # Lambda would have killed it at the deadline: its answer never reaches the mapping.
            self.stats.add(timed_out=1, failed_invocations=1)
            return []
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        if failed:
            self.stats.add(failed_invocations=1)
        return [m for m in messages if m["MessageId"] not in failed]

    def wait_until_drained(
        self, sqs: SQSClient, timeout: float, *, poll: float = 0.25, settle: int = 3
    ) -> bool:
        """Wait until the queue holds nothing (visible or in flight) and no worker is busy."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            pending = queue_depth(sqs, self.settings.queue_url)
            quiet = quiet + 1 if pending == 0 and not self.busy else 0
            if quiet >= settle:
                return True
            time.sleep(poll)
        return False

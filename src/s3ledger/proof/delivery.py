"""Deterministic at-least-once delivery, with the faults AWS produces, for ``s3ledger chaos``.

``chaos`` must give the same counts for the same seed, so it does not race real queues. Instead
each worker is a *lane* that owns a disjoint set of objects and plays the SQS event source mapping
in a fixed order against the real handler and DynamoDB Local:

* batches of ``batch_size`` messages; a message that fails (reported, raised, crashed, timed out)
  comes back after everything already queued on its lane (its visibility timeout), and not before
  its failed invocation's deadline has passed in real time (the template's 6x rule guarantees it);
* a message received more than ``maxReceiveCount`` times moves to the DLQ;
* a concurrent duplicate is a second sandbox invoked with the same message *at the same moment*;
* a deadline fault holds the invocation's first write past its timeout, and starts its retry in
  a second sandbox while the first is still running (the "zombie" then writes too).

Lanes never share an object, so running them in parallel cannot change any count; within a lane
the order is fixed by the seed. What is real: every request, condition and transaction, at
DynamoDB Local, through the product's own handler.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from s3ledger.proof.checker import Notification
from s3ledger.workbench.context import LocalContext
from s3ledger.workbench.faults import SimulatedCrash
from s3ledger.workbench.runner import ExecutionEnvironment

__all__ = ["FAULT_KINDS", "FaultRates", "Lane", "Message"]

FAULT_KINDS: Final = (
    "duplicate",
    "reorder",
    "crash",
    "lost-response",
    "error",
    "deadline",
    "drop",
    "poison",
    "between",
    "backfill",
    "reconcile",
)

_DEFAULT_RATES: Final = {
    "duplicate": 0.10,
    "reorder": 0.10,
    "crash": 0.05,
    "lost-response": 0.05,
    "error": 0.05,
    "deadline": 0.005,
    "drop": 0.02,
    "poison": 0.005,
    # lean only: the invocation dies right after its first audit Put committed, before the
    # ledger Update (the crash point of two writes without a transaction).
    "between": 0.05,
    # Operator commands racing the traffic, not faults: after a request, the real `backfill` of
    # its key; after a request or a lane's batch, the real `reconcile --apply` of one key.
    "backfill": 0.02,
    "reconcile": 0.02,
}


@dataclass(frozen=True)
class FaultRates:
    """How often each fault strikes: per event (workload faults) or per invocation."""

    rates: dict[str, float] = field(default_factory=lambda: dict(_DEFAULT_RATES))

    def __getitem__(self, kind: str) -> float:
        """The rate of ``kind`` (0.0 if this run leaves it out); an unknown kind raises KeyError,
        so a misspelt name cannot read as a fault that never strikes."""
        if kind not in _DEFAULT_RATES:
            raise KeyError(f"unknown fault {kind!r}: choose from {', '.join(FAULT_KINDS)}")
        return self.rates.get(kind, 0.0)

    @classmethod
    def parse(cls, text: str) -> FaultRates:
        """``all``, ``none``, or ``kind[=rate],...`` (a bare kind takes its default rate)."""
        if text == "all":
            return cls()
        if text == "none":
            return cls({})
        rates: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            kind, _, rate = part.partition("=")
            if kind not in _DEFAULT_RATES:
                raise ValueError(f"unknown fault {kind!r}: choose from {', '.join(FAULT_KINDS)}")
            value = float(rate) if rate else _DEFAULT_RATES[kind]
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"rate of {kind} must be between 0 and 1, got {value}")
            rates[kind] = value
        return cls(rates)


@dataclass(eq=False)
class Message:
    """One SQS message: S3's notification (``None`` for a poison message)."""

    body: str
    notification: Notification | None = None
    concurrent_twin: bool = False
    # Where the message stands in its lane: redeliveries are replayed in this order, so which
    # of two racing copies failed cannot change what comes after.
    order: float = 0.0
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    receive_count: int = 0
    not_before: float = 0.0

    def record(self, queue_arn: str) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "receiptHandle": f"{self.message_id}-{self.receive_count}",
            "body": self.body,
            "attributes": {"ApproximateReceiveCount": str(self.receive_count)},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": "us-east-1",
        }

    def mark(self, fault: str) -> None:
        if self.notification is not None:
            self.notification.faults.add(fault)


_WRITE_OPERATION: Final = {
    "naive": "PutItem",
    "transact": "TransactWriteItems",
    "powertools": "TransactWriteItems",
    "inbox": "TransactWriteItems",
    "inbox-batch": "TransactWriteItems",
    # Two writes: each faulted invocation draws which of them the lost answers, errors and
    # deadline overruns strike.
    "lean": "PutItem|UpdateItem",
}
_ERRORS: Final = (
    ("ThrottlingException", 400, None),
    ("InternalServerError", 500, None),
    ("TransactionCanceledException", 400, ["None", "TransactionConflict"]),
)


class Lane:
    """One worker's share of the objects, delivered at least once, in a seeded order."""

    def __init__(
        self,
        *,
        mode: str,
        sandboxes: Callable[[], ExecutionEnvironment],
        rates: FaultRates,
        seed: int,
        batch_size: int,
        max_receive_count: int,
        function_timeout: float,
        queue_arn: str = "arn:aws:sqs:us-east-1:000000000000:s3ledger-chaos",
        on_progress: Callable[[int], None] | None = None,
        between_writes: str | None = None,
        repair: Callable[[str], None] | None = None,
    ) -> None:
        self.mode = mode
        # Text of the first write's request (lean: the audit table's name) after which the
        # "between" fault crashes; None: the mode has no such point.
        self._between = between_writes
        self._queue: deque[Message] = deque()
        self._main = sandboxes()
        self._twin = sandboxes()
        self._retry = sandboxes()
        self._rates = rates
        self._rng = random.Random(seed)
        self._batch_size = batch_size
        self._max_receive_count = max_receive_count
        self._timeout = function_timeout
        self._queue_arn = queue_arn
        self._on_progress = on_progress
        # `reconcile --apply` of one key of a batch, run between batches (None: never).
        self._repair = repair
        self.dlq: list[Message] = []
        self.injected: Counter[str] = Counter()
        self.requests = 0

    def run(self, messages: Sequence[Message]) -> None:
        """Deliver ``messages`` until each one is deleted or parked in ``dlq``."""
        self._queue.extend(messages)
        retry: deque[Message] = deque()
        while self._queue or retry:
            if not self._queue:
                # The visibility timeout has passed for everything that failed on this pass.
                self._queue, retry = deque(sorted(retry, key=lambda m: m.order)), deque()
                wait = max(m.not_before for m in self._queue) - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            batch: list[Message] = []
            while self._queue and len(batch) < self._batch_size:
                message = self._queue.popleft()
                message.receive_count += 1
                if message.receive_count > self._max_receive_count:
                    self.dlq.append(message)
                    if self._on_progress is not None:
                        self._on_progress(1)
                else:
                    batch.append(message)
            if batch:
                failed = self._invoke(batch)
                retry.extend(failed)
                if self._on_progress is not None:
                    self._on_progress(len(batch) - len(failed))
                self._maybe_repair(batch)
        self.requests = sum(
            len(env.faults.calls) for env in (self._main, self._twin, self._retry) if env.faults
        )

    def _maybe_repair(self, batch: Sequence[Message]) -> None:
        """A seeded ``reconcile --apply`` of one of the batch's keys, while this lane's other
        events are in flight (both draws are made every time: the seed's stream stays put)."""
        strikes = self._rng.random() < self._rates["reconcile"]
        pick = self._rng.randrange(len(batch))
        notification = batch[pick].notification
        if strikes and self._repair is not None and notification is not None:
            self._repair(notification.key)

    def _arm(self, env: ExecutionEnvironment, batch: Sequence[Message], *, racing: bool) -> bool:
        """Arm this invocation's faults; return True for a deadline fault.

        Every draw is made whatever is armed, so the seed's stream never depends on outcomes.
        A batch that races a concurrent twin gets no other fault: which sandbox wins the race is
        up to the machine, and a fault counted in calls would fire or not depending on it.
        """
        faults = env.faults
        assert faults is not None  # noqa: S101 -- lanes always build sandboxes with fault hooks
        faults.clear()
        writes = _WRITE_OPERATION[self.mode].split("|")
        write = writes[0] if len(writes) == 1 else self._rng.choice(writes)
        strikes = {
            kind: self._rng.random() < self._rates[kind] and not racing
            for kind in ("crash", "lost-response", "error", "deadline")
        }
        crash_after = self._rng.randint(1, 3)
        lost = self._rng.randint(1, 4)
        code, status, reasons = self._rng.choice(_ERRORS)
        failures = self._rng.randint(1, 6)
        if strikes["crash"]:
            faults.crash_after(crash_after)  # noted when it fires, in _call
        if self._between is not None:
            between = self._rng.random() < self._rates["between"]
            if between and not racing:
                faults.crash_after_write(self._between)  # noted when it fires, in _call
        if strikes["lost-response"]:
            faults.lose_response(write, times=lost)
            self._note("lost-response", batch)
        if strikes["error"]:
            if reasons is not None and write != "TransactWriteItems":
                code, status, reasons = "TransactionConflictException", 400, None
            faults.fail(write, code, status=status, cancellation_reasons=reasons, times=failures)
            self._note("error", batch)
        if strikes["deadline"]:
            faults.delay(write, self._timeout + 0.5)
            self._note("deadline", batch)
            return True
        return False

    def _note(self, kind: str, batch: Sequence[Message]) -> None:
        self.injected[kind] += 1
        for message in batch:
            message.mark(kind)

    def _call(
        self, env: ExecutionEnvironment, batch: Sequence[Message], *, overruns: bool = False
    ) -> set[str] | None:
        """One invocation: the failed message ids, or None if the whole batch failed.

        Only a deadline fault (``overruns``) is killed for running late: elsewhere the time an
        invocation takes depends on the machine and on botocore's random backoff, and letting it
        decide outcomes would make runs unrepeatable. For the same reason the context reports a
        constant remaining time (the function timeout).
        """
        event = {"Records": [m.record(self._queue_arn) for m in batch]}
        context = LocalContext(
            timeout_seconds=self._timeout,
            function_name=f"chaos-{self.mode}",
            frozen_remaining_ms=int(self._timeout * 1000),
        )
        crashes_between = env.faults.injected.get("crash", 0) if env.faults else 0
        try:
            response = env.pipeline.handle_sqs(event, context)
        except SimulatedCrash:
            between = (
                env.faults is not None and env.faults.injected.get("crash", 0) > crashes_between
            )
            self._note("between" if between else "crash", batch)
            return None
        if overruns:
            return None  # Lambda killed it at the deadline; its answer never arrived
        return {item["itemIdentifier"] for item in response["batchItemFailures"]}

    def _invoke(self, batch: list[Message]) -> list[Message]:
        twins = [m for m in batch if m.concurrent_twin and m.receive_count == 1]
        deadline = self._arm(self._main, batch, racing=bool(twins))
        results: dict[str, set[str] | None] = {}
        threads: list[threading.Thread] = []
        if twins:
            # S3 sent the notification twice and two sandboxes got it at the same moment.
            for message in twins:
                message.mark("duplicate")
            twin_batch = [
                Message(m.body, m.notification, order=m.order, receive_count=1) for m in twins
            ]
            if self._twin.faults is not None:
                self._twin.faults.clear()
            threads.append(
                threading.Thread(
                    target=lambda: results.__setitem__("twin", self._call(self._twin, twin_batch))
                )
            )
        threads.append(
            threading.Thread(
                target=lambda: results.__setitem__(
                    "main", self._call(self._main, batch, overruns=deadline)
                )
            )
        )
        for thread in threads:
            thread.start()
        if deadline:
            # The invocation outlives its timeout; its retry starts while it still runs.
            time.sleep(self._timeout + 0.2)
            for message in batch:
                message.receive_count += 1
            if self._retry.faults is not None:
                self._retry.faults.clear()
            results["retry"] = self._call(self._retry, batch)
        for thread in threads:
            thread.join()
        not_before = time.monotonic() + self._timeout
        outcome = results.get("retry") if deadline else results["main"]
        failed = list(batch) if outcome is None else [m for m in batch if m.message_id in outcome]
        if twins:
            twin_outcome = results.get("twin")
            failed_twins = (
                {m.message_id for m in twin_batch} if twin_outcome is None else twin_outcome
            )
            failed.extend(m for m in twin_batch if m.message_id in failed_twins)
        for message in failed:
            message.not_before = not_before
        return failed

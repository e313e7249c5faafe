"""The protocol every write mode implements, its optional abilities, and what a write reports."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol, runtime_checkable

from s3ledger.core.errors import S3LedgerError
from s3ledger.core.events import ObjectEvent

__all__ = [
    "BatchResult",
    "BatchWriter",
    "CountingMetrics",
    "ExpectingWriter",
    "InvocationContext",
    "MetricsSink",
    "NullMetrics",
    "Outcome",
    "Writer",
]


class Outcome(StrEnum):
    """What writing one event did."""

    APPLIED = "applied"  # the ledger now reflects this event, and the audit log records it
    DUPLICATE = "duplicate"  # the event had been recorded before; nothing was written
    SUPERSEDED = "superseded"  # a newer event of the object was already applied (as audited)
    # What a GET returns did not change (a noncurrent version or a delete marker was removed for
    # good, or S3 shows the state the ledger has): the ledger stays; a sequenced event raises its
    # sequencer only (core.settle); audited as unchanged.
    UNCHANGED = "unchanged"


class InvocationContext(Protocol):
    """The parts of Lambda's context object a writer uses."""

    @property
    def aws_request_id(self) -> str: ...

    def get_remaining_time_in_millis(self) -> int: ...


class MetricsSink(Protocol):
    """Where writers count what handlers publish as metrics (TransactionConflicts, ...)."""

    def count(self, name: str, value: int = 1) -> None: ...


class NullMetrics:
    """A sink that forgets: for library use without metrics."""

    def count(self, name: str, value: int = 1) -> None:
        return None


class CountingMetrics:
    """A thread-safe tally, for the local runner, the benchmark and tests."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, name: str, value: int = 1) -> None:
        with self._lock:
            self._counts[name] += value

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class Writer(Protocol):
    """Write one S3 event to the ledger and audit tables.

    Raises ``RetryableError`` when the event may succeed later and ``PoisonError`` when it never
    will; returns the outcome otherwise. Implementations: naive, transact, powertools, inbox,
    inbox-batch, lean.
    """

    mode: str

    def write(self, event: ObjectEvent, context: InvocationContext) -> Outcome: ...


# What writing one event of a batch ended with: its outcome, or the error it failed with.
BatchResult = Outcome | S3LedgerError


@runtime_checkable
class BatchWriter(Writer, Protocol):
    """A writer that can write a whole SQS batch at once (``inbox-batch``).

    The handler hands such a writer every event of the batch in one call instead of one by one.
    """

    def write_batch(
        self, events: Sequence[ObjectEvent], context: InvocationContext
    ) -> list[BatchResult]: ...


@runtime_checkable
class ExpectingWriter(Writer, Protocol):
    """A writer that uses knowing the invocation's events in advance (``inbox``'s look-ahead).

    The handler announces the batch's events, in order, before writing them one by one.
    """

    def expect(self, events: Sequence[ObjectEvent]) -> None: ...

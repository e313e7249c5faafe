"""The protocol every write mode implements, and what a write reports."""

from __future__ import annotations

import threading
from collections import Counter
from enum import StrEnum
from typing import Protocol

from s3ledger.core.events import ObjectEvent

__all__ = [
    "CountingMetrics",
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
    STALE = "stale"  # a newer event of the object was already applied; audited as superseded
    # Newer, but what a GET returns did not change (a noncurrent version or a delete marker was
    # removed for good): the ledger's order moved, its state did not; audited as unchanged.
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
    will; returns the outcome otherwise. Implementations: naive, transact, powertools, inbox.
    """

    mode: str

    def write(self, event: ObjectEvent, context: InvocationContext) -> Outcome: ...

"""What a writer sees of its invocation (Lambda's context: a request id and a deadline) and where
it counts what happened (a metrics sink). Below the writers and the DynamoDB gateway, which stops
retrying before the deadline and counts transaction conflicts."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Protocol

__all__ = ["CountingMetrics", "InvocationContext", "MetricsSink", "NullMetrics"]


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

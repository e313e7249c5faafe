"""Counting the requests a run sends, per operation, through botocore's event hooks, and the read
units its ``BatchGetItem`` calls cost by DynamoDB's rule (each key read, consistently, of an item
up to 4 KB: one unit; missing or not, the key is read)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["RequestCounter"]


class RequestCounter:
    """API calls per operation of every client it is attached to (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.operations: Counter[str] = Counter()
        self.read_units = 0.0

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-parameter-build", self._before_parameter_build)
        return client

    def _before_parameter_build(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        units = 0.0
        if model.name == "BatchGetItem":
            for request in params.get("RequestItems", {}).values():
                per_key = 1.0 if request.get("ConsistentRead") else 0.5
                units += per_key * len(request.get("Keys", []))
        with self._lock:
            self.operations[model.name] += 1
            self.read_units += units

    def total(self) -> int:
        with self._lock:
            return sum(self.operations.values())

"""Counting what a mode costs: a :class:`Meter` on DynamoDB clients, and a :class:`CpuClock` on
the workbench's processes.

A meter on each sandbox's DynamoDB client counts every request (Powertools' own included: they
share the client), adds ``ReturnConsumedCapacity=TOTAL`` to every call that accepts it and sums
what DynamoDB reports, and the write units by DynamoDB's rule (:mod:`s3ledger.bench.units`).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from s3ledger.bench.units import consumed_units, rule_write_units
from s3ledger.pipeline.dynamodb import CONDITION_FAILED_ERROR as CONDITION_FAILED
from s3ledger.workbench.workbench import Workbench

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["CpuClock", "Meter", "MeterTotals", "process_cpu_seconds"]

_WRITE_OPERATIONS: Final = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
_CONTEXT_KEY: Final = "s3ledger_bench"


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
        write, read = consumed_units(parsed, writes=is_write)
        status = getattr(http_response, "status_code", 500)
        code = parsed.get("Error", {}).get("Code", "")
        if status < 300:
            rule = committed
        elif code == CONDITION_FAILED:
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


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process so far, from ``/proc`` (Linux); else ``None``."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuClock:
    """CPU seconds of the workbench's processes and of this one (runner, handlers, feeder)."""

    def __init__(self, workbench: Workbench) -> None:
        self._pids = {
            "dynamodb_local": workbench.dynamodb_local.pid,
            "moto": workbench.moto_server.pid,
        }

    def read(self) -> dict[str, float | None]:
        times = os.times()
        readings = {name: process_cpu_seconds(pid) for name, pid in self._pids.items()}
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

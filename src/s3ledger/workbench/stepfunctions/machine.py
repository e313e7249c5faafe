"""The states of a workflow, run one after the other: Task (``lambda:invoke``), Choice, Pass,
Succeed, Fail and Map (:mod:`.distributed`), with ``Retry`` as the Developer Guide's "Error
handling in Step Functions" describes it (``IntervalSeconds`` x ``BackoffRate`` per attempt,
capped by ``MaxDelaySeconds``, ``JitterStrategy`` FULL drawing uniformly below that).

A field this module does not know makes the whole definition refused
(:func:`check_definition`), so the stand-in never runs a state machine differently from what its
definition says.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from s3ledger.workbench.stepfunctions.paths import (
    StatesError,
    UnsupportedDefinition,
    apply_result,
    choose,
    fill,
    read_path,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "PAYLOAD_LIMIT",
    "Ending",
    "Invoker",
    "Runtime",
    "Usage",
    "check_definition",
    "crossing_json",
    "run_states",
]

# Step Functions' maximum input or output of a state or an execution: 256 KiB of UTF-8.
PAYLOAD_LIMIT: Final = 256 * 1024
LAMBDA_INVOKE: Final = "arn:aws:states:::lambda:invoke"

_COMMON: Final = {"Type", "Comment", "Next", "End", "InputPath", "OutputPath"}
_FIELDS: Final = {
    "Task": {"Resource", "Parameters", "ResultSelector", "ResultPath", "Retry"},
    "Choice": {"Choices", "Default"},
    "Pass": {"Parameters", "Result", "ResultPath"},
    "Succeed": set(),
    "Fail": {"Error", "Cause"},
    "Map": {
        "ItemReader",
        "ItemsPath",
        "ItemSelector",
        "ItemBatcher",
        "ItemProcessor",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCount",
        "ResultWriter",
        "ResultPath",
        "ResultSelector",
        "Label",
    },
}
_RETRIER: Final = {
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
}


class Invoker(Protocol):
    """Calls a Lambda function by name or ARN with a JSON payload; a function error raises
    :class:`StatesError` named after the error's type, as ``lambda:invoke`` reports it."""

    def __call__(self, function: str, payload: Any) -> Any: ...


@dataclass
class Usage:
    """What a run would be billed for: Standard state transitions, Express child executions and
    their duration (AWS Step Functions pricing)."""

    transitions: int = 0
    express_requests: int = 0
    express_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, transitions: int = 0, requests: int = 0, seconds: float = 0.0) -> None:
        with self.lock:
            self.transitions += transitions
            self.express_requests += requests
            self.express_seconds += seconds


@dataclass(kw_only=True)
class Ending:
    """How an execution (or a child workflow) ended, and when it ran."""

    status: str = "RUNNING"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    stopped: datetime | None = None

    def end(self, run: Callable[[], Any]) -> None:
        """Run ``run()`` and record how it ended: its output, or the error that ended it."""
        try:
            self.output, self.status = run(), "SUCCEEDED"
        except StatesError as error:
            self.status = "ABORTED" if error.name == "States.Aborted" else "FAILED"
            self.error, self.cause = error.name, error.cause
        except Exception as exc:  # a bug of the stand-in: the run fails, visibly
            self.status, self.error = "FAILED", "States.Runtime"
            self.cause = f"{type(exc).__name__}: {exc}"
        self.stopped = datetime.now(UTC)


@dataclass
class Runtime:
    """What an execution (and its child workflows) needs from the stand-in."""

    invoke: Invoker
    s3: S3Client
    execution_arn: str
    state_machine_arn: str
    stopped: threading.Event = field(default_factory=threading.Event)
    sleep: Callable[[float], None] = time.sleep
    # Called with each Map Run as it starts (the service lists and describes them).
    on_map_run: Callable[[Any], None] = lambda _: None
    usage: Usage = field(default_factory=Usage)


def check_definition(definition: Mapping[str, Any]) -> None:
    """Refuse a definition that uses a field, state type or resource this stand-in lacks."""
    for name, state in definition["States"].items():
        kind = state.get("Type")
        if kind not in _FIELDS:
            raise UnsupportedDefinition(f"state {name}: type {kind!r} is not supported")
        unknown = set(state) - _COMMON - _FIELDS[kind]
        if unknown:
            raise UnsupportedDefinition(f"state {name}: {sorted(unknown)} not supported")
        if kind == "Task" and state["Resource"] != LAMBDA_INVOKE:
            raise UnsupportedDefinition(f"state {name}: only {LAMBDA_INVOKE} tasks run here")
        for retrier in state.get("Retry", []):
            if set(retrier) - _RETRIER or retrier.get("JitterStrategy", "FULL") not in {
                "FULL",
                "NONE",
            }:
                raise UnsupportedDefinition(f"state {name}: Retry {retrier} not supported")
        if kind == "Map":
            from s3ledger.workbench.stepfunctions.distributed import check_map  # noqa: PLC0415 -- distributed imports this module

            check_map(name, state)
            check_definition(state["ItemProcessor"])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _delay(retrier: Mapping[str, Any], attempt: int) -> float:
    delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** (
        attempt
    )
    delay = min(delay, float(retrier.get("MaxDelaySeconds", delay)))
    if retrier.get("JitterStrategy") == "FULL":
        delay = random.uniform(0, delay)  # noqa: S311 -- a pause, not a secret
    return delay


def with_retries(
    retriers: Iterable[Mapping[str, Any]], call: Callable[[], Any], runtime: Runtime
) -> Any:
    """``call()``, retried as the first retrier whose ``ErrorEquals`` names the error says."""
    attempts: dict[int, int] = {}
    retriers = list(retriers)
    while True:
        try:
            return call()
        except StatesError as error:
            match = next(
                (
                    (index, r)
                    for index, r in enumerate(retriers)
                    if error.name in r["ErrorEquals"] or "States.ALL" in r["ErrorEquals"]
                ),
                None,
            )
            if match is None or attempts.get(match[0], 0) >= match[1].get("MaxAttempts", 3):
                raise
            index, retrier = match
            runtime.sleep(_delay(retrier, attempts.get(index, 0)))
            attempts[index] = attempts.get(index, 0) + 1


def crossing_json(value: Any, what: str) -> Any:
    """``value`` as it crosses Step Functions: JSON, at most 256 KiB."""
    text = json.dumps(value)
    if len(text.encode()) > PAYLOAD_LIMIT:
        raise StatesError("States.DataLimitExceeded", f"{what} is over 256 KiB")
    return json.loads(text)


def _task(state: Mapping[str, Any], document: Any, context: Any, runtime: Runtime) -> Any:
    parameters = fill(state.get("Parameters", {}), document, context)
    function, payload = (
        parameters["FunctionName"],
        crossing_json(parameters.get("Payload"), "payload"),
    )

    def call() -> Any:
        if runtime.stopped.is_set():
            raise StatesError("States.Aborted", "the execution was stopped")
        answer = crossing_json(runtime.invoke(function, payload), "the function's response")
        return {"ExecutedVersion": "$LATEST", "Payload": answer, "StatusCode": 200}

    return with_retries(state.get("Retry", []), call, runtime)


def run_states(
    definition: Mapping[str, Any],
    document: Any,
    context: dict[str, Any],
    runtime: Runtime,
    *,
    express: bool = False,
) -> Any:
    """Run a workflow's states from ``StartAt`` on ``document``; its output, or
    :class:`StatesError` for the error that ended it. ``express``: an Express child workflow
    (billed per execution, not per state transition)."""
    states, name = definition["States"], definition["StartAt"]
    while True:
        if runtime.stopped.is_set():
            raise StatesError("States.Aborted", "the execution was stopped")
        if not express:
            runtime.usage.add(transitions=1)
        state = states[name]
        context = {**context, "State": {"Name": name, "EnteredTime": _now()}}
        effective = read_path(state.get("InputPath", "$"), document, context)
        kind = state["Type"]
        if kind == "Fail":
            raise StatesError(state.get("Error", "States.Fail"), state.get("Cause", ""))
        if kind in {"Choice", "Succeed"}:
            output = read_path(state.get("OutputPath", "$"), effective, context)
            if kind == "Succeed":
                return output
            name, document = choose(state, effective, context), output
            continue
        if kind == "Task":
            result = _task(state, effective, context, runtime)
        elif kind == "Map":
            from s3ledger.workbench.stepfunctions.distributed import run_map  # noqa: PLC0415 -- distributed imports this module

            result = run_map(name, state, effective, context, runtime)
        else:  # Pass
            result = (
                fill(state["Parameters"], effective, context)
                if "Parameters" in state
                else (state.get("Result", effective))
            )
        document = apply_result(state, document, result, context)
        if state.get("End"):
            return document
        name = state["Next"]

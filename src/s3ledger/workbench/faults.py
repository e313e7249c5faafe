"""Faults injected where they really happen, as the real exceptions.

``DynamoDBFaults`` hooks a boto3 DynamoDB client through botocore's event system, so the product
code runs unchanged and meets exactly what botocore would raise:

* ``fail``: DynamoDB answers with an error (throttling, 5xx, a transaction conflict) *before* doing
  anything; botocore parses it into the real ``ClientError`` and applies its own retry rules;
* ``lose_response``: the request really reaches DynamoDB and commits, then the client sees a
  ``ReadTimeoutError``, as when a response is lost on the way back (an ambiguous write);
* ``crash_after``: the invocation dies right after its k-th DynamoDB call returned, as when Lambda
  times out or the sandbox is killed. ``SimulatedCrash`` derives from ``BaseException`` so no
  ``except Exception`` (ours or Powertools') runs cleanup after it, exactly like a real crash.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["DynamoDBFaults", "SimulatedCrash", "error_response"]

_JSON_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"})


class SimulatedCrash(BaseException):
    """The invocation died here; nothing after this point runs."""


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._payload


def error_response(
    request: AWSPreparedRequest,
    code: str,
    *,
    status: int = 400,
    cancellation_reasons: list[str] | None = None,
) -> AWSResponse:
    """DynamoDB's own error shape (JSON 1.0 protocol), as botocore would receive it."""
    body: dict[str, Any] = {"__type": f"{_JSON_PREFIX}{code}", "message": f"injected {code}"}
    if cancellation_reasons is not None:
        body["CancellationReasons"] = [{"Code": reason} for reason in cancellation_reasons]
        body["Message"] = f"Transaction cancelled [{', '.join(cancellation_reasons)}]"
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.0"
    headers["x-amzn-RequestId"] = "injected-fault"
    return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))


@dataclass
class _Rule:
    operation: str
    remaining: int
    code: str = ""
    status: int = 400
    cancellation_reasons: list[str] | None = None
    lose_response: bool = False
    matching: bytes | None = None
    delay: float = 0.0


@dataclass
class DynamoDBFaults:
    """Fault rules for one client. Thread-safe; every rule fires a bounded number of times."""

    client: DynamoDBClient
    calls: list[str] = field(default_factory=list)
    injected: dict[str, int] = field(default_factory=dict)
    _rules: list[_Rule] = field(default_factory=list)
    _crash_after: int | None = None
    _crash_writes: list[_Rule] = field(default_factory=list)
    _crash_pending: _Rule | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: URLLib3Session = field(default_factory=URLLib3Session)

    def __post_init__(self) -> None:
        events = self.client.meta.events
        # botocore uses a non-None answer of a before-send handler as the HTTP response.
        events.register("before-send.dynamodb", self._before_send)  # type: ignore[arg-type]  # the stubs type handlers as returning None
        events.register("after-call.dynamodb", self._after_call)

    def fail(
        self,
        operation: str,
        code: str,
        *,
        times: int = 1,
        status: int = 400,
        cancellation_reasons: list[str] | None = None,
        matching: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests of ``operation`` with error ``code``, unsent.

        With ``matching``, only requests whose JSON body contains that text count.
        """
        with self._lock:
            self._rules.append(
                _Rule(
                    operation,
                    times,
                    code,
                    status,
                    cancellation_reasons,
                    matching=None if matching is None else matching.encode(),
                )
            )

    def lose_response(self, operation: str, *, times: int = 1, matching: str | None = None) -> None:
        """Send the next ``times`` requests of ``operation``, then raise ``ReadTimeoutError``."""
        with self._lock:
            self._rules.append(
                _Rule(
                    operation,
                    times,
                    lose_response=True,
                    matching=None if matching is None else matching.encode(),
                )
            )

    def delay(self, operation: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next ``times`` requests of ``operation`` for ``seconds`` before sending them.

        A slow dependency, or an invocation that outlives its deadline: the write still happens.
        """
        with self._lock:
            self._rules.append(_Rule(operation, times, delay=seconds))

    def crash_after(self, calls: int) -> None:
        """Raise ``SimulatedCrash`` once the client has completed ``calls`` more calls."""
        with self._lock:
            self._crash_after = len(self.calls) + calls

    def crash_after_write(self, matching: str, *, times: int = 1) -> None:
        """Crash right after the next successful write whose request mentions ``matching``.

        "Between the two writes": for ``naive`` that is after its ledger put, for the
        transactional modes after the transaction committed. ``matching`` is compared with the
        JSON request body, so pass text as it appears there (``json.dumps(text)[1:-1]``).
        """
        with self._lock:
            self._crash_writes.append(_Rule("", times, matching=matching.encode()))

    def clear(self) -> None:
        """Disarm every rule (a new invocation starts with a clean slate)."""
        with self._lock:
            self._rules.clear()
            self._crash_writes.clear()
            self._crash_after = None
            self._crash_pending = None

    def _take(self, operation: str, body: bytes) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if (
                    rule.operation == operation
                    and rule.remaining > 0
                    and (rule.matching is None or rule.matching in body)
                ):
                    rule.remaining -= 1
                    kind = (
                        "lost-response"
                        if rule.lose_response
                        else "delay"
                        if rule.delay
                        else rule.code
                    )
                    self.injected[kind] = self.injected.get(kind, 0) + 1
                    return rule
        return None

    def _before_send(
        self, request: AWSPreparedRequest, event_name: str, **_: Any
    ) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        if operation in _WRITES:
            with self._lock:
                for crash in self._crash_writes:
                    if (
                        crash.remaining > 0
                        and crash.matching is not None
                        and crash.matching in body
                    ):
                        self._crash_pending = crash
                        break
        rule = self._take(operation, body)
        if rule is None:
            return None
        if rule.delay:
            time.sleep(rule.delay)
            return None
        if rule.lose_response:
            # The request really commits; only its answer is lost.
            self._http.send(request)
            raise ReadTimeoutError(endpoint_url=request.url)
        return error_response(
            request, rule.code, status=rule.status, cancellation_reasons=rule.cancellation_reasons
        )

    def _after_call(self, event_name: str, http_response: Any = None, **_: Any) -> None:
        succeeded = http_response is not None and http_response.status_code < 300
        with self._lock:
            self.calls.append(event_name.rsplit(".", 1)[-1])
            crash = self._crash_after is not None and len(self.calls) >= self._crash_after
            if crash:
                self._crash_after = None
            pending, self._crash_pending = self._crash_pending, None
            if pending is not None and succeeded and pending.remaining > 0:
                pending.remaining -= 1
                self.injected["crash"] = self.injected.get("crash", 0) + 1
                crash = True
        if crash:
            raise SimulatedCrash(f"crashed after call {len(self.calls)} ({self.calls[-1]})")

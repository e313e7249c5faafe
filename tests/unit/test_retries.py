"""The DynamoDB gateway's bounded retry, shared by every write mode, and how DynamoDB's failures
are classified.

Pure: no emulator. Sleeping, jitter and the invocation's clock are injected, so each test sees
exactly how many attempts ran and how long the writer would have paused between them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from s3ledger.core.config import RetryPolicy
from s3ledger.core.errors import (
    AmbiguousWriteError,
    PoisonError,
    RejectedWriteError,
    RetryableError,
    ThrottledError,
    TransactionConflictError,
    TransientWriteError,
)
from s3ledger.pipeline.aws import error_code
from s3ledger.pipeline.dynamodb import Cancellation, classify, with_retries
from s3ledger.pipeline.invocation import CountingMetrics


class Clock:
    """A Lambda context whose remaining time is set by the test."""

    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


Attempt = Callable[[], str]


def failing(times: int, error: Exception, result: str = "done") -> tuple[Attempt, list[int]]:
    """An attempt that raises ``error`` ``times`` times then returns ``result``; its call log."""
    calls: list[int] = []

    def attempt() -> str:
        calls.append(len(calls))
        if len(calls) <= times:
            raise error
        return result

    return attempt, calls


CANCELED = "TransactionCanceledException"


def client_error(code: str, reasons: list[str] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": "m"}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r} for r in reasons]
    return ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


def run(
    attempt: Callable[[], str],
    *,
    policy: RetryPolicy | None = None,
    clock: Clock | None = None,
    metrics: CountingMetrics | None = None,
    sleeps: list[float] | None = None,
) -> str:
    return with_retries(
        attempt,
        policy=policy or RetryPolicy(),
        context=clock or Clock(),
        metrics=metrics or CountingMetrics(),
        sleep=(sleeps if sleeps is not None else []).append,
        draw=lambda: 1.0,  # the top of the jitter range: pauses are the policy's ceilings
    )


# ---------------------------------------------------------------------------- RetryPolicy.delay


def test_the_delay_is_full_jitter_under_an_exponential_ceiling() -> None:
    """``delay(n, draw)`` is ``draw`` times ``min(max_delay, base * 2**n)``: zero for a zero
    draw, the ceiling for a draw of one, and never above ``max_delay``."""
    policy = RetryPolicy(base_delay=0.05, max_delay=1.0)
    assert [policy.delay(n, 1.0) for n in range(4)] == pytest.approx([0.05, 0.1, 0.2, 0.4])
    assert policy.delay(3, 0.5) == pytest.approx(0.2)
    assert policy.delay(2, 0.0) == 0.0
    assert policy.delay(10, 1.0) == 1.0  # 0.05 * 1024 = 51.2 s, capped


# ---------------------------------------------------------------------------------- with_retries


def test_a_first_success_returns_at_once_without_sleeping() -> None:
    """No failure: one call, its result returned, no pause."""
    attempt, calls = failing(0, TransientWriteError("x"), result="ok")
    sleeps: list[float] = []
    assert run(attempt, sleeps=sleeps) == "ok"
    assert calls == [0]
    assert sleeps == []


def test_retryable_errors_are_retried_with_growing_pauses_until_success() -> None:
    """Two transient failures then success: three calls, and the writer paused twice, by the
    policy's delays for attempts 0 and 1."""
    attempt, calls = failing(2, ThrottledError("slow down"))
    sleeps: list[float] = []
    assert run(attempt, sleeps=sleeps) == "done"
    assert len(calls) == 3
    assert sleeps == pytest.approx([0.05, 0.1])


def test_retries_stop_after_the_policy_s_attempts_and_re_raise_the_last_error() -> None:
    """Always failing: exactly ``attempts`` calls, ``attempts - 1`` pauses, and the error itself
    comes out (so the message comes back)."""
    error = TransientWriteError("still down")
    attempt, calls = failing(99, error)
    sleeps: list[float] = []
    with pytest.raises(TransientWriteError) as raised:
        run(attempt, policy=RetryPolicy(attempts=3), sleeps=sleeps)
    assert raised.value is error
    assert len(calls) == 3
    assert len(sleeps) == 2


def test_a_poison_error_is_never_retried() -> None:
    """Only ``RetryableError`` is retried: a rejected write propagates after one call."""
    attempt, calls = failing(99, RejectedWriteError("too large"))
    sleeps: list[float] = []
    with pytest.raises(RejectedWriteError):
        run(attempt, sleeps=sleeps)
    assert calls == [0]
    assert sleeps == []


def test_an_unclassified_exception_is_never_retried() -> None:
    """A bug (say a ``KeyError``) is not a transient failure: it propagates at once."""
    attempt, calls = failing(99, KeyError("id"))
    with pytest.raises(KeyError):
        run(attempt)
    assert calls == [0]


def test_retries_stop_when_the_next_pause_would_cross_the_deadline_margin() -> None:
    """With 1.1 s left, a 0.05 s pause would leave 1.05 s, above the 1 s margin: retry once; with
    1.04 s left it would leave 0.99 s: give up after the first call instead of timing out."""
    attempt, calls = failing(1, ThrottledError("x"))
    assert run(attempt, clock=Clock(remaining_ms=1_100)) == "done"
    assert len(calls) == 2

    attempt, calls = failing(1, ThrottledError("x"))
    sleeps: list[float] = []
    with pytest.raises(ThrottledError):
        run(attempt, clock=Clock(remaining_ms=1_040), sleeps=sleeps)
    assert calls == [0]
    assert sleeps == []


def test_each_transaction_conflict_is_counted_as_a_metric() -> None:
    """``TransactionConflicts`` counts every conflict, including the last one that gives up;
    other retryable errors are not counted."""
    metrics = CountingMetrics()
    attempt, _ = failing(99, TransactionConflictError("held"))
    with pytest.raises(TransactionConflictError):
        run(attempt, policy=RetryPolicy(attempts=3), metrics=metrics)
    assert metrics.snapshot().get("TransactionConflicts") == 3

    other = CountingMetrics()
    attempt, _ = failing(2, ThrottledError("x"))
    run(attempt, metrics=other)
    assert "TransactionConflicts" not in other.snapshot()


# -------------------------------------------------------------------------------------- classify


def case_id(value: object) -> str:
    """``ThrottlingException``, ``TransactionCanceledException[None,TransactionConflict]``,
    ``ReadTimeoutError``, or the expected class's name."""
    if isinstance(value, ClientError):
        reasons = Cancellation.of(value, "w").codes
        listed = f"[{','.join(str(r) for r in reasons)}]" if reasons else ""
        return error_code(value) + listed
    if isinstance(value, Exception):
        return type(value).__name__
    return getattr(value, "__name__", str(value))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("ThrottlingException"), ThrottledError),
        (client_error("ProvisionedThroughputExceededException"), ThrottledError),
        (client_error("RequestLimitExceeded"), ThrottledError),
        (client_error("InternalServerError"), TransientWriteError),
        (client_error("ServiceUnavailable"), TransientWriteError),
        (client_error("TransactionInProgressException"), TransientWriteError),
        (client_error("SomethingNewFromAWS"), TransientWriteError),
        (client_error("ValidationException"), RejectedWriteError),
        (client_error("ItemCollectionSizeLimitExceededException"), RejectedWriteError),
        (client_error("SerializationException"), RejectedWriteError),
        (
            client_error(CANCELED, ["None", "TransactionConflict"]),
            TransactionConflictError,
        ),
        (
            client_error(CANCELED, ["ThrottlingError", "None"]),
            ThrottledError,
        ),
        (
            client_error(CANCELED, ["TransactionConflict", "ValidationError"]),
            RejectedWriteError,
        ),
        (
            client_error(CANCELED, ["ThrottlingError", "TransactionConflict"]),
            TransactionConflictError,
        ),
        (ReadTimeoutError(endpoint_url="http://ddb"), AmbiguousWriteError),
        (ConnectionClosedError(endpoint_url="http://ddb"), AmbiguousWriteError),
        (OSError("reset"), TransientWriteError),
    ],
    ids=case_id,
)
def test_classify_maps_each_failure_to_the_reaction_it_calls_for(
    error: Exception, expected: type[Exception]
) -> None:
    """The table in ``pipeline/dynamodb/errors.py``: the class is exact (a conflict is not merely
    transient), a poison reason anywhere in a cancellation wins, and the unknown is retried."""
    classified = classify(error, "write k")
    assert type(classified) is expected
    assert str(classified).startswith("write k: ")


def test_retryable_and_poison_classes_never_overlap() -> None:
    """What ``with_retries`` retries and what the handler fails alone are disjoint families."""
    retryable = classify(client_error("ThrottlingException"), "w")
    poison = classify(client_error("ValidationException"), "w")
    ambiguous = classify(ReadTimeoutError(endpoint_url="http://ddb"), "w")
    assert isinstance(retryable, RetryableError)
    assert not isinstance(retryable, PoisonError)
    assert isinstance(poison, PoisonError)
    assert not isinstance(poison, RetryableError)
    assert isinstance(ambiguous, RetryableError)


def test_classify_names_the_failed_reasons_of_a_cancellation() -> None:
    """The message lists the reasons that failed, not the actions that were fine."""
    error = client_error(CANCELED, ["None", "TransactionConflict", "None"])
    assert Cancellation.of(error, "w").codes == [None, "TransactionConflict", None]
    assert str(classify(error, "w")) == "w: transaction conflict (TransactionConflict)"

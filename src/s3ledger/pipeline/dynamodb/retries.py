"""Bounded retries within the invocation's deadline, and the ClientRequestToken that makes a
retried transaction idempotent."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from s3ledger.core.config import RetryPolicy
from s3ledger.core.errors import RetryableError, TransactionConflictError
from s3ledger.pipeline.invocation import InvocationContext, MetricsSink

__all__ = ["RequestToken", "with_retries"]

T = TypeVar("T")


def with_retries(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    context: InvocationContext,
    metrics: MetricsSink,
    sleep: Callable[[float], None] = time.sleep,
    draw: Callable[[], float] = random.random,
) -> T:
    """Run ``attempt()`` until it returns, retrying ``RetryableError`` only.

    Gives up after ``policy.attempts`` tries or when the invocation's deadline is near, re-raising
    the last error so the message comes back.
    """
    for number in range(policy.attempts):
        try:
            return attempt()
        except RetryableError as exc:
            if isinstance(exc, TransactionConflictError):
                metrics.count("TransactionConflicts")
            pause = policy.delay(number, draw())
            out_of_time = (
                context.get_remaining_time_in_millis() - pause * 1000 < policy.deadline_margin_ms
            )
            if number + 1 == policy.attempts or out_of_time:
                raise
            sleep(pause)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


class RequestToken:
    """The transaction's ClientRequestToken across one write's attempts.

    Kept only after an ambiguous failure: DynamoDB then answers a retry of a transaction that did
    commit with success, instead of running it again. After a definite failure the next attempt
    gets a fresh token, since a token is bound to its first request.
    """

    def __init__(self) -> None:
        self.value = ""
        self.keep = False

    def next(self) -> str:
        if not self.keep:
            self.value = str(uuid.uuid4())
        self.keep = False
        return self.value

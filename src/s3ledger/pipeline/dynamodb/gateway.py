"""The writers' DynamoDB: every request a write mode sends, with bounded retries within the
invocation's deadline and DynamoDB's failures turned into s3ledger's errors
(:func:`~s3ledger.pipeline.dynamodb.errors.classify`). A writer keeps only its decisions: what a
failed condition or a cancelled transaction means for its event.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from s3ledger.core.attributes import from_item
from s3ledger.core.config import RetryPolicy
from s3ledger.core.errors import AmbiguousWriteError
from s3ledger.pipeline.aws import error_code
from s3ledger.pipeline.dynamodb.errors import TRANSACTION_CANCELED, Cancellation, classify
from s3ledger.pipeline.dynamodb.operations import (
    WRITTEN,
    ConditionFailed,
    WriteResult,
    Written,
    batch_get,
    put_item,
    update_item,
)
from s3ledger.pipeline.dynamodb.retries import RequestToken, with_retries
from s3ledger.pipeline.invocation import InvocationContext, MetricsSink, NullMetrics

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        KeysAndAttributesTypeDef,
        PutTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
    )

__all__ = ["DynamoDBGateway"]

T = TypeVar("T")

_log = logging.getLogger(__name__)


class DynamoDBGateway:
    """One writer's client, retry policy and metrics sink.

    ``what`` names the write in errors (an event id). Every method but :meth:`peek` raises
    ``RetryableError`` when the request may succeed later and ``PoisonError`` when it never will.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        retry: RetryPolicy,
        metrics: MetricsSink | None = None,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._retry = retry
        self._metrics = metrics or NullMetrics()
        self._sleep = sleep
        self._draw = draw

    def _retried(self, attempt: Callable[[], T], context: InvocationContext) -> T:
        return with_retries(
            attempt,
            policy=self._retry,
            context=context,
            metrics=self._metrics,
            sleep=self._sleep,
            draw=self._draw,
        )

    def put(self, put: PutTypeDef, *, what: str, context: InvocationContext) -> WriteResult:
        """A ``PutItem``, retried: written, or its condition failed (with the item)."""
        return self._retried(lambda: self.put_once(put, what=what), context)

    def put_once(self, put: PutTypeDef, *, what: str) -> WriteResult:
        """A ``PutItem``, one attempt (botocore's own retries only)."""
        try:
            return put_item(self._client, put)
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, what) from exc

    def update(
        self, update: UpdateTypeDef, *, what: str, context: InvocationContext
    ) -> WriteResult:
        """An ``UpdateItem``, retried: written, or its condition failed (with the item, and
        ``resent`` if an earlier attempt's outcome was unknown or botocore sent it again)."""
        ambiguous = False

        def attempt() -> WriteResult:
            nonlocal ambiguous
            try:
                result = update_item(self._client, update)
            except (ClientError, BotoCoreError) as exc:
                error = classify(exc, what)
                ambiguous = ambiguous or isinstance(error, AmbiguousWriteError)
                raise error from exc
            if isinstance(result, ConditionFailed) and ambiguous:
                return ConditionFailed(result.item, resent=True)
            return result

        return self._retried(attempt, context)

    def transact(
        self,
        actions: list[TransactWriteItemTypeDef],
        *,
        what: str,
        context: InvocationContext,
        on_cancel: Callable[[Cancellation], T],
        idempotent: bool = True,
    ) -> T | Written:
        """A ``TransactWriteItems``, retried: ``WRITTEN`` once committed, else what
        ``on_cancel`` makes of the cancellation (it may raise; a ``RetryableError`` is retried).

        ``idempotent``: send a ClientRequestToken, kept after an ambiguous failure, so that a
        transaction that did commit answers its retry with success (the article's ``transact``
        mode sends none).
        """
        token = RequestToken()

        def attempt() -> T | Written:
            try:
                if idempotent:
                    self._client.transact_write_items(
                        TransactItems=actions, ClientRequestToken=token.next()
                    )
                else:
                    self._client.transact_write_items(TransactItems=actions)
            except ClientError as exc:
                if error_code(exc) != TRANSACTION_CANCELED:
                    raise classify(exc, what) from exc
                return on_cancel(Cancellation.of(exc, what))
            except BotoCoreError as exc:
                error = classify(exc, what)
                token.keep = isinstance(error, AmbiguousWriteError)
                raise error from exc
            return WRITTEN

        return self._retried(attempt, context)

    def read(
        self, request: Mapping[str, KeysAndAttributesTypeDef], *, what: str
    ) -> dict[str, list[dict[str, Any]]]:
        """A ``BatchGetItem`` (at most 100 keys), unprocessed keys asked again: items per table."""
        try:
            return batch_get(self._client, request, what=what, sleep=self._sleep, draw=self._draw)
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, what) from exc

    def peek(
        self, request: Mapping[str, KeysAndAttributesTypeDef], *, what: str
    ) -> dict[str, list[dict[str, Any]]] | None:
        """A ``BatchGetItem`` for a shortcut, one request: items per table (keys left unprocessed
        are simply not found), or ``None`` if it failed (logged)."""
        try:
            response = self._client.batch_get_item(RequestItems=dict(request))
        except (ClientError, BotoCoreError) as exc:
            code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
            _log.warning("%s failed; going on without it", what, extra={"error": code})
            return None
        found = response.get("Responses", {})
        return {table: [from_item(item) for item in found.get(table, [])] for table in request}

"""DynamoDB's operations as s3ledger sends them, one request each (botocore's own retries aside):
a conditional write that answers with the item its condition failed on, a batched read that asks
again for the keys DynamoDB left unprocessed, and a Query's or Scan's pages.

Failures other than a failed condition come back as botocore raised them: the operator commands
report them as they are, and :class:`~s3ledger.pipeline.dynamodb.DynamoDBGateway` turns them into
s3ledger's errors for the writers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from s3ledger.core.attributes import from_item
from s3ledger.core.config import RetryPolicy
from s3ledger.core.errors import TransientReadError
from s3ledger.pipeline.aws import error_code
from s3ledger.pipeline.dynamodb.errors import CONDITION_FAILED_ERROR, returned_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        KeysAndAttributesTypeDef,
        PutItemInputTypeDef,
        PutTypeDef,
        UpdateItemInputTypeDef,
        UpdateTypeDef,
    )

__all__ = [
    "BATCH_GET_LIMIT",
    "UNPROCESSED_KEYS_RETRY",
    "WRITTEN",
    "ConditionFailed",
    "Page",
    "WriteResult",
    "Written",
    "batch_get",
    "get_by_keys",
    "get_items",
    "pages",
    "put_item",
    "update_item",
]

# BatchGetItem takes at most 100 keys (DynamoDB API Reference, BatchGetItem).
BATCH_GET_LIMIT: Final = 100
# "If DynamoDB returns any unprocessed items, you should retry the batch operation on those items.
# However, we strongly recommend that you use an exponential backoff algorithm" (BatchGetItem):
# full jitter, as the writers' retries, a few more times.
UNPROCESSED_KEYS_RETRY: Final = RetryPolicy(attempts=8)


@dataclass(frozen=True, slots=True)
class Written:
    """The write took effect."""


WRITTEN: Final = Written()


@dataclass(frozen=True, slots=True)
class ConditionFailed:
    """The write's condition failed and nothing was written.

    ``item``: the item it failed on, as DynamoDB returned it (``ReturnValuesOnConditionCheckFailure
    =ALL_OLD``, no read units; plain form), ``None`` if it returned none. ``resent``: the write was
    sent more than once (after an ambiguous failure, or by botocore's own retry), so the item may
    be this very write's, committed by an earlier send whose answer was lost.
    """

    item: dict[str, Any] | None
    resent: bool = False


WriteResult = Written | ConditionFailed


def _failed_condition(error: ClientError) -> ConditionFailed:
    retries = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
    return ConditionFailed(returned_item(error), resent=bool(retries))


def put_item(client: DynamoDBClient, put: PutTypeDef | PutItemInputTypeDef) -> WriteResult:
    """One ``PutItem``: written, or its condition failed (with the item it failed on)."""
    try:
        client.put_item(**put)
    except ClientError as exc:
        if error_code(exc) != CONDITION_FAILED_ERROR:
            raise
        return _failed_condition(exc)
    return WRITTEN


def update_item(
    client: DynamoDBClient, update: UpdateTypeDef | UpdateItemInputTypeDef
) -> WriteResult:
    """One ``UpdateItem``: written, or its condition failed (with the item it failed on)."""
    try:
        client.update_item(**update)
    except ClientError as exc:
        if error_code(exc) != CONDITION_FAILED_ERROR:
            raise
        return _failed_condition(exc)
    return WRITTEN


def batch_get(
    client: DynamoDBClient,
    request: Mapping[str, KeysAndAttributesTypeDef],
    *,
    what: str,
    retry: RetryPolicy = UNPROCESSED_KEYS_RETRY,
    sleep: Callable[[float], None] = time.sleep,
    draw: Callable[[], float] = random.random,
) -> dict[str, list[dict[str, Any]]]:
    """One ``BatchGetItem`` of ``request`` (at most 100 keys in all): the items found, per table,
    in plain form. Keys DynamoDB leaves unprocessed (throttling answers so, not with an error) are
    asked for again after a pause; if some still are after ``retry.attempts`` requests, raises
    ``TransientReadError``."""
    found: dict[str, list[dict[str, Any]]] = {table: [] for table in request}
    # DynamoDB answers with the keys left in the request's own shape (its "output" type).
    pending: Mapping[str, Any] = request
    for attempt in range(retry.attempts):
        response = client.batch_get_item(RequestItems=dict(pending))
        for table, items in response.get("Responses", {}).items():
            found.setdefault(table, []).extend(from_item(item) for item in items)
        pending = response.get("UnprocessedKeys") or {}
        if not pending:
            return found
        if attempt + 1 < retry.attempts:
            sleep(retry.delay(attempt, draw()))
    raise TransientReadError(
        f"{what}: BatchGetItem left keys unprocessed after {retry.attempts} attempts"
    )


def get_items(
    client: DynamoDBClient, table: str, key: str, ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The items whose ``key`` attribute (the table's only key) is one of ``ids`` (consistent
    reads, 100 keys a request), by id. Absent ids are simply missing from the answer."""
    keys = [{key: {"S": i}} for i in dict.fromkeys(ids)]
    return get_by_keys(client, table, keys, by=key)


def get_by_keys(
    client: DynamoDBClient, table: str, keys: list[dict[str, Any]], *, by: str
) -> dict[str, dict[str, Any]]:
    """The items of ``keys`` (DynamoDB's form; consistent reads, 100 a request), by their ``by``
    attribute."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        chunk: KeysAndAttributesTypeDef = {
            "Keys": keys[start : start + BATCH_GET_LIMIT],
            "ConsistentRead": True,
        }
        for item in batch_get(client, {table: chunk}, what=table)[table]:
            found[str(item[by])] = item
    return found


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a Query or a Scan: its items (plain form) and where the next page starts
    (``LastEvaluatedKey``; ``None`` on the last page)."""

    items: list[dict[str, Any]]
    following: dict[str, Any] | None


def pages(
    send: Callable[..., Any],
    request: Mapping[str, Any],
    start_key: Mapping[str, Any] | None = None,
) -> Iterator[Page]:
    """``request``'s pages, from ``start_key`` on; ``send`` is the client's ``query`` or
    ``scan`` (both page with ``ExclusiveStartKey`` and ``LastEvaluatedKey``)."""
    following = dict(start_key) if start_key else None
    while True:
        answer = send(**request, **({"ExclusiveStartKey": following} if following else {}))
        last = answer.get("LastEvaluatedKey")
        following = dict(last) if last else None
        yield Page([from_item(item) for item in answer.get("Items", [])], following)
        if following is None:
            return

"""Reading whole tables: a paginated parallel scan that works on AWS and on DynamoDB Local."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from s3ledger.core.config import RetryPolicy
from s3ledger.core.consistency import ConsistencyReport, check_consistency
from s3ledger.core.errors import RetryableError
from s3ledger.core.ledger import audit_key, from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["check_tables", "get_audit_items", "get_items", "scan_items"]

_DONE = object()
_BATCH_GET_LIMIT = 100
# Unprocessed keys are asked for again with the handler's backoff (full jitter), just more often.
_UNPROCESSED_RETRY = RetryPolicy(attempts=8)


def get_items(
    client: DynamoDBClient, table: str, key: str, ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The items whose ``key`` attribute (the table's only key) is one of ``ids`` (consistent
    reads), by id. Absent ids are simply missing from the answer."""
    return _batch_get(client, table, key, [{key: {"S": i}} for i in dict.fromkeys(ids)])


def get_audit_items(
    client: DynamoDBClient, table: str, event_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The audit items of ``event_ids`` (consistent reads), by event id."""
    keys = [audit_key(event_id) for event_id in dict.fromkeys(event_ids)]
    return _batch_get(client, table, "event_id", keys)


def _batch_get(
    client: DynamoDBClient, table: str, id_attribute: str, keys: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``BatchGetItem`` of ``keys``, 100 at a time, by ``id_attribute``.

    Throttled keys come back as UnprocessedKeys, not as an error, so only they are asked for
    again, after a jittered, growing pause.
    """
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), _BATCH_GET_LIMIT):
        request: dict[str, Any] = {
            table: {"Keys": keys[start : start + _BATCH_GET_LIMIT], "ConsistentRead": True}
        }
        for attempt in range(_UNPROCESSED_RETRY.attempts):
            response = client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(table, []):
                item = from_item(raw)
                found[item[id_attribute]] = item
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                break
            jitter = random.random()  # noqa: S311 -- a pause, not a secret
            time.sleep(_UNPROCESSED_RETRY.delay(attempt, jitter))
        else:
            raise RetryableError(
                f"{table}: BatchGetItem left keys unprocessed after "
                f"{_UNPROCESSED_RETRY.attempts} attempts"
            )
    return found


def scan_items(
    client: DynamoDBClient, table: str, *, segments: int = 4, page_size: int = 500
) -> Iterator[dict[str, Any]]:
    """Every item of ``table`` as plain values, read by ``segments`` parallel scanners.

    Pages flow through a small bounded queue, so memory stays flat however large the table.
    """
    pages: queue.Queue[Any] = queue.Queue(maxsize=segments * 2)
    failures: list[BaseException] = []

    def scan_segment(segment: int) -> None:
        try:
            paginator = client.get_paginator("scan")
            for page in paginator.paginate(
                TableName=table,
                Segment=segment,
                TotalSegments=segments,
                PaginationConfig={"PageSize": page_size},
            ):
                pages.put(page.get("Items", []))
        except BaseException as exc:  # re-raised in the consumer's thread below
            failures.append(exc)
        finally:
            pages.put(_DONE)

    threads = [
        threading.Thread(target=scan_segment, args=(s,), daemon=True) for s in range(segments)
    ]
    for thread in threads:
        thread.start()
    finished = 0
    while finished < segments:
        page = pages.get()
        if page is _DONE:
            finished += 1
            continue
        for item in page:
            yield from_item(item)
    if failures:
        raise failures[0]


def check_tables(
    client: DynamoDBClient, *, ledger_table: str, audit_table: str, segments: int = 4
) -> ConsistencyReport:
    """Scan both tables and count what they reveal (see ``s3ledger.core.consistency``)."""
    return check_consistency(
        scan_items(client, audit_table, segments=segments),
        scan_items(client, ledger_table, segments=segments),
    )

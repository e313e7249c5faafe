"""Reading whole tables (a paginated parallel scan that works on AWS and on DynamoDB Local) and
items by key (``get_items`` is the DynamoDB gateway's, re-exported for the proof and the bench)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from s3ledger.core.consistency import ConsistencyReport, check_consistency
from s3ledger.core.ledger import audit_key
from s3ledger.pipeline.dynamodb import get_by_keys, get_items, pages

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["check_tables", "get_audit_items", "get_items", "scan_items"]

_DONE = object()


def scan_items(
    client: DynamoDBClient, table: str, *, segments: int = 4, page_size: int = 500
) -> Iterator[dict[str, Any]]:
    """Every item of ``table`` as plain values, read by ``segments`` parallel scanners.

    Pages flow through a small bounded queue, so memory stays flat however large the table.
    """
    found: queue.Queue[Any] = queue.Queue(maxsize=segments * 2)
    failures: list[BaseException] = []

    def scan_segment(segment: int) -> None:
        request = {
            "TableName": table,
            "Segment": segment,
            "TotalSegments": segments,
            "Limit": page_size,
        }
        try:
            for page in pages(client.scan, request):
                found.put(page.items)
        except BaseException as exc:  # re-raised in the consumer's thread below
            failures.append(exc)
        finally:
            found.put(_DONE)

    threads = [
        threading.Thread(target=scan_segment, args=(s,), daemon=True) for s in range(segments)
    ]
    for thread in threads:
        thread.start()
    finished = 0
    while finished < segments:
        page = found.get()
        if page is _DONE:
            finished += 1
            continue
        yield from page
    if failures:
        raise failures[0]


def get_audit_items(
    client: DynamoDBClient, table: str, event_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The audit items of ``event_ids`` (consistent reads), by event id."""
    keys = [audit_key(event_id) for event_id in dict.fromkeys(event_ids)]
    return get_by_keys(client, table, keys, by="event_id")


def check_tables(
    client: DynamoDBClient, *, ledger_table: str, audit_table: str, segments: int = 4
) -> ConsistencyReport:
    """Scan both tables and count what they reveal (see ``s3ledger.core.consistency``)."""
    return check_consistency(
        scan_items(client, audit_table, segments=segments),
        scan_items(client, ledger_table, segments=segments),
    )

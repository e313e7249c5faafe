"""Reading whole tables: a paginated parallel scan that works on AWS and on DynamoDB Local."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from s3ledger.core.consistency import ConsistencyReport, check_consistency
from s3ledger.core.ledger import from_item

# BatchGetItem of a list of ids lives in the pipeline (the Step Functions engine's bulk handler
# reads with it too); re-exported here for the operator commands, the proof and the bench.
from s3ledger.pipeline.bulk.reads import get_audit_items, get_items

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

"""The reconcile command: two passes over the bucket and the ledger, each difference confirmed
by a fresh read and, with ``apply``, repaired through the inbox writer, exactly once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from s3ledger.operate.reconcile.compare import ReconcileReport, report_of
from s3ledger.operate.reconcile.reading import is_versioned, listed_pages, processed_pages
from s3ledger.pipeline.bucket import S3VersionsReader, StateReader
from s3ledger.pipeline.bulk import BulkResult, BulkWriter
from s3ledger.pipeline.invocation import InvocationContext

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = ["OperatorContext", "reconcile"]

# A reconcile is not a Lambda invocation: give the writer's deadline check plenty of room.
_NO_DEADLINE_MS: Final = 15 * 60 * 1000


@dataclass(frozen=True)
class OperatorContext:
    """The writer's view of an invocation for an operator command (reconcile, backfill): a
    request id shared by one run's writes, and no Lambda deadline."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int:
        return _NO_DEADLINE_MS


def reconcile(
    s3: S3Client,
    dynamodb: DynamoDBClient,
    *,
    bucket: str,
    ledger_table: str,
    audit_table: str,
    apply: bool,
    settle_seconds: float,
    context: InvocationContext | None = None,
    page_size: int = 1000,
    prefix: str = "",
    state_reader: StateReader | None = None,
) -> ReconcileReport:
    """Compare ``bucket`` with the ledger; with ``apply``, repair every difference exactly once.

    ``prefix`` limits both passes to keys that start with it (one folder of a large bucket).
    ``settle_seconds`` leaves alone objects that changed more recently (0: none; only when
    nothing can still be in flight, e.g. a drained test pipeline).

    Without ``apply`` (a dry run) nothing is written: the report counts what would be repaired.
    ``context`` supplies the request id recorded in the audit items (default: one fresh id per
    run). The two passes and why they are exactly once: docs/exactly-once.md#reconcile.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if settle_seconds < 0:
        raise ValueError("settle_seconds must not be negative")
    versioned = is_versioned(s3, bucket)
    reader = state_reader or S3VersionsReader(s3)
    bulk = BulkWriter(
        dynamodb,
        ledger_table=ledger_table,
        audit_table=audit_table,
        state_reader=reader,
        context=context or OperatorContext(f"reconcile-{uuid.uuid4()}"),
        settle_seconds=settle_seconds,
        apply=apply,
    )
    result = BulkResult()
    # Pass 1: what the listing shows, against the ledger (the chunk's code is the bulk engine's).
    for states in listed_pages(s3, bucket, versioned=versioned, page_size=page_size, prefix=prefix):
        result.merge(bulk.reconcile_listed(bucket, states))
    # Pass 2: processed ledger items whose object no listing shows any more.
    found = frozenset(result.found)
    for page in processed_pages(dynamodb, ledger_table, bucket, page_size, prefix):
        result.merge(bulk.reconcile_ledger(bucket, page, skip=found))
    return report_of(
        result, bucket, versioned=versioned, applied=apply, settle_seconds=settle_seconds
    )

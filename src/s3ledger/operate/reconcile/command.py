"""The reconcile command: two passes over the bucket and the ledger, each difference confirmed
by a fresh read and, with ``apply``, repaired through the inbox writer, exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core.config import Settings
from s3ledger.core.errors import S3LedgerError
from s3ledger.core.ledger import ObjectState
from s3ledger.operate.reconcile.compare import (
    Discrepancy,
    ReconcileReport,
    _settling,
    _Tally,
    compare,
    repair_event,
)
from s3ledger.operate.reconcile.reading import (
    _ledger_items,
    _listed_pages,
    _processed_pages,
    is_versioned,
)
from s3ledger.pipeline.bucket import S3VersionsReader, StateReader
from s3ledger.pipeline.writers.base import InvocationContext, Outcome
from s3ledger.pipeline.writers.inbox import InboxWriter

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


class _Repairer:
    """Counts discrepancies and, when applying, writes their repair events."""

    def __init__(
        self,
        writer: InboxWriter | None,
        context: InvocationContext,
        bucket: str,
        settle_seconds: float,
        tally: _Tally,
    ) -> None:
        self._writer = writer
        self._context = context
        self._bucket = bucket
        self._settle_seconds = settle_seconds
        self.tally = tally

    def repair(
        self, kind: Discrepancy, key: str, item: Mapping[str, Any] | None, state: ObjectState
    ) -> None:
        self.tally.note(kind, key)
        if _settling(state, self._settle_seconds):
            # Its own event may still be on the way: a later run repairs it if it never comes.
            self.tally.settling += 1
            self.tally.note("settling", key, count=False)
            return
        if self._writer is None:
            return
        event = repair_event(self._bucket, key, item, state)
        try:
            outcome = self._writer.write_state(event, state, item, self._context)
        except S3LedgerError:
            # One object's failure must not stop the bucket's repair; the next run retries it.
            self.tally.failed += 1
            self.tally.note("failed", key, count=False)
            return
        if outcome is Outcome.APPLIED:
            self.tally.repaired += 1
        else:
            self.tally.superseded += 1


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
    run). See the package's docstring for the two passes and the ordering argument.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if settle_seconds < 0:
        raise ValueError("settle_seconds must not be negative")
    versioned = is_versioned(s3, bucket)
    reader = state_reader or S3VersionsReader(s3)
    writer = (
        InboxWriter(
            dynamodb,
            Settings(mode="inbox", ledger_table=ledger_table, audit_table=audit_table),
            state_reader=reader,
        )
        if apply
        else None
    )
    run_context = context or OperatorContext(f"reconcile-{uuid.uuid4()}")
    repairer = _Repairer(writer, run_context, bucket, settle_seconds, _Tally())
    tally = repairer.tally
    found_in_pass_one: set[str] = set()

    # Pass 1: what the listing shows, against the ledger.
    for states in _listed_pages(
        s3, bucket, versioned=versioned, page_size=page_size, prefix=prefix
    ):
        tally.objects_listed += sum(1 for state in states.values() if state.exists)
        items = _ledger_items(dynamodb, ledger_table, (f"{bucket}/{key}" for key in states))
        for key, listed in states.items():
            item = items.get(f"{bucket}/{key}")
            if compare(item, listed) is None:
                continue
            # Confirm with a read made after the ledger read (see the package's docstring).
            state = reader.current(bucket, key)
            kind = compare(item, state)
            if kind is not None:
                found_in_pass_one.add(key)
                repairer.repair(kind, key, item, state)

    # Pass 2: processed ledger items whose object no listing shows any more.
    for page in _processed_pages(dynamodb, ledger_table, bucket, page_size, prefix):
        for item in page:
            tally.ledger_items_checked += 1
            key = str(item["key"])
            if key in found_in_pass_one:
                continue  # counted (and, when applying, repaired or left settling) above
            state = reader.current(bucket, key)
            if state.exists:
                continue  # listed in pass 1 (or created since: its own event is on the way)
            repairer.repair("gone_from_bucket", key, item, state)

    return tally.report(bucket, versioned=versioned, applied=apply, settle_seconds=settle_seconds)

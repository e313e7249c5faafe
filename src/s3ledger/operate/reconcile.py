"""Reconcile: list the bucket and repair the ledger from what is really there, exactly once.

AWS can drop object events for good (an asynchronous invocation past its maximum event age, a
queue message that expired, a message parked in the DLQ and never redriven). Nothing downstream
can notice a missing event, so the only source of truth left is the bucket itself. Reconcile
compares the bucket's current state with the ledger and writes one synthetic *repair event* per
difference, through the ``inbox`` writer: the repair reaches the ledger and the audit log in one
transaction, and the audit condition makes it exactly once.

Two passes, each holding one page at a time (memory is bounded by ``page_size``, never by the
bucket or the table):

1. **Bucket → ledger.** List the bucket (``ListObjectVersions`` when versioning is or was on, so
   a key's latest entry tells "exists" from "delete marker"; ``ListObjectsV2`` otherwise), read
   the page's ledger items with ``BatchGetItem`` and compare: missing from the ledger, ledger
   says ``deleted`` or holds another etag/size/version → repair as created; latest entry is a
   delete marker while the ledger says ``processed`` → repair as deleted.
2. **Ledger → bucket.** Scan the ledger for this bucket's ``processed`` items and read each
   object's state: none left (an unversioned delete, or every version removed, which no listing
   shows) → repair as deleted.

**Why a repair never undoes newer truth, nor is undone by older events.** A difference is
confirmed by reading the object's state
(:class:`s3ledger.pipeline.bucket.S3VersionsReader`) *after* the
ledger item was read, and the repair is written only if the ledger item is still the one read
(pinned on ``last_event_id``): a real event that lands in between makes the repair fail, and the
next run looks again. So what the repair writes is never older than what it replaces. It is not
undone either: the repair sets the ledger's ``time_mark`` (:mod:`s3ledger.core.order`) to the
time S3
answered the read (its ``Date`` header), so a late event of a request older than the read (still
in the queue, or redriven from the DLQ) is audited as superseded, while an event of a later
request applies. Two limits are left, both covered by the **settle window**: the ``Date`` header
has whole seconds, so events of the read's own second are not ordered against it; and a clock
skew between S3's hosts. Objects whose current version or delete marker is younger than the
window (``settle_seconds``; the CLI's default covers the queue's whole redelivery span, visibility
timeout times maxReceiveCount, plus five minutes for S3's own delivery, from ``template.yaml``) are
left for a later run and counted as ``settling``.

Clients: pass clients configured with botocore's ``standard`` retry mode; listing, scanning and
reading states rely on it, and the writes add the writer's own bounded retries.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from s3ledger.core import ledger
from s3ledger.core.config import Settings
from s3ledger.core.errors import S3LedgerError
from s3ledger.core.events import ObjectEvent
from s3ledger.core.ledger import ObjectState, version_of
from s3ledger.core.order import normalize_event_time, utc_now
from s3ledger.operate.scan import get_items
from s3ledger.pipeline.bucket import S3VersionsReader, StateReader
from s3ledger.pipeline.writers.base import InvocationContext, Outcome
from s3ledger.pipeline.writers.inbox import InboxWriter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "BUCKET_DISCREPANCIES",
    "CREATED_EVENT",
    "REMOVED_EVENT",
    "Discrepancy",
    "OperatorContext",
    "ReconcileReport",
    "compare",
    "is_versioned",
    "iso_time",
    "reconcile",
    "repair_event",
]

CREATED_EVENT: Final = "ObjectCreated:Reconciled"
REMOVED_EVENT: Final = "ObjectRemoved:Reconciled"

Discrepancy = Literal["missing_from_ledger", "gone_from_bucket", "differing"]
# How the ledger differs from the bucket (what reconcile repairs).
BUCKET_DISCREPANCIES: Final[tuple[Discrepancy, ...]] = (
    "missing_from_ledger",
    "gone_from_bucket",
    "differing",
)

_EXAMPLES: Final = 5
# A reconcile is not a Lambda invocation: give the writer's deadline check plenty of room.
_NO_DEADLINE_MS: Final = 15 * 60 * 1000


# ------------------------------------------------------------------------------ pure: comparing


def compare(item: Mapping[str, Any] | None, state: ObjectState) -> Discrepancy | None:
    """How the ledger ``item`` (plain values, or ``None``) differs from the bucket's ``state``.

    A ledger field that is absent is unknown, not different: an event that carried no versionId
    (an unversioned bucket) cannot be blamed for the ledger not having one.
    """
    if item is None:
        return "missing_from_ledger" if state.exists else None
    processed = item.get("status") == ledger.PROCESSED
    if not state.exists:
        return "gone_from_bucket" if processed else None
    if not processed:
        return "differing"  # the ledger says deleted, the object is there
    etag, size, version_id = item.get("etag"), item.get("size"), item.get("version_id")
    changed = (
        (etag is not None and str(etag).strip('"') != state.etag)
        or (size is not None and size != state.size)
        or (version_id is not None and version_of(version_id) != state.version_id)
    )
    return "differing" if changed else None


def repair_event(
    bucket: str, key: str, item: Mapping[str, Any] | None, state: ObjectState
) -> ObjectEvent:
    """The synthetic event that sets the ledger of ``bucket/key`` (now ``item``) to ``state``.

    Its time is S3's at the read (``state.as_of``, else now): the repair's place in the key's
    order (see the module's docstring). Its identity is a digest of the ledger item it replaces
    and of the state, so the same repair of the same item is one audit item however often it
    is tried.
    """
    pinned = "" if item is None else str(item.get("last_event_id", ""))
    size = "" if state.size is None else str(state.size)
    identity = "\x1f".join(
        (pinned, str(state.exists), state.etag or "", size, state.version_id or "")
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return ObjectEvent(
        bucket=bucket,
        key=key,
        event_name=CREATED_EVENT if state.exists else REMOVED_EVENT,
        event_time=state.as_of or utc_now(),
        size=state.size if state.exists else None,
        etag=state.etag if state.exists else None,
        version_id=state.version_id if state.exists else None,
        identity=f"reconcile~{digest}",
    )


def _settling(state: ObjectState, settle_seconds: float) -> bool:
    """Did the object change within the settle window (by S3's clock, where it told it)?"""
    if settle_seconds <= 0 or state.last_modified is None:
        return False
    now = datetime.fromisoformat(state.as_of or utc_now())
    return datetime.fromisoformat(state.last_modified) > now - timedelta(seconds=settle_seconds)


# --------------------------------------------------------------------------------- the report


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What one reconcile found and, with ``applied``, what it repaired.

    ``repaired`` counts repairs that moved the ledger; ``superseded`` those that a real event
    (or a concurrent reconcile) overtook between the read and the write; ``settling`` the
    differences left alone because the object changed within the settle window; ``failed``
    those that could not be written (the next run retries them).
    """

    bucket: str
    versioned: bool
    applied: bool
    settle_seconds: float
    objects_listed: int
    ledger_items_checked: int
    missing_from_ledger: int
    gone_from_bucket: int
    differing: int
    settling: int
    repaired: int
    superseded: int
    failed: int
    examples: Mapping[str, tuple[str, ...]]

    @property
    def discrepancies(self) -> int:
        return self.missing_from_ledger + self.gone_from_bucket + self.differing

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "versioned": self.versioned,
            "applied": self.applied,
            "settle_seconds": self.settle_seconds,
            "objects_listed": self.objects_listed,
            "ledger_items_checked": self.ledger_items_checked,
            "missing_from_ledger": self.missing_from_ledger,
            "gone_from_bucket": self.gone_from_bucket,
            "differing": self.differing,
            "discrepancies": self.discrepancies,
            "settling": self.settling,
            "repaired": self.repaired,
            "superseded": self.superseded,
            "failed": self.failed,
            "examples": {kind: list(keys) for kind, keys in self.examples.items()},
        }


@dataclass
class _Tally:
    objects_listed: int = 0
    ledger_items_checked: int = 0
    settling: int = 0
    repaired: int = 0
    superseded: int = 0
    failed: int = 0
    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKET_DISCREPANCIES, 0))
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, kind: str, key: str, *, count: bool = True) -> None:
        if count:
            self.found[kind] = self.found.get(kind, 0) + 1
        listed = self.examples.setdefault(kind, [])
        if len(listed) < _EXAMPLES:
            listed.append(key)

    def report(
        self, bucket: str, *, versioned: bool, applied: bool, settle_seconds: float
    ) -> ReconcileReport:
        return ReconcileReport(
            bucket=bucket,
            versioned=versioned,
            applied=applied,
            settle_seconds=settle_seconds,
            objects_listed=self.objects_listed,
            ledger_items_checked=self.ledger_items_checked,
            missing_from_ledger=self.found["missing_from_ledger"],
            gone_from_bucket=self.found["gone_from_bucket"],
            differing=self.found["differing"],
            settling=self.settling,
            repaired=self.repaired,
            superseded=self.superseded,
            failed=self.failed,
            examples={kind: tuple(keys) for kind, keys in self.examples.items()},
        )


# ----------------------------------------------------------------------------------- S3 side


def is_versioned(s3: S3Client, bucket: str) -> bool:
    # Suspended still counts: versions and delete markers written while it was on remain.
    return s3.get_bucket_versioning(Bucket=bucket).get("Status") in {"Enabled", "Suspended"}


def iso_time(value: Any) -> str | None:
    if isinstance(value, datetime):
        return normalize_event_time(value.isoformat())
    return None if value is None else str(value)


def _listed(etag: Any, size: Any, version_id: Any, last_modified: Any) -> ObjectState:
    return ObjectState(
        exists=True,
        version_id=version_of(version_id),
        etag=None if etag is None else str(etag).strip('"'),
        size=size,
        last_modified=iso_time(last_modified),
    )


def _listed_pages(
    s3: S3Client, bucket: str, *, versioned: bool, page_size: int, prefix: str = ""
) -> Iterator[dict[str, ObjectState]]:
    """The bucket's keys (under ``prefix``) and their latest state, one listing page at a time."""
    if not versioned:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
        ):
            yield {
                obj["Key"]: _listed(obj.get("ETag"), obj.get("Size"), None, obj.get("LastModified"))
                for obj in page.get("Contents") or []
            }
        return
    for version_page in s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    ):
        # Each key has exactly one IsLatest entry, a version or a delete marker; older
        # versions (possibly on the next page) say nothing about the current state.
        states: dict[str, ObjectState] = {}
        for version in version_page.get("Versions") or []:
            if version.get("IsLatest"):
                states[version["Key"]] = _listed(
                    version.get("ETag"),
                    version.get("Size"),
                    version.get("VersionId"),
                    version.get("LastModified"),
                )
        for marker in version_page.get("DeleteMarkers") or []:
            if marker.get("IsLatest"):
                states[marker["Key"]] = ObjectState.gone(iso_time(marker.get("LastModified")))
        yield states


# ----------------------------------------------------------------------------- DynamoDB side


def _ledger_items(
    dynamodb: DynamoDBClient, table: str, ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The ledger items of ``ids`` (consistent reads), by id; absent ids are simply missing."""
    return get_items(dynamodb, table, "id", ids)


def _processed_pages(
    dynamodb: DynamoDBClient, table: str, bucket: str, page_size: int, prefix: str = ""
) -> Iterator[list[dict[str, Any]]]:
    """This bucket's ``processed`` ledger items (keys under ``prefix``), one scan page at a time
    (consistent reads, so the first pass's repairs are seen)."""
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table,
        ConsistentRead=True,
        FilterExpression=(
            "#bucket = :bucket AND #status = :processed AND begins_with(#key, :prefix)"
        ),
        ExpressionAttributeNames={"#bucket": "bucket", "#status": "status", "#key": "key"},
        ExpressionAttributeValues={
            ":bucket": {"S": bucket},
            ":processed": {"S": ledger.PROCESSED},
            ":prefix": {"S": prefix},
        },
        PaginationConfig={"PageSize": page_size},
    ):
        yield [ledger.from_item(raw) for raw in page.get("Items", [])]


# --------------------------------------------------------------------------------- reconcile


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
    run). See the module's docstring for the two passes and the ordering argument.
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
            # Confirm with a read made after the ledger read (see the module's docstring).
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

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
2. **Ledger → bucket.** Scan the ledger for this bucket's ``processed`` items and ``HeadObject``
   each one: a 404 means the object is gone (an unversioned delete, or every version removed,
   which no listing shows) → repair as deleted.

Why a difference is confirmed with ``HeadObject`` before it is repaired: the repair is placed
just after the ledger state it read (see :func:`reconcile_order_key`), so the bucket state it
writes must be at least as new as that ledger state. A listing page can be older than the ledger
read that follows it (a real event may land in between); a ``HeadObject`` made *after* the
consistent ledger read cannot. With that order, a real event racing the repair either lands
first (then the repair is older and is recorded as superseded) or later (then it applies over
the repair, as it should).

Clients: pass clients configured with botocore's ``standard`` retry mode; listing, scanning and
``HeadObject`` rely on it, and the writes add the writer's own bounded retries.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from botocore.exceptions import ClientError

from s3ledger import ledger
from s3ledger.config import Settings
from s3ledger.errors import S3LedgerError
from s3ledger.events import SEQUENCER_WIDTH, ObjectEvent
from s3ledger.scan import get_items
from s3ledger.writers.base import InvocationContext, Outcome
from s3ledger.writers.inbox import InboxWriter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "CREATED_EVENT",
    "DISCREPANCY_KINDS",
    "REMOVED_EVENT",
    "BucketState",
    "Discrepancy",
    "ReconcileReport",
    "compare",
    "reconcile",
    "reconcile_order_key",
    "repair_event",
]

CREATED_EVENT: Final = "ObjectCreated:Reconciled"
REMOVED_EVENT: Final = "ObjectRemoved:Reconciled"

Discrepancy = Literal["missing_from_ledger", "gone_from_bucket", "differing"]
DISCREPANCY_KINDS: Final[tuple[Discrepancy, ...]] = (
    "missing_from_ledger",
    "gone_from_bucket",
    "differing",
)

# Separates the ledger's order key from the repair's own part. It starts with "~", like the
# unsequenced order keys of events.py, and only ever *extends* a key (see reconcile_order_key).
_RECONCILE_MARK: Final = "~reconcile~"
_NO_LEDGER_BASE: Final = "0" * SEQUENCER_WIDTH

_EXAMPLES: Final = 5
_NOT_FOUND: Final = frozenset({"404", "NoSuchKey", "NotFound"})
# A reconcile is not a Lambda invocation: give the writer's deadline check plenty of room.
_NO_DEADLINE_MS: Final = 15 * 60 * 1000


# ------------------------------------------------------------------------------ pure: comparing


@dataclass(frozen=True, slots=True)
class BucketState:
    """What the bucket says about one key now: the latest object, or that there is none.

    ``etag`` is unquoted (S3 APIs quote it, the ledger and notifications do not); ``version_id``
    is ``None`` on unversioned buckets and for the ``"null"`` version of a suspended one, as in
    notifications.
    """

    exists: bool
    etag: str | None = None
    size: int | None = None
    version_id: str | None = None
    last_modified: str | None = None

    @classmethod
    def gone(cls, last_modified: str | None = None) -> BucketState:
        return cls(exists=False, last_modified=last_modified)

    @classmethod
    def present(
        cls, etag: str | None, size: int | None, version_id: str | None, last_modified: Any
    ) -> BucketState:
        return cls(
            exists=True,
            etag=_unquote(etag),
            size=size,
            version_id=_version(version_id),
            last_modified=_iso(last_modified),
        )


def _unquote(etag: str | None) -> str | None:
    return etag.strip('"') if etag else None


def _version(version_id: str | None) -> str | None:
    # S3 lists objects written while versioning was off or suspended with VersionId "null";
    # notifications then carry no versionId, so the ledger has none to compare with.
    return None if version_id in (None, "", "null") else version_id


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return None if value is None else str(value)


def compare(item: Mapping[str, Any] | None, state: BucketState) -> Discrepancy | None:
    """How the ledger ``item`` (plain values, or ``None``) differs from the bucket's ``state``.

    A ledger field that is absent is unknown, not different: some sources (moto, unversioned
    buckets) send no versionId, and the ledger cannot be blamed for what it was never told.
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
        (etag is not None and _unquote(str(etag)) != state.etag)
        or (size is not None and size != state.size)
        or (version_id is not None and _version(str(version_id)) != state.version_id)
    )
    return "differing" if changed else None


def reconcile_order_key(ledger_order_key: str | None, state: BucketState) -> str:
    """The order key of the repair event that moves a ledger at ``ledger_order_key`` to ``state``.

    The bucket exposes no sequencers, so the repair's true place among the key's events is
    unknown. It is placed *just after* the ledger's current key and *before* any later real event:

    * ``<ledger key>~reconcile~<digest>`` extends the ledger key, so it compares greater, and the
      ledger's guard (``#sequencer < :sequencer``) lets it apply;
    * a later real event has a padded 32-hex sequencer greater than the ledger's, so the two differ
      within the first 32 characters and the real one compares greater than any extension: it is
      applied normally, never taken for stale (likewise for ``~eventTime~`` keys, ordered by time);
    * with no ledger item the base is ``"0" * 32``, below every real sequencer.

    Deterministic: the same ledger key and bucket state give the same key, hence the same
    event_id, so a second run, or two concurrent runs, write the audit item once (its condition
    absorbs the copy). A repair of a repair extends the key again, which keeps it greater.

    The price of not knowing the true place: a real event that the repair stood in for (newer
    than the ledger's state, older than the bucket's), delivered after the repair (a DLQ redriven
    late), also compares greater and sets that older state again until a newer event or the next
    reconcile. Redrive or purge the DLQ before reconciling.
    """
    status = ledger.PROCESSED if state.exists else ledger.DELETED
    size = "" if state.size is None else str(state.size)
    identity = "\x1f".join((status, state.etag or "", size, state.version_id or ""))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return f"{ledger_order_key or _NO_LEDGER_BASE}{_RECONCILE_MARK}{digest}"


def repair_event(
    bucket: str, key: str, ledger_order_key: str | None, state: BucketState
) -> ObjectEvent:
    """The synthetic event that sets the ledger of ``bucket/key`` to ``state``.

    Its event time is the object's LastModified where the bucket tells it (else now): it is
    informative only, since the order key, not the time, decides identity and order.
    """
    return ObjectEvent(
        bucket=bucket,
        key=key,
        event_name=CREATED_EVENT if state.exists else REMOVED_EVENT,
        event_time=state.last_modified or _now(),
        size=state.size if state.exists else None,
        etag=state.etag if state.exists else None,
        version_id=state.version_id if state.exists else None,
        order_key=reconcile_order_key(ledger_order_key, state),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------- the report


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What one reconcile found and, with ``applied``, what it repaired.

    ``repaired`` counts repairs that moved the ledger; ``superseded`` those that a newer real
    event (or a concurrent reconcile) had already overtaken; ``failed`` those that could not be
    written (the next run retries them).
    """

    bucket: str
    versioned: bool
    applied: bool
    objects_listed: int
    ledger_items_checked: int
    missing_from_ledger: int
    gone_from_bucket: int
    differing: int
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
            "objects_listed": self.objects_listed,
            "ledger_items_checked": self.ledger_items_checked,
            "missing_from_ledger": self.missing_from_ledger,
            "gone_from_bucket": self.gone_from_bucket,
            "differing": self.differing,
            "discrepancies": self.discrepancies,
            "repaired": self.repaired,
            "superseded": self.superseded,
            "failed": self.failed,
            "examples": {kind: list(keys) for kind, keys in self.examples.items()},
        }


@dataclass
class _Tally:
    objects_listed: int = 0
    ledger_items_checked: int = 0
    repaired: int = 0
    superseded: int = 0
    failed: int = 0
    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DISCREPANCY_KINDS, 0))
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, kind: str, key: str, *, count: bool = True) -> None:
        if count:
            self.found[kind] = self.found.get(kind, 0) + 1
        listed = self.examples.setdefault(kind, [])
        if len(listed) < _EXAMPLES:
            listed.append(key)

    def report(self, bucket: str, *, versioned: bool, applied: bool) -> ReconcileReport:
        return ReconcileReport(
            bucket=bucket,
            versioned=versioned,
            applied=applied,
            objects_listed=self.objects_listed,
            ledger_items_checked=self.ledger_items_checked,
            missing_from_ledger=self.found["missing_from_ledger"],
            gone_from_bucket=self.found["gone_from_bucket"],
            differing=self.found["differing"],
            repaired=self.repaired,
            superseded=self.superseded,
            failed=self.failed,
            examples={kind: tuple(keys) for kind, keys in self.examples.items()},
        )


# ----------------------------------------------------------------------------------- S3 side


def _is_versioned(s3: S3Client, bucket: str) -> bool:
    # Suspended still counts: versions and delete markers written while it was on remain.
    return s3.get_bucket_versioning(Bucket=bucket).get("Status") in {"Enabled", "Suspended"}


def _listed_pages(
    s3: S3Client, bucket: str, *, versioned: bool, page_size: int, prefix: str = ""
) -> Iterator[dict[str, BucketState]]:
    """The bucket's keys (under ``prefix``) and their latest state, one listing page at a time."""
    if not versioned:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
        ):
            yield {
                obj["Key"]: BucketState.present(
                    obj.get("ETag"), obj.get("Size"), None, obj.get("LastModified")
                )
                for obj in page.get("Contents") or []
            }
        return
    for version_page in s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    ):
        # Each key has exactly one IsLatest entry, a version or a delete marker; older
        # versions (possibly on the next page) say nothing about the current state.
        states: dict[str, BucketState] = {}
        for version in version_page.get("Versions") or []:
            if version.get("IsLatest"):
                states[version["Key"]] = BucketState.present(
                    version.get("ETag"),
                    version.get("Size"),
                    version.get("VersionId"),
                    version.get("LastModified"),
                )
        for marker in version_page.get("DeleteMarkers") or []:
            if marker.get("IsLatest"):
                states[marker["Key"]] = BucketState.gone(_iso(marker.get("LastModified")))
        yield states


def _head(s3: S3Client, bucket: str, key: str) -> tuple[BucketState, bool]:
    """The key's current state, and whether a 404 came from a delete marker."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) not in _NOT_FOUND:
            raise
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return BucketState.gone(), headers.get("x-amz-delete-marker") == "true"
    state = BucketState.present(
        head.get("ETag"), head.get("ContentLength"), head.get("VersionId"), head.get("LastModified")
    )
    return state, False


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
class _ReconcileContext:
    """The writer's view of an invocation: a request id shared by one run's repairs."""

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
        tally: _Tally,
    ) -> None:
        self._writer = writer
        self._context = context
        self._bucket = bucket
        self.tally = tally

    def repair(
        self, kind: Discrepancy, key: str, item: Mapping[str, Any] | None, state: BucketState
    ) -> None:
        self.tally.note(kind, key)
        if self._writer is None:
            return
        order_key = None if item is None else item.get("sequencer")
        event = repair_event(
            self._bucket, key, None if order_key is None else str(order_key), state
        )
        try:
            outcome = self._writer.write(event, self._context)
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
    context: InvocationContext | None = None,
    page_size: int = 1000,
    prefix: str = "",
) -> ReconcileReport:
    """Compare ``bucket`` with the ledger; with ``apply``, repair every difference exactly once.

    ``prefix`` limits both passes to keys that start with it (one folder of a large bucket).

    Without ``apply`` (a dry run) nothing is written: the report counts what would be repaired.
    ``context`` supplies the request id recorded in the audit items (default: one fresh id per
    run). See the module's docstring for the two passes and the ordering argument.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    versioned = _is_versioned(s3, bucket)
    writer = (
        InboxWriter(
            dynamodb, Settings(mode="inbox", ledger_table=ledger_table, audit_table=audit_table)
        )
        if apply
        else None
    )
    run_context = context or _ReconcileContext(f"reconcile-{uuid.uuid4()}")
    repairer = _Repairer(writer, run_context, bucket, _Tally())
    tally = repairer.tally

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
            state, _ = _head(s3, bucket, key)
            kind = compare(item, state)
            if kind is not None:
                repairer.repair(kind, key, item, state)

    # Pass 2: processed ledger items whose object no listing shows any more.
    for page in _processed_pages(dynamodb, ledger_table, bucket, page_size, prefix):
        for item in page:
            tally.ledger_items_checked += 1
            key = str(item["key"])
            state, delete_marker = _head(s3, bucket, key)
            if state.exists:
                continue  # listed in pass 1 (or created since: its own event is on the way)
            if delete_marker and not apply:
                # Pass 1 listed this delete marker and counted it; in a dry run the ledger still
                # says processed. When applying, an item still processed here is one pass 1 did
                # not repair (a marker created since, or a repair overtaken): repair it now.
                continue
            repairer.repair("gone_from_bucket", key, item, state)

    return tally.report(bucket, versioned=versioned, applied=apply)

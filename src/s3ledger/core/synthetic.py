"""Pure: the synthetic events of the operator's repairs, and how a ledger item differs from the
bucket.

A backfill writes ``ObjectCreated:Backfilled`` for an object the ledger has never seen; a
reconcile writes ``ObjectCreated:Reconciled`` or ``ObjectRemoved:Reconciled`` where the ledger
differs from what S3 says. Both are written through the ``inbox`` writer's pinned write
(``InboxWriter.write_state``), on one machine (``s3ledger backfill``/``reconcile``) or on Step
Functions (:mod:`s3ledger.pipeline.bulk`): they live here, below both, so that both build the
very same events. Why each event's time and identity are what they are:
docs/exactly-once.md#backfill and #reconcile.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from s3ledger.core import ledger
from s3ledger.core.events import ObjectEvent, identity_digest
from s3ledger.core.ledger import ObjectState, version_of
from s3ledger.core.order import utc_now

__all__ = [
    "BACKFILLED_EVENT",
    "BUCKET_DISCREPANCIES",
    "CREATED_EVENT",
    "REMOVED_EVENT",
    "Discrepancy",
    "backfill_event",
    "compare",
    "is_settling",
    "repair_event",
]

BACKFILLED_EVENT: Final = "ObjectCreated:Backfilled"
CREATED_EVENT: Final = "ObjectCreated:Reconciled"
REMOVED_EVENT: Final = "ObjectRemoved:Reconciled"

Discrepancy = Literal["missing_from_ledger", "gone_from_bucket", "differing"]
# How the ledger differs from the bucket (what reconcile repairs).
BUCKET_DISCREPANCIES: Final[tuple[Discrepancy, ...]] = (
    "missing_from_ledger",
    "gone_from_bucket",
    "differing",
)


def backfill_event(bucket: str, key: str, state: ObjectState) -> ObjectEvent:
    """The synthetic event that brings ``bucket/key`` into the ledger as ``state``.

    Its time is the snapshot's (``state.as_of``), its identity a digest of the state, so the
    same backfill of the same object is one audit item however often it is tried.
    """
    size = "" if state.size is None else str(state.size)
    digest = identity_digest("backfill", state.etag or "", size, state.version_id or "")
    return ObjectEvent(
        bucket=bucket,
        key=key,
        event_name=BACKFILLED_EVENT,
        event_time=state.as_of or utc_now(),
        size=state.size,
        etag=state.etag,
        version_id=state.version_id,
        identity=f"backfill~{digest}",
    )


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
    order. Its identity is a digest of the ledger item it replaces and of the state, so the
    same repair of the same item is one audit item however often it is tried.
    """
    pinned = "" if item is None else str(item.get("last_event_id", ""))
    size = "" if state.size is None else str(state.size)
    digest = identity_digest(
        pinned, str(state.exists), state.etag or "", size, state.version_id or ""
    )
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


def is_settling(state: ObjectState, settle_seconds: float) -> bool:
    """Did the object change within the settle window (by S3's clock, where it told it)?"""
    if settle_seconds <= 0 or state.last_modified is None:
        return False
    now = datetime.fromisoformat(state.as_of or utc_now())
    return datetime.fromisoformat(state.last_modified) > now - timedelta(seconds=settle_seconds)

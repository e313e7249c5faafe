"""Pure: how a ledger item differs from the bucket's state, the repair event that sets it right,
and what one run found and repaired (:class:`ReconcileReport`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from s3ledger.core import ledger
from s3ledger.core.events import ObjectEvent
from s3ledger.core.ledger import ObjectState, version_of
from s3ledger.core.order import utc_now

__all__ = [
    "BUCKET_DISCREPANCIES",
    "CREATED_EVENT",
    "REMOVED_EVENT",
    "Discrepancy",
    "ReconcileReport",
    "compare",
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
    order (see the package's docstring). Its identity is a digest of the ledger item it replaces
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

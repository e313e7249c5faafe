"""Pure: what one reconcile found and repaired (:class:`ReconcileReport`); how a ledger item
differs from the bucket and the repair event that sets it right are in
:mod:`s3ledger.core.synthetic`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The comparison and the repair events live in the core, shared with the Step Functions engine
# (s3ledger.pipeline.bulk); re-exported here for the reconcile package's callers.
from s3ledger.core.synthetic import (
    BUCKET_DISCREPANCIES,
    CREATED_EVENT,
    REMOVED_EVENT,
    Discrepancy,
    compare,
    repair_event,
)
from s3ledger.pipeline.bulk import BulkResult

__all__ = [
    "BUCKET_DISCREPANCIES",
    "CREATED_EVENT",
    "REMOVED_EVENT",
    "Discrepancy",
    "ReconcileReport",
    "compare",
    "repair_event",
    "report_of",
]


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


def report_of(
    result: BulkResult, bucket: str, *, versioned: bool, applied: bool, settle_seconds: float
) -> ReconcileReport:
    """The report of a run whose chunks added up to ``result``."""
    counts = result.counts
    return ReconcileReport(
        bucket=bucket,
        versioned=versioned,
        applied=applied,
        settle_seconds=settle_seconds,
        objects_listed=counts["objects_listed"],
        ledger_items_checked=counts["ledger_items_checked"],
        missing_from_ledger=counts["missing_from_ledger"],
        gone_from_bucket=counts["gone_from_bucket"],
        differing=counts["differing"],
        settling=counts["settling"],
        repaired=counts["repaired"],
        superseded=counts["superseded"],
        failed=counts["failed"],
        examples={kind: tuple(keys) for kind, keys in result.examples.items()},
    )

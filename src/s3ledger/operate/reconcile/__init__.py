"""Reconcile: list the bucket and repair the ledger from what is really there, exactly once.

AWS can drop object events for good, and nothing downstream can notice a missing event: the
bucket is the truth left. Two passes, a page at a time: the bucket's listing against the
ledger's items, then the ledger's ``processed`` items against S3. Each difference is confirmed by
a fresh read of S3 after the ledger read and repaired, with ``apply``, by one synthetic event
through the ``inbox`` writer, pinned to the ledger item read; objects changed within the settle
window are left for a later run. Why a repair is exactly once, never undoes newer truth and is
not undone by older events: docs/exactly-once.md#reconcile. Pass clients configured with
botocore's ``standard`` retry mode.

The package, by concern:

* :mod:`.command`: :func:`reconcile`, its two passes and the repairs;
* :mod:`.compare`: pure comparison, repair events and the report;
* :mod:`.reading`: listing the bucket, reading and scanning the ledger.

:class:`OperatorContext` and :func:`is_versioned` are shared with the backfill.
"""

from s3ledger.operate.reconcile.command import OperatorContext, reconcile
from s3ledger.operate.reconcile.compare import (
    BUCKET_DISCREPANCIES,
    CREATED_EVENT,
    REMOVED_EVENT,
    Discrepancy,
    ReconcileReport,
    compare,
    repair_event,
)
from s3ledger.operate.reconcile.reading import is_versioned

__all__ = [
    "BUCKET_DISCREPANCIES",
    "CREATED_EVENT",
    "REMOVED_EVENT",
    "Discrepancy",
    "OperatorContext",
    "ReconcileReport",
    "compare",
    "is_versioned",
    "reconcile",
    "repair_event",
]

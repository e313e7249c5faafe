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
time S3 answered the read (its ``Date`` header), so a late event clearly older than the read
(still in the queue, or redriven from the DLQ) is audited as superseded, one clearly later
applies, and one of the read's own second (or the next) moves the ledger only if S3 shows its
state (docs/semantics.md#never-guess-an-order). The **settle window** leaves alone objects whose
current version or delete marker is younger than ``settle_seconds`` (the CLI's default covers
the queue's whole redelivery span, visibility timeout times maxReceiveCount, plus five minutes for
S3's own delivery, from ``template.yaml``): their own events may still be on the way, and
repairing them would only race those events. They are counted as ``settling`` and left for a
later run.

Clients: pass clients configured with botocore's ``standard`` retry mode; listing, scanning and
reading states rely on it, and the writes add the writer's own bounded retries.

The package, by concern:

* :mod:`.command`: :func:`reconcile`, its two passes and the repairs;
* :mod:`.compare`: pure comparison, repair events and the report;
* :mod:`.reading`: listing the bucket, reading and scanning the ledger.

:class:`OperatorContext`, :func:`is_versioned`, :func:`iso_time` are shared with the backfill.
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
from s3ledger.operate.reconcile.reading import is_versioned, iso_time

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

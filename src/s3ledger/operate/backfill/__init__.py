"""Backfill: bring every existing object of an existing bucket into the ledger, exactly once.

A bucket that existed before s3ledger was deployed holds objects that never had an event. The
backfill lists them (or reads an S3 Inventory report of them) and writes one synthetic event per
object through the same write path as everything else, the ``inbox`` writer's pinned write
(:meth:`s3ledger.pipeline.writers.inbox.InboxWriter.write_state`): ledger and audit log in one
transaction, the audit log's conditional Put making it exactly once.

**Only objects with no ledger item are written.** An object the ledger already has was reached
by its own live events (or by ``reconcile``): its item is at least as informed as a snapshot,
and comparing states is reconcile's job, not the backfill's. So the backfill reads each page's
ledger items (``BatchGetItem``, consistent) and writes only where there is none, *pinned to "no
item"* (``write_state(event, state, None, ...)``): if a live event lands between the read and the
write, the write is refused (counted ``superseded``) and the live event wins. A second run (or a
run resumed over work already done) finds the items and writes nothing; were it to race itself,
the event id (``backfill~`` and a digest of the state written) is the same on both sides and
the audit log's condition lets one through.

**Its place in the key's order.** The synthetic event (``ObjectCreated:Backfilled``, no
sequencer) carries the snapshot's time as its time mark (:mod:`s3ledger.core.order`): for a listing,
S3's clock when it answered the page (the ``Date`` header, whole seconds, as reconcile's reads;
see :func:`s3ledger.pipeline.bucket.server_time`); for an inventory, the manifest's
``creationTimestamp``. A
live event clearly older than the snapshot that arrives later is audited as superseded (the
snapshot already shows its effect, or a later one); one clearly later applies; one the clocks
cannot place (the same second or the next: docs/semantics.md#never-guess-an-order) moves the
ledger only if S3 shows its state. The limit left is the inventory's: an S3 Inventory is
eventually consistent (recently added or deleted objects may be missing or still listed), so an
object deleted well before the report was written may be backfilled as existing, and its delete
event, if still in flight, superseded. That leaves a ledger state older than the bucket's, which
is what ``s3ledger reconcile --apply`` repairs: run it (after its settle window) once a backfill
from an inventory is done.

**Current versions only.** A key's latest entry (``IsLatest``) that is a version is written; a key
whose latest entry is a delete marker is deleted and needs no ledger item; older versions say
nothing about the current state.

How a run finds its objects is in :mod:`.listing` (the default) and :mod:`.inventory`
(``--inventory``). The package, by concern:

* :mod:`.command`: :func:`backfill`, the run and its worker pool;
* :mod:`.writing`: the synthetic event and the pinned write of a chunk;
* :mod:`.listing`: listing pages and units;
* :mod:`.inventory`: S3 Inventory manifests and data files (CSV, Parquet);
* :mod:`.checkpoint`: where a run resumes;
* :mod:`.report`: :class:`BackfillReport`;
* :mod:`.errors`: :class:`BackfillError`.
"""

from s3ledger.operate.backfill.checkpoint import Checkpoint, default_checkpoint
from s3ledger.operate.backfill.command import backfill
from s3ledger.operate.backfill.errors import BackfillError
from s3ledger.operate.backfill.inventory import Manifest, read_inventory_file, read_manifest
from s3ledger.operate.backfill.report import BackfillReport
from s3ledger.operate.backfill.writing import BACKFILLED_EVENT, backfill_event

__all__ = [
    "BACKFILLED_EVENT",
    "BackfillError",
    "BackfillReport",
    "Checkpoint",
    "Manifest",
    "backfill",
    "backfill_event",
    "default_checkpoint",
    "read_inventory_file",
    "read_manifest",
]

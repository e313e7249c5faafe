"""Backfill: bring every existing object of an existing bucket into the ledger, exactly once.

One synthetic event (``ObjectCreated:Backfilled``) per current object the ledger has no item
for, written through the ``inbox`` writer's pinned write, pinned to "no item": a live event that
lands first wins, and a second run writes nothing. Its time mark is the snapshot's (a listing's
``Date``, an inventory's ``creationTimestamp``). Why this is exactly once and in order, and the
limit an inventory leaves: docs/exactly-once.md#backfill; how to run it: docs/backfill.md.

The package, by concern:

* :mod:`.command`: :func:`backfill`, the run and its worker pool;
* :mod:`.writing`: the synthetic event and the pinned write of a chunk;
* :mod:`.listing`: listing pages and units (the default);
* :mod:`.inventory`: S3 Inventory manifests and data files (CSV, Parquet; ``--inventory``);
* :mod:`.checkpoint`: where a run resumes;
* :mod:`.report`: :class:`BackfillReport`, and the tally its workers add to;
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

"""The bulk engine: backfill and reconcile a chunk at a time, on one machine or on Step Functions.

* :mod:`.chunks`: :class:`BulkWriter`, one chunk's ledger read (one ``BatchGetItem`` per 100
  keys) and pinned writes of what is missing or different; the operator commands call it too;
* :mod:`.reads`: ``BatchGetItem`` of ids, and a batch's states from one ``ListObjectVersions``
  walk;
* :mod:`.handler`: the Lambda entry point a Distributed Map hands its batches to.

Ships in the Lambda function with the rest of the pipeline.
"""

from s3ledger.pipeline.bulk.chunks import BulkResult, BulkWriter
from s3ledger.pipeline.bulk.reads import get_items, listed_states

__all__ = ["BulkResult", "BulkWriter", "get_items", "listed_states"]

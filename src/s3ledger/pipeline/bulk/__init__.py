"""The bulk engine: backfill and reconcile a chunk at a time, on one machine or on Step Functions.

* :mod:`.chunks`: :class:`BulkWriter`, one chunk's ledger read (one ``BatchGetItem`` per 100
  keys) and pinned writes of what is missing or different; the operator commands call it too;
* :mod:`.reads`: a batch's states from one ``ListObjectVersions`` walk, a page of the ledger's
  ``processed`` items;
* :mod:`.handler`: the Lambda entry point a Distributed Map hands its batches to.

Ships in the Lambda function with the rest of the pipeline.
"""

from s3ledger.pipeline.bulk.chunks import BulkResult, BulkWriter
from s3ledger.pipeline.bulk.reads import listed_states

# Ledger items by id are the DynamoDB gateway's; re-exported here, where earlier releases had it.
from s3ledger.pipeline.dynamodb import get_items

__all__ = ["BulkResult", "BulkWriter", "get_items", "listed_states"]

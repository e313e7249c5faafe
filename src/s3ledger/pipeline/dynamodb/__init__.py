"""The DynamoDB gateway: every request s3ledger sends to DynamoDB goes through here.

* :mod:`.errors`: DynamoDB's error codes, a cancelled transaction's reasons, and the s3ledger
  error each failure calls for (:func:`classify`);
* :mod:`.retries`: bounded retries within the invocation's deadline, ClientRequestTokens;
* :mod:`.operations`: one request each: conditional writes that return the item their
  condition failed on (:class:`Written` | :class:`ConditionFailed`), batched reads with their
  UnprocessedKeys loop, Query and Scan pages; botocore's errors as raised (operator commands);
* :mod:`.gateway`: :class:`DynamoDBGateway`, the writers' view: the same requests, retried and
  classified.
"""

from s3ledger.pipeline.dynamodb.errors import (
    CONDITION_FAILED_ERROR,
    CONDITION_FAILED_REASON,
    TRANSACTION_CANCELED,
    Cancellation,
    CancellationReason,
    classify,
    returned_item,
)
from s3ledger.pipeline.dynamodb.gateway import DynamoDBGateway
from s3ledger.pipeline.dynamodb.operations import (
    BATCH_GET_LIMIT,
    WRITTEN,
    ConditionFailed,
    Page,
    WriteResult,
    Written,
    batch_get,
    get_by_keys,
    get_items,
    pages,
    put_item,
    update_item,
)
from s3ledger.pipeline.dynamodb.retries import RequestToken, with_retries

__all__ = [
    "BATCH_GET_LIMIT",
    "CONDITION_FAILED_ERROR",
    "CONDITION_FAILED_REASON",
    "TRANSACTION_CANCELED",
    "WRITTEN",
    "Cancellation",
    "CancellationReason",
    "ConditionFailed",
    "DynamoDBGateway",
    "Page",
    "RequestToken",
    "WriteResult",
    "Written",
    "batch_get",
    "classify",
    "get_by_keys",
    "get_items",
    "pages",
    "put_item",
    "returned_item",
    "update_item",
    "with_retries",
]

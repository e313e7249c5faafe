"""Small helpers over botocore shared by the pipeline and the layers above it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_sqs import SQSClient

__all__ = ["CONDITION_FAILED", "error_code", "queue_depth"]

# The error code of a single-item write whose condition failed (PutItem, UpdateItem).
CONDITION_FAILED = "ConditionalCheckFailedException"


def error_code(error: ClientError) -> str:
    """The service's error code (``ConditionalCheckFailedException``, ``NoSuchKey``, ``404``)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def queue_depth(sqs: SQSClient, queue_url: str) -> int:
    """Messages in ``queue_url``, visible or in flight (SQS's approximate counts)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())

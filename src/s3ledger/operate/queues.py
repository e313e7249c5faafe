"""How many messages a queue holds: the operator's ``status`` and ``redrive``, and the
workbench's runner (which waits for its queue to drain)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["queue_depth"]


def queue_depth(sqs: SQSClient, queue_url: str) -> int:
    """Messages in ``queue_url``, visible or in flight (SQS's approximate counts)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())

"""``s3ledger redrive``: move the dead-letter queue's messages back to the events queue.

On AWS this is SQS's own message move task (``StartMessageMoveTask``, then
``ListMessageMoveTasks`` for its progress; *Configure a dead-letter queue redrive*,
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html).
Where the endpoint does not implement it (moto 5.2.5, the workbench's SQS, answers a bare HTTP
500), the same effect is made by hand: receive from the DLQ, send each body (and its message
attributes) to the queue, then delete it from the DLQ. That order is at least once: a crash
between the send and the delete leaves a copy in both queues, which the pipeline absorbs (a
duplicate event is recorded once), and never loses a message.

Redrive before ``s3ledger reconcile``: the events come back in order-independent form, and the
ledger's order rule puts each in its place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from botocore.exceptions import ClientError

from s3ledger.operate.queues import queue_depth
from s3ledger.pipeline.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType as QueueAttributeName
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef

__all__ = ["RedriveReport", "redrive"]

# How an endpoint without StartMessageMoveTask answers it. AWS's own transient failures come
# as InternalError / ServiceUnavailable (retried by botocore), never as a bare "500".
_NOT_IMPLEMENTED: Final = frozenset({"500", "InvalidAction", "UnsupportedOperation"})
_POLL_SECONDS: Final = 2.0

Method = Literal["move-task", "copy"]


@dataclass(frozen=True)
class RedriveReport:
    """What one redrive did."""

    method: Method
    to_move: int
    moved: int
    failed: int

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "to_move": self.to_move,
            "moved": self.moved,
            "failed": self.failed,
        }


def _attribute(sqs: SQSClient, url: str, name: QueueAttributeName) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name])


def redrive(
    sqs: SQSClient,
    *,
    dlq_url: str,
    queue_url: str,
    progress: Callable[[int, int], None] | None = None,
) -> RedriveReport:
    """Move every message of ``dlq_url`` to ``queue_url``; ``progress(moved, total)`` as it goes."""
    total = queue_depth(sqs, dlq_url)
    report = progress or (lambda moved, of: None)
    dlq_arn = _attribute(sqs, dlq_url, "QueueArn")
    queue_arn = _attribute(sqs, queue_url, "QueueArn")
    try:
        handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queue_arn)
    except ClientError as exc:
        if error_code(exc) not in _NOT_IMPLEMENTED:
            raise
        return _copy(sqs, dlq_url, queue_url, total, report)
    return _follow(sqs, dlq_arn, handle["TaskHandle"], total, report)


def _follow(
    sqs: SQSClient, dlq_arn: str, task: str, total: int, report: Callable[[int, int], None]
) -> RedriveReport:
    """Poll SQS's move task until it ends."""
    while True:
        tasks: list[Any] = list(
            sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        )
        mine: dict[str, Any] = next(
            (t for t in tasks if t.get("TaskHandle") == task), tasks[0] if tasks else {}
        )
        moved = int(mine.get("ApproximateNumberOfMessagesMoved", 0))
        to_move = int(mine.get("ApproximateNumberOfMessagesToMove", total) or total)
        report(moved, to_move)
        status = mine.get("Status")
        if status in {"COMPLETED", "FAILED", "CANCELLED"}:
            failed = 0 if status == "COMPLETED" else max(to_move - moved, 0)
            return RedriveReport("move-task", to_move, moved, failed)
        time.sleep(_POLL_SECONDS)


def _copy(
    sqs: SQSClient, dlq_url: str, queue_url: str, total: int, report: Callable[[int, int], None]
) -> RedriveReport:
    """The move task's effect by hand: send, then delete (at least once, never lost)."""
    moved = failed = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        entries: list[Any] = []
        for index, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        done = {entry["Id"] for entry in sent.get("Successful", [])}
        failed += len(sent.get("Failed", []))
        delete: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
            if str(index) in done
        ]
        if delete:
            sqs.delete_message_batch(QueueUrl=dlq_url, Entries=delete)
        moved += len(delete)
        report(moved, max(total, moved))
    return RedriveReport("copy", max(total, moved), moved, failed)

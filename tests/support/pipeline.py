"""Building handler pipelines and S3/SQS payloads for tests against DynamoDB Local."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s3ledger.core.config import Mode, RetryPolicy, Settings
from s3ledger.pipeline.bucket import S3VersionsReader
from s3ledger.pipeline.handlers import Handler
from s3ledger.pipeline.writers import CountingMetrics
from s3ledger.workbench.dynamodb_local import dynamodb_client
from s3ledger.workbench.faults import DynamoDBFaults
from s3ledger.workbench.moto_process import aws_client
from tests.support.tables import TableNames

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "FAST_RETRY",
    "Harness",
    "cancel_transactions",
    "make_harness",
    "s3_notification",
    "s3_record",
    "sqs_event",
    "sqs_message",
]

# Same number of attempts as production, with millisecond pauses so tests stay fast.
FAST_RETRY = RetryPolicy(base_delay=0.002, max_delay=0.01)


@dataclass
class Harness:
    """One execution environment: its own client (with fault hooks), pipeline and metrics."""

    pipeline: Handler
    client: DynamoDBClient
    faults: DynamoDBFaults
    metrics: CountingMetrics


def make_harness(
    endpoint: str,
    tables: TableNames,
    mode: Mode = "inbox",
    *,
    aws_endpoint: str | None = None,
    **settings: Any,
) -> Harness:
    """A sandbox on ``tables``; with ``aws_endpoint`` it reads objects' states from that S3."""
    client = dynamodb_client(endpoint)
    faults = DynamoDBFaults(client)
    metrics = CountingMetrics()
    config = Settings(
        mode=mode,
        ledger_table=tables.ledger,
        audit_table=tables.audit,
        idempotency_table=tables.idempotency,
        retry=settings.pop("retry", FAST_RETRY),
        **settings,
    )
    reader = None if aws_endpoint is None else S3VersionsReader(aws_client("s3", aws_endpoint))
    return Harness(Handler(config, client, metrics, reader), client, faults, metrics)


def s3_record(
    key: str,
    sequencer: str | None = "0055AED6DCD90281E5",
    *,
    event_name: str = "ObjectCreated:Put",
    bucket: str = "bucket",
    size: int = 1024,
    event_time: str = "2026-11-26T10:00:00.000Z",
) -> dict[str, Any]:
    """One S3 notification record (event version 2.1), key already URL-encoded."""
    obj: dict[str, Any] = {"key": key}
    if not event_name.startswith("ObjectRemoved"):
        obj.update(size=size, eTag=uuid.uuid5(uuid.NAMESPACE_URL, key + str(sequencer)).hex)
    if sequencer is not None:
        obj["sequencer"] = sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": event_time,
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE", "x-amz-id-2": "EXAMPLE"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "s3ledger",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def s3_notification(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def sqs_message(body: str | dict[str, Any]) -> dict[str, Any]:
    """One SQS record as the event source mapping delivers it; a new messageId every time."""
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764151200000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1764151200001",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:s3ledger-events",
        "awsRegion": "us-east-1",
    }


def sqs_event(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(messages)}


def cancel_transactions(
    harness: Harness, key: str, reason: str, *, times: int = 1, position: int = 0
) -> None:
    """Make DynamoDB cancel the next ``times`` transactions that mention ``key``.

    The action at ``position`` gets ``reason`` (e.g. ``ValidationError`` on the audit put, or
    ``TransactionConflict`` on the ledger update at position 1); the other is ``None``.
    """
    reasons = ["None", "None"]
    reasons[position] = reason
    harness.faults.fail(
        "TransactWriteItems",
        "TransactionCanceledException",
        cancellation_reasons=reasons,
        times=times,
        matching=key,
    )

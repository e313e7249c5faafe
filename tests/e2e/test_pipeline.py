"""The whole local pipeline: S3 (moto) → SQS (moto) → the runner → DynamoDB Local."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from s3ledger.operate.attach import attach, detach
from s3ledger.operate.backfill import backfill
from s3ledger.operate.scan import check_tables
from s3ledger.workbench.moto_process import aws_client
from s3ledger.workbench.provision import Resources, provision, route_s3_events_to_queue
from s3ledger.workbench.runner import ExecutionEnvironment, LocalRunner
from s3ledger.workbench.session import start_runner
from s3ledger.workbench.template import PipelineSpec, load_pipeline_spec
from tests.support.tables import scan_all
from tests.support.waiting import wait_for

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Scaled-down timeouts (as `sam deploy --parameter-overrides` would set them) keep redelivery
# within seconds; everything else comes from template.yaml as declared.
FAST = {"FunctionTimeout": "1", "QueueVisibilityTimeout": "2", "MaxReceiveCount": "2"}


@pytest.fixture
def pipeline(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, aws_endpoint: str
) -> Iterator[tuple[PipelineSpec, Resources, LocalRunner, list[ExecutionEnvironment]]]:
    """A fresh prefixed pipeline (bucket, queues, tables) with a two-worker runner on it."""
    spec = load_pipeline_spec(overrides=FAST)
    resources = provision(
        dynamodb_client,
        aws_client("s3", aws_endpoint),
        aws_client("sqs", aws_endpoint),
        spec,
        prefix=f"t{uuid.uuid4().hex[:8]}-",
    )
    environments: list[ExecutionEnvironment] = []
    runner = start_runner(
        spec,
        resources,
        dynamodb_endpoint=dynamodb_endpoint,
        aws_endpoint=aws_endpoint,
        sqs_factory=lambda: aws_client("sqs", aws_endpoint),
        workers=2,
        environments=environments,
    )
    try:
        yield spec, resources, runner, environments
    finally:
        runner.stop()
    assert runner.errors == []


def test_an_upload_reaches_both_tables_through_the_runner(
    pipeline: Any, dynamodb_client: DynamoDBClient, aws_endpoint: str
) -> None:
    """put_object on the local bucket → S3 notification → SQS → handler → ledger + audit."""
    _, resources, runner, _ = pipeline
    key = "in box/résumé + notes 100%.txt"
    aws_client("s3", aws_endpoint).put_object(Bucket=resources.bucket, Key=key, Body=b"hello")

    assert wait_for(lambda: len(scan_all(dynamodb_client, resources.audit_table)) == 1)
    (item,) = scan_all(dynamodb_client, resources.ledger_table)
    assert item["id"] == {"S": f"{resources.bucket}/{key}"}
    assert item["status"] == {"S": "processed"}
    assert item["size"] == {"N": "5"}
    assert runner.wait_until_drained(aws_client("sqs", aws_endpoint), timeout=10)
    assert runner.stats.messages_deleted >= 2  # the s3:TestEvent and the upload


@pytest.mark.slow
def test_a_poison_message_reaches_the_dlq_while_its_batch_mates_are_applied(
    pipeline: Any, dynamodb_client: DynamoDBClient, aws_endpoint: str
) -> None:
    """A malformed message fails maxReceiveCount times, then sits in the DLQ; nothing else is lost.

    The poison message and good notifications are received in the same batches: only the poison
    one is reported in batchItemFailures, so the others are deleted and applied once.
    """
    spec, resources, runner, environments = pipeline
    sqs = aws_client("sqs", aws_endpoint)
    s3 = aws_client("s3", aws_endpoint)
    sqs.send_message(QueueUrl=resources.queue_url, MessageBody="{not json")
    for index in range(5):
        s3.put_object(Bucket=resources.bucket, Key=f"batch/{index}.csv", Body=b"x")

    def dlq_depth() -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=resources.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    assert wait_for(lambda: dlq_depth() == 1, timeout=30)
    assert runner.wait_until_drained(sqs, timeout=15)
    (parked,) = sqs.receive_message(
        QueueUrl=resources.dlq_url, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert parked["Body"] == "{not json"
    assert int(parked["Attributes"]["ApproximateReceiveCount"]) > spec.queue.max_receive_count
    assert len(scan_all(dynamodb_client, resources.audit_table)) == 5
    assert len(scan_all(dynamodb_client, resources.ledger_table)) == 5
    failed = sum(env.pipeline.metrics.snapshot().get("RecordsFailed", 0) for env in environments)
    assert failed == spec.queue.max_receive_count


def test_an_attached_bucket_feeds_the_pipeline_through_eventbridge(
    pipeline: Any, dynamodb_client: DynamoDBClient, aws_endpoint: str, tmp_path: Path
) -> None:
    """A bucket that already exists, with a queue notification of its own: attach turns on its
    EventBridge delivery and keeps that notification; an upload and a delete marker then reach
    the ledger through EventBridge → SQS → the runner (the bucket's own queue still gets its
    events too); backfill brings in the objects that were there before, and check is clean;
    detach turns EventBridge off again and keeps the queue notification."""
    _, resources, _, _ = pipeline
    s3, sqs = aws_client("s3", aws_endpoint), aws_client("sqs", aws_endpoint)
    suffix = uuid.uuid4().hex[:8]
    route_s3_events_to_queue(
        aws_client("events", aws_endpoint), resources.queue_url, sqs, f"attached-{suffix}"
    )
    bucket = f"existing-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for index in range(12):  # objects that were there before s3ledger
        s3.put_object(Bucket=bucket, Key=f"old/{index:02d} file.csv", Body=b"x" * index)
    theirs = sqs.create_queue(QueueName=f"theirs-{suffix}")["QueueUrl"]
    their_arn = sqs.get_queue_attributes(QueueUrl=theirs, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    their_config = {"QueueArn": their_arn, "Events": ["s3:ObjectCreated:*"], "Id": "theirs"}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [their_config]}
    )

    change = attach(s3, bucket)
    assert (change.changed, change.kept) == (True, {"topic": 0, "queue": 1, "function": 0})
    assert not attach(s3, bucket).changed  # a second attach changes nothing
    document = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert "EventBridgeConfiguration" in document
    assert [c["QueueArn"] for c in document["QueueConfigurations"]] == [their_arn]

    object_id = f"{bucket}/in/report 1.csv"

    def status() -> str | None:
        item = dynamodb_client.get_item(
            TableName=resources.ledger_table, Key={"id": {"S": object_id}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else item["status"]["S"]

    s3.put_object(Bucket=bucket, Key="in/report 1.csv", Body=b"a,b\n")
    assert wait_for(lambda: status() == "processed", timeout=20)
    s3.delete_object(Bucket=bucket, Key="in/report 1.csv")
    assert wait_for(lambda: status() == "deleted", timeout=20)
    audit = scan_all(dynamodb_client, resources.audit_table)
    names = sorted(a["event_name"]["S"] for a in audit if a["object_id"]["S"] == object_id)
    assert names == ["ObjectCreated:Put", "ObjectRemoved:DeleteMarkerCreated"]
    theirs_got = sqs.receive_message(QueueUrl=theirs, MaxNumberOfMessages=10).get("Messages", [])
    assert any("ObjectCreated:Put" in m["Body"] for m in theirs_got)

    # The objects that were there before: backfill brings them in, then the tables are clean
    # and every object shows what a GET returns.
    report = backfill(
        s3,
        dynamodb_client,
        bucket=bucket,
        ledger_table=resources.ledger_table,
        audit_table=resources.audit_table,
        checkpoint=tmp_path / "backfill.json",
    )
    assert (report.objects_seen, report.objects_written) == (12, 12)
    tables = check_tables(
        dynamodb_client, ledger_table=resources.ledger_table, audit_table=resources.audit_table
    )
    assert tables.anomalies_total == 0
    assert tables.ledger_items == 13  # the 12, and the key uploaded then deleted above

    assert detach(s3, bucket).changed
    document = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert "EventBridgeConfiguration" not in document
    assert [c["QueueArn"] for c in document["QueueConfigurations"]] == [their_arn]

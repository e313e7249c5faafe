"""The Lambda entry points with the shared payloads of ``events/``, against DynamoDB Local."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from s3ledger.core.config import Mode, Settings
from s3ledger.core.errors import MalformedRecordError
from s3ledger.core.lag import LAG_METRIC
from s3ledger.pipeline.handlers import Handler
from s3ledger.pipeline.writers import CountingMetrics
from s3ledger.workbench.context import LocalContext
from s3ledger.workbench.dynamodb_local import dynamodb_client
from tests.support.pipeline import (
    cancel_transactions,
    make_harness,
    s3_notification,
    s3_record,
    sqs_event,
    sqs_message,
)
from tests.support.tables import TableNames, scan_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return payload


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_a_malformed_message_in_a_batch_of_ten_fails_alone(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """One body is not JSON: only its messageId is reported; the other nine are applied."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    good = [sqs_message(s3_notification(s3_record(f"file-{i}.csv"))) for i in range(9)]
    bad = sqs_message("{this is not json")
    response = harness.pipeline.handle_sqs(sqs_event(*good[:4], bad, *good[4:]), LocalContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 9
    assert len(scan_all(dynamodb_client, fresh_tables.ledger)) == 9
    assert harness.metrics.snapshot() == {"EventsApplied": 9, "RecordsFailed": 1}


def test_a_message_fails_if_any_of_its_records_fails(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """A message with several records is redelivered whole if one record fails."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    cancel_transactions(harness, "second.csv", "ValidationError")
    message = sqs_message(s3_notification(s3_record("first.csv"), s3_record("second.csv")))
    response = harness.pipeline.handle_sqs(sqs_event(message), LocalContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}


def test_the_sqs_sample_batch_is_applied(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    response = harness.pipeline.handle_sqs(load("sqs-s3-put.json"), LocalContext())
    assert response == {"batchItemFailures": []}
    assert len(scan_all(dynamodb_client, fresh_tables.ledger)) == 2


def test_the_s3_test_event_is_acknowledged_and_writes_nothing(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """s3:TestEvent succeeds (so it leaves the queue) and writes nothing."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    response = harness.pipeline.handle_sqs(load("sqs-test-event.json"), LocalContext())
    assert response == {"batchItemFailures": []}
    assert scan_all(dynamodb_client, fresh_tables.audit) == []
    assert harness.faults.calls == []


def test_the_sqs_duplicate_sample_is_written_once(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    assert harness.pipeline.handle_sqs(load("sqs-duplicate.json"), LocalContext()) == {
        "batchItemFailures": []
    }
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 1


def test_the_sqs_malformed_sample_reports_only_the_bad_message(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    payload = load("sqs-malformed.json")
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    response = harness.pipeline.handle_sqs(payload, LocalContext())
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    bad = [r["messageId"] for r in payload["Records"] if not is_json(r["body"])]
    assert len(bad) == 1
    assert failed == bad
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == len(payload["Records"]) - 1


def test_direct_s3_put_then_delete(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    fresh_tables: TableNames,
    aws_endpoint: str,
    demo_bucket: str,
) -> None:
    """S3 → Lambda: the sample put, then the sample removal of its version, leave 'deleted'.

    The removal names a version: the handler asks the bucket, which has no version left."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, aws_endpoint=aws_endpoint)
    assert harness.pipeline.handle_s3(load("s3-put.json"), LocalContext())["applied"] == 1
    assert harness.pipeline.handle_s3(load("s3-delete.json"), LocalContext())["applied"] == 1
    (item,) = scan_all(dynamodb_client, fresh_tables.ledger)
    assert item["status"] == {"S": "deleted"}
    assert item["key"] == {"S": "reports/2026/q3 summary+final.csv"}


def test_direct_s3_tries_every_record_then_fails_the_invocation(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """A failed record fails the async invocation (Lambda retries it) after the rest is written."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    cancel_transactions(harness, "bad.csv", "ValidationError")
    with pytest.raises(Exception, match="rejected"):
        harness.pipeline.handle_s3(
            s3_notification(s3_record("bad.csv"), s3_record("good.csv")), LocalContext()
        )
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 1


def test_eventbridge_created_then_deleted(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    fresh_tables: TableNames,
    aws_endpoint: str,
    demo_bucket: str,
) -> None:
    """S3 → EventBridge → Lambda: both samples apply; keys are taken unencoded."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, aws_endpoint=aws_endpoint)
    created = load("eventbridge-object-created.json")
    assert harness.pipeline.handle_eventbridge(created, LocalContext()) == {"applied": 1}
    assert harness.pipeline.handle_eventbridge(created, LocalContext()) == {"duplicate": 1}
    deleted = load("eventbridge-object-deleted.json")
    assert harness.pipeline.handle_eventbridge(deleted, LocalContext()) == {"applied": 1}
    (item,) = scan_all(dynamodb_client, fresh_tables.ledger)
    assert item["key"]["S"] == created["detail"]["object"]["key"]
    assert item["status"] == {"S": "deleted"}


def test_a_malformed_eventbridge_event_names_the_missing_field(
    dynamodb_endpoint: str, fresh_tables: TableNames
) -> None:
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    broken = load("eventbridge-object-created.json")
    del broken["detail"]["object"]["key"]
    with pytest.raises(MalformedRecordError, match=r"detail\.object\.key"):
        harness.pipeline.handle_eventbridge(broken, LocalContext())


class TimingMetrics(CountingMetrics):
    """A sink that also takes timings, as the Lambda's Powertools sink and the workbench's do."""

    def __init__(self) -> None:
        super().__init__()
        self.timings: list[tuple[str, float]] = []

    def timing(self, name: str, milliseconds: float) -> None:
        self.timings.append((name, milliseconds))


@pytest.mark.parametrize("mode", ["inbox", "inbox-batch", "lean"])
def test_each_written_event_reports_its_lag_and_a_duplicate_does_not(
    dynamodb_endpoint: str, fresh_tables: TableNames, mode: Mode
) -> None:
    """EventLag: one value per event written, the milliseconds from its S3 event time to the
    end of its write (bounded by the clock read before and after the invocation); the same
    event delivered again is a duplicate and adds no value."""
    metrics = TimingMetrics()
    settings = Settings(
        mode=mode,
        ledger_table=fresh_tables.ledger,
        audit_table=fresh_tables.audit,
        idempotency_table=fresh_tables.idempotency,
    )
    handler = Handler(settings, dynamodb_client(dynamodb_endpoint), metrics)
    sent = datetime.now(UTC) - timedelta(seconds=2)
    sent = sent.replace(microsecond=sent.microsecond // 1000 * 1000)  # S3 stamps milliseconds
    stamp = sent.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    records = [s3_record(f"lag-{i}.csv", event_time=stamp) for i in range(3)]
    event = sqs_event(*(sqs_message(s3_notification(record)) for record in records))

    before = datetime.now(UTC)
    assert handler.handle_sqs(event, LocalContext()) == {"batchItemFailures": []}
    after = datetime.now(UTC)
    assert handler.handle_sqs(event, LocalContext()) == {"batchItemFailures": []}

    assert [name for name, _ in metrics.timings] == [LAG_METRIC] * 3
    low = (before - sent).total_seconds() * 1000
    high = (after - sent).total_seconds() * 1000
    assert all(low <= lag <= high for _, lag in metrics.timings), (low, metrics.timings, high)
    assert metrics.snapshot()["DuplicatesSkipped"] == 3

"""``inbox-batch`` against DynamoDB Local: one transaction per batch, the same guarantees."""

from __future__ import annotations

from typing import TYPE_CHECKING

from s3ledger.workbench.context import LocalContext
from tests.support.pipeline import (
    cancel_transactions,
    make_harness,
    s3_notification,
    s3_record,
    sqs_event,
    sqs_message,
)
from tests.support.tables import TableNames, scan_all, stream_records

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def messages(*records: dict[str, object]) -> list[dict[str, object]]:
    return [sqs_message(s3_notification(record)) for record in records]


def test_a_batch_of_ten_fresh_events_is_one_transaction(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="inbox-batch")
    batch = messages(*(s3_record(f"f-{i}.csv") for i in range(10)))
    assert harness.pipeline.handle_sqs(sqs_event(*batch), LocalContext()) == {
        "batchItemFailures": []
    }
    assert harness.faults.calls == ["TransactWriteItems"]
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 10
    assert len(scan_all(dynamodb_client, fresh_tables.ledger)) == 10
    assert harness.metrics.snapshot() == {"EventsApplied": 10}


def test_a_cancelled_wave_is_read_by_position_and_the_rest_falls_back(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """One event was recorded by another sandbox, one is stale: the others still apply once."""
    other = make_harness(dynamodb_endpoint, fresh_tables, mode="inbox")
    other.pipeline.handle_sqs(
        sqs_event(*messages(s3_record("dup.csv"), s3_record("k.csv", "0200"))), LocalContext()
    )
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="inbox-batch")
    batch = messages(
        s3_record("a.csv"), s3_record("dup.csv"), s3_record("k.csv", "0100"), s3_record("b.csv")
    )
    response = harness.pipeline.handle_sqs(sqs_event(*batch), LocalContext())

    assert response == {"batchItemFailures": []}
    assert harness.metrics.snapshot() == {
        "DuplicatesSkipped": 1,
        "EventsSuperseded": 1,
        "EventsApplied": 2,
    }
    # The cancelled wave; then, in batch order: a.csv alone, the superseded audit put, b.csv.
    assert harness.faults.calls == [
        "TransactWriteItems",
        "TransactWriteItems",
        "PutItem",
        "TransactWriteItems",
    ]
    outcomes = sorted(
        item["outcome"]["S"] for item in scan_all(dynamodb_client, fresh_tables.audit)
    )
    assert outcomes == ["applied"] * 4 + ["superseded"]


def test_events_of_one_object_in_one_batch_end_on_the_newest(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """v2 arrives before v1 in one batch: two waves, the ledger holds v2, v1 is superseded."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="inbox-batch")
    batch = messages(
        s3_record("x.csv", "02", size=2), s3_record("y.csv"), s3_record("x.csv", "01", size=1)
    )
    assert harness.pipeline.handle_sqs(sqs_event(*batch), LocalContext()) == {
        "batchItemFailures": []
    }
    (item,) = [
        i for i in scan_all(dynamodb_client, fresh_tables.ledger) if i["key"]["S"] == "x.csv"
    ]
    assert item["size"] == {"N": "2"}
    assert harness.metrics.snapshot() == {"EventsApplied": 2, "EventsSuperseded": 1}


def test_a_malformed_message_and_a_stuck_record_fail_alone(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """Bad input and a persistent conflict are reported per message; the rest is applied."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="inbox-batch")
    cancel_transactions(harness, "hot.csv", "TransactionConflict", times=100, position=1)
    good = messages(*(s3_record(f"g-{i}.csv") for i in range(3)))
    hot = sqs_message(s3_notification(s3_record("hot.csv")))
    bad = sqs_message("{truncated")
    response = harness.pipeline.handle_sqs(sqs_event(good[0], hot, bad, *good[1:]), LocalContext())

    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {hot["messageId"], bad["messageId"]}
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 3


def test_a_wave_whose_answer_is_lost_counts_its_events_applied(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: object,
    fresh_tables: TableNames,
) -> None:
    """The wave commits, and its answer is lost four times (botocore's every try): the writer
    sends it again with the same ClientRequestToken, DynamoDB answers success, and the five
    events are counted applied (a fallback would have found their audit items and called them
    duplicates), each written once."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="inbox-batch")
    harness.faults.lose_response("TransactWriteItems", times=4)
    batch = messages(*(s3_record(f"lost-{i}.csv") for i in range(5)))
    assert harness.pipeline.handle_sqs(sqs_event(*batch), LocalContext()) == {
        "batchItemFailures": []
    }
    assert harness.metrics.snapshot() == {"EventsApplied": 5}
    assert harness.faults.injected == {"lost-response": 4}
    assert harness.faults.calls == ["TransactWriteItems"]  # the resend, answered success
    writes = stream_records(streams_client, dynamodb_client, fresh_tables.audit)
    assert len(writes) == 5

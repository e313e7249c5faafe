"""The article's designs (naive, transact, powertools) on DynamoDB Local: their flaws, measured."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from s3ledger.core.errors import RejectedWriteError
from s3ledger.core.events import parse_s3_event
from s3ledger.pipeline.writers import Outcome
from s3ledger.pipeline.writers.transact import ObjectAlreadyRecordedError
from s3ledger.workbench.context import LocalContext
from s3ledger.workbench.faults import SimulatedCrash
from tests.support.pipeline import make_harness, s3_notification, s3_record
from tests.support.tables import TableNames, scan_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def counts(client: DynamoDBClient, tables: TableNames) -> tuple[int, int]:
    return len(scan_all(client, tables.ledger)), len(scan_all(client, tables.audit))


def test_naive_crash_between_its_two_puts_leaves_a_ledger_item_without_audit(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """The article's symptom: the invocation dies after the first put; the tables disagree."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="naive")
    harness.faults.crash_after(1)
    (event,) = parse_s3_event(s3_notification(s3_record("split.csv"))).events

    with pytest.raises(SimulatedCrash):
        harness.pipeline.writer.write(event, LocalContext())

    assert harness.faults.calls == ["PutItem"]
    assert counts(dynamodb_client, fresh_tables) == (1, 0)


def test_naive_writes_a_duplicate_again(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """naive has no duplicate detection: a second delivery costs two more writes."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="naive")
    (event,) = parse_s3_event(s3_notification(s3_record("twice.csv"))).events
    assert harness.pipeline.writer.write(event, LocalContext()) is Outcome.APPLIED
    assert harness.pipeline.writer.write(event, LocalContext()) is Outcome.APPLIED
    assert harness.faults.calls == ["PutItem"] * 4


def test_transact_writes_both_items_atomically(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """A crash right after the transaction cannot split the tables: both items or neither."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="transact")
    harness.faults.crash_after(1)
    (event,) = parse_s3_event(s3_notification(s3_record("atomic.csv"))).events
    with pytest.raises(SimulatedCrash):
        harness.pipeline.writer.write(event, LocalContext())
    assert counts(dynamodb_client, fresh_tables) == (1, 1)


def test_transact_rejects_a_reupload_of_the_same_key(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """The article's flaw: attribute_not_exists(id) turns a legitimate re-upload into a failure.

    The ledger keeps the first upload's state and the second upload is not audited at all.
    """
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="transact")
    first = harness.pipeline.handle_s3(
        s3_notification(s3_record("k", "0A", size=1)), LocalContext()
    )
    assert first == {"ignored": 0, "applied": 1}

    with pytest.raises(ObjectAlreadyRecordedError, match="rejects duplicates and re-uploads"):
        harness.pipeline.handle_s3(s3_notification(s3_record("k", "0B", size=2)), LocalContext())

    (item,) = scan_all(dynamodb_client, fresh_tables.ledger)
    assert item["size"] == {"N": "1"}
    assert counts(dynamodb_client, fresh_tables) == (1, 1)
    assert harness.metrics.snapshot()["RecordsFailed"] == 1


def test_transact_fails_a_duplicate_delivery(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """A duplicate is rejected like a re-upload: the message fails until it reaches the DLQ."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="transact")
    (event,) = parse_s3_event(s3_notification(s3_record("dup.csv"))).events
    harness.pipeline.writer.write(event, LocalContext())
    with pytest.raises(RejectedWriteError):
        harness.pipeline.writer.write(event, LocalContext())


def test_powertools_skips_a_duplicate_without_a_transaction(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """Fresh: PutItem INPROGRESS, the transaction, UpdateItem COMPLETED. Duplicate: one PutItem."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="powertools")
    (event,) = parse_s3_event(s3_notification(s3_record("once.csv"))).events

    assert harness.pipeline.writer.write(event, LocalContext()) is Outcome.APPLIED
    fresh_calls = list(harness.faults.calls)
    assert harness.pipeline.writer.write(event, LocalContext()) is Outcome.DUPLICATE

    assert fresh_calls == ["PutItem", "TransactWriteItems", "UpdateItem"]
    assert harness.faults.calls[len(fresh_calls) :] == ["PutItem"]
    assert counts(dynamodb_client, fresh_tables) == (1, 1)
    (record,) = scan_all(dynamodb_client, fresh_tables.idempotency)
    assert record["status"] == {"S": "COMPLETED"}


def test_powertools_crash_before_completed_reexecutes_and_then_fails_for_good(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """Powertools' crash window, measured.

    The invocation commits the transaction and dies before Powertools marks the record
    COMPLETED. While the in-progress expiry (the invocation's remaining time, registered with
    ``register_lambda_context``) has not passed, a redelivery is refused as "in progress" (a
    retryable error). After it, Powertools runs the function again; the re-run hits the
    transaction's ``attribute_not_exists(id)`` and fails; Powertools deletes its record on that
    exception, so every later delivery fails the same way until the message lands in the DLQ.
    The data is consistent (one ledger item, one audit item), but an event that *was* applied is
    reported failed and parked in the DLQ: the false alarm ``chaos`` counts as parked_in_dlq.
    """
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="powertools")
    (event,) = parse_s3_event(s3_notification(s3_record("window.csv"))).events
    harness.faults.crash_after(2)  # PutItem INPROGRESS, TransactWriteItems, then the crash

    with pytest.raises(SimulatedCrash):
        harness.pipeline.writer.write(event, LocalContext(timeout_seconds=1.5))
    (record,) = scan_all(dynamodb_client, fresh_tables.idempotency)
    assert record["status"] == {"S": "INPROGRESS"}

    retry = make_harness(dynamodb_endpoint, fresh_tables, mode="powertools")
    with pytest.raises(Exception, match="another invocation holds it"):
        retry.pipeline.writer.write(event, LocalContext())

    time.sleep(1.6)  # past the in-progress expiry
    with pytest.raises(ObjectAlreadyRecordedError):
        retry.pipeline.writer.write(event, LocalContext())
    assert retry.faults.calls[-2:] == ["TransactWriteItems", "DeleteItem"]
    assert scan_all(dynamodb_client, fresh_tables.idempotency) == []
    assert counts(dynamodb_client, fresh_tables) == (1, 1)


def test_powertools_rejects_a_reupload_like_transact(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """A re-upload is a new event_id, so idempotency lets it through to transact, which refuses."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode="powertools")
    harness.pipeline.handle_s3(s3_notification(s3_record("k", "0A")), LocalContext())
    with pytest.raises(ObjectAlreadyRecordedError):
        harness.pipeline.handle_s3(s3_notification(s3_record("k", "0B")), LocalContext())
    assert counts(dynamodb_client, fresh_tables) == (1, 1)

"""``inbox`` against DynamoDB Local: exactly once under duplicates, reordering and lost answers."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import pytest

from s3ledger.core.errors import TransactionConflictError
from s3ledger.core.events import parse_s3_event
from s3ledger.pipeline.writers import Outcome
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


def ledger_state(client: DynamoDBClient, tables: TableNames) -> dict[str, dict[str, Any]]:
    return {item["id"]["S"]: item for item in scan_all(client, tables.ledger)}


def audit_outcomes(client: DynamoDBClient, tables: TableNames) -> dict[str, str]:
    return {item["event_id"]["S"]: item["outcome"]["S"] for item in scan_all(client, tables.audit)}


def test_one_record_in_two_sqs_messages_of_one_batch_is_written_once(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
) -> None:
    """S3 delivered one event twice, in two messages of one batch: one audit item, one write."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    body = s3_notification(s3_record("dup.csv"))
    response = harness.pipeline.handle_sqs(
        sqs_event(sqs_message(body), sqs_message(body)), LocalContext()
    )

    assert response == {"batchItemFailures": []}
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 1
    ledger_writes = stream_records(streams_client, dynamodb_client, fresh_tables.ledger)
    assert [r["eventName"] for r in ledger_writes] == ["INSERT"]
    assert harness.metrics.snapshot() == {"EventsApplied": 1, "DuplicatesSkipped": 1}
    # The second copy is skipped by the sandbox's memory of recorded events: no request at all.
    assert harness.faults.calls == ["TransactWriteItems"]


def test_one_record_from_eight_threads_at_once_is_written_once(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
) -> None:
    """Eight execution environments race on one event: one applies it, seven see a duplicate."""
    harnesses = [make_harness(dynamodb_endpoint, fresh_tables) for _ in range(8)]
    (event,) = parse_s3_event(s3_notification(s3_record("race.csv"))).events
    barrier = threading.Barrier(len(harnesses))
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []

    def run(harness: Any) -> None:
        barrier.wait()
        try:
            outcomes.append(harness.pipeline.writer.write(event, LocalContext()))
        except Exception as exc:  # a retryable error would also be a correct answer: report it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(h,)) for h in harnesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(isinstance(e, TransactionConflictError) for e in errors), errors
    assert outcomes.count(Outcome.APPLIED) == 1
    assert len(outcomes) + len(errors) == 8
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 1
    ledger_writes = stream_records(streams_client, dynamodb_client, fresh_tables.ledger)
    assert len(ledger_writes) == 1


def test_a_reupload_updates_the_ledger_and_adds_an_audit_item(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """A second upload of one key is a new event: ledger moves to it, both are audited."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    harness.pipeline.handle_s3(s3_notification(s3_record("k", "0A", size=1)), LocalContext())
    harness.pipeline.handle_s3(s3_notification(s3_record("k", "0B", size=2)), LocalContext())

    (item,) = ledger_state(dynamodb_client, fresh_tables).values()
    assert item["size"] == {"N": "2"}
    assert item["last_event_id"]["S"] == "bucket/k#0B" + "0" * 30
    assert sorted(audit_outcomes(dynamodb_client, fresh_tables).values()) == ["applied"] * 2


@pytest.mark.parametrize(
    ("older", "newer"),
    [("0055AED6DCD90281E5", "0055AED6DCD90281F0"), ("0062E99A88DC407460", "0062E99A88DC4075")],
)
def test_an_older_event_arriving_late_is_superseded(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    fresh_tables: TableNames,
    older: str,
    newer: str,
) -> None:
    """Newer first, older second: the ledger keeps the newer state; the older is 'superseded'.

    ``0062E99A88DC407460`` is older than ``0062E99A88DC4075``: sequencers of different lengths
    are compared after right-padding, as S3 documents.
    """
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    context = LocalContext()
    harness.pipeline.handle_s3(s3_notification(s3_record("k", newer, size=2)), context)
    summary = harness.pipeline.handle_s3(s3_notification(s3_record("k", older, size=1)), context)
    again = harness.pipeline.handle_s3(s3_notification(s3_record("k", older, size=1)), context)

    assert summary == {"ignored": 0, "superseded": 1}
    assert again == {"ignored": 0, "duplicate": 1}
    (item,) = ledger_state(dynamodb_client, fresh_tables).values()
    assert item["size"] == {"N": "2"}
    outcomes = audit_outcomes(dynamodb_client, fresh_tables)
    assert sorted(outcomes.values()) == ["applied", "superseded"]
    (superseded,) = [k for k, v in outcomes.items() if v == "superseded"]
    assert superseded == "bucket/k#" + older.upper().ljust(32, "0")


def test_a_delete_marks_the_object_deleted_and_drops_its_old_attributes(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """ObjectRemoved goes through the same guarded path: status 'deleted', no stale size/etag."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    context = LocalContext()
    harness.pipeline.handle_s3(s3_notification(s3_record("gone.txt", "10")), context)
    harness.pipeline.handle_s3(
        s3_notification(s3_record("gone.txt", "11", event_name="ObjectRemoved:Delete")), context
    )

    (item,) = ledger_state(dynamodb_client, fresh_tables).values()
    assert item["status"] == {"S": "deleted"}
    assert "size" not in item
    assert "etag" not in item
    assert len(audit_outcomes(dynamodb_client, fresh_tables)) == 2


def test_a_put_older_than_a_delete_does_not_resurrect_the_object(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """The delete (newer) arrives first; the put (older) must not bring the object back."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    context = LocalContext()
    harness.pipeline.handle_s3(
        s3_notification(s3_record("gone.txt", "11", event_name="ObjectRemoved:Delete")), context
    )
    summary = harness.pipeline.handle_s3(s3_notification(s3_record("gone.txt", "10")), context)

    assert summary["superseded"] == 1
    (item,) = ledger_state(dynamodb_client, fresh_tables).values()
    assert item["status"] == {"S": "deleted"}


@pytest.mark.parametrize("lost", [1, 3])
def test_a_lost_response_after_commit_has_no_second_effect(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
    lost: int,
) -> None:
    """The transaction commits, the client sees a timeout, the retry writes nothing more.

    With one lost answer botocore's own retry resends the same ClientRequestToken; with three it
    gives up and s3ledger's retry does, keeping the token because the failure was ambiguous.
    Either way DynamoDB recognises the token and the event is applied exactly once.
    """
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    harness.faults.lose_response("TransactWriteItems", times=lost)
    (event,) = parse_s3_event(s3_notification(s3_record("ambiguous.csv"))).events

    outcome = harness.pipeline.writer.write(event, LocalContext())
    redelivered = harness.pipeline.writer.write(event, LocalContext())

    assert harness.faults.injected == {"lost-response": lost}
    assert outcome is Outcome.APPLIED
    assert redelivered is Outcome.DUPLICATE
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 1
    assert len(stream_records(streams_client, dynamodb_client, fresh_tables.ledger)) == 1


def test_a_lost_response_seen_by_a_later_invocation_is_a_duplicate(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """The invocation gives up on an ambiguous write; SQS redelivers; the audit key absorbs it."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    harness.faults.lose_response("TransactWriteItems", times=100)
    body = s3_notification(s3_record("lost.csv"))
    first = harness.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())
    assert len(first["batchItemFailures"]) == 1  # outcome unknown: the message must come back

    retry = make_harness(dynamodb_endpoint, fresh_tables)
    second = retry.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())

    assert second == {"batchItemFailures": []}
    assert retry.metrics.snapshot() == {"DuplicatesSkipped": 1}
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 1


def test_a_transaction_conflict_is_retried(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """One TransactionConflict: the write is retried and succeeds; the conflict is counted."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    harness.faults.fail(
        "TransactWriteItems",
        "TransactionCanceledException",
        cancellation_reasons=["None", "TransactionConflict"],
    )
    body = s3_notification(s3_record("conflict.csv"))
    response = harness.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())

    assert response == {"batchItemFailures": []}
    assert harness.metrics.snapshot() == {"TransactionConflicts": 1, "EventsApplied": 1}
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 1


def test_a_persistent_conflict_fails_only_its_own_record(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """A conflict that outlasts the retries fails that message alone; the others are applied."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    cancel_transactions(harness, "hot-key.csv", "TransactionConflict", times=100, position=1)
    hot = sqs_message(s3_notification(s3_record("hot-key.csv")))
    others = [sqs_message(s3_notification(s3_record(f"cool-{i}.csv"))) for i in range(3)]
    response = harness.pipeline.handle_sqs(sqs_event(others[0], hot, *others[1:]), LocalContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": hot["messageId"]}]}
    assert harness.faults.injected["TransactionCanceledException"] == 4  # the policy's attempts
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 3


def test_throttling_is_absorbed_by_botocore_retries(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """A ThrottlingException answered before the write is retried and the event applied once."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    harness.faults.fail("TransactWriteItems", "ThrottlingException", times=2)
    (event,) = parse_s3_event(s3_notification(s3_record("slow.csv"))).events

    assert harness.pipeline.writer.write(event, LocalContext()) is Outcome.APPLIED
    assert harness.faults.injected == {"ThrottlingException": 2}
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 1


def test_a_validation_error_is_poison_for_that_record_only(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """An item DynamoDB rejects fails once, without retries, and does not hold up the batch."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    cancel_transactions(harness, "too-big.bin", "ValidationError")
    bad = sqs_message(s3_notification(s3_record("too-big.bin")))
    good = sqs_message(s3_notification(s3_record("fine.bin")))
    response = harness.pipeline.handle_sqs(sqs_event(bad, good), LocalContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert harness.faults.injected == {"TransactionCanceledException": 1}
    assert list(audit_outcomes(dynamodb_client, fresh_tables)) == [
        "bucket/fine.bin#0055AED6DCD90281E5" + "0" * 14
    ]


@pytest.mark.parametrize(
    ("encoded", "key"),
    [
        ("my+report.csv", "my report.csv"),
        ("c%2B%2B%2Fnotes.txt", "c++/notes.txt"),
        ("100%25+done.txt", "100% done.txt"),
        ("caf%C3%A9%2F%E6%97%A5%E6%9C%AC.txt", "café/日本.txt"),
        ("reports%2F2026%2Fq3.csv", "reports/2026/q3.csv"),
        (quote_plus("é" * 511 + "xy"), "é" * 511 + "xy"),
    ],
    ids=["space", "plus", "percent", "non-ascii", "moto-slash", "1024-bytes"],
)
def test_awkward_keys_are_stored_decoded(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    fresh_tables: TableNames,
    encoded: str,
    key: str,
) -> None:
    """Keys decoded from the notification become the ledger's id and the audit's object_id."""
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    body = s3_notification(s3_record(encoded))
    assert harness.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext()) == {
        "batchItemFailures": []
    }
    (item,) = scan_all(dynamodb_client, fresh_tables.ledger)
    assert item["id"] == {"S": f"bucket/{key}"}
    assert item["key"] == {"S": key}
    (audit,) = scan_all(dynamodb_client, fresh_tables.audit)
    assert audit["object_id"] == {"S": f"bucket/{key}"}

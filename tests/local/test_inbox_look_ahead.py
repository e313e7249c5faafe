"""``inbox``'s duplicate look-ahead against DynamoDB Local: a run of duplicates is found with one
``BatchGetItem`` instead of a cancelled transaction each, and nothing else changes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from s3ledger.pipeline.writers.inbox import LOOK_AHEAD_KEYS
from s3ledger.workbench.context import LocalContext
from tests.support.pipeline import make_harness, s3_notification, s3_record, sqs_event, sqs_message
from tests.support.tables import TableNames, scan_all, stream_records

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TX = "TransactWriteItems"
LOOKUP = "BatchGetItem"


def bodies(*keys: str) -> list[dict[str, Any]]:
    return [s3_notification(s3_record(key)) for key in keys]


def deliver(endpoint: str, tables: TableNames, batch: list[dict[str, Any]]) -> Any:
    """Hand ``batch`` (notification bodies, one message each) to a new, cold sandbox."""
    harness = make_harness(endpoint, tables)
    response = harness.pipeline.handle_sqs(
        sqs_event(*(sqs_message(body) for body in batch)), LocalContext()
    )
    assert response == {"batchItemFailures": []}
    return harness


def test_a_fresh_batch_makes_no_lookup(dynamodb_endpoint: str, fresh_tables: TableNames) -> None:
    """Fresh events cost one transaction each and nothing more: the look-ahead starts only at a
    duplicate."""
    harness = deliver(dynamodb_endpoint, fresh_tables, bodies(*(f"f{i}.csv" for i in range(6))))

    assert harness.faults.calls == [TX] * 6
    assert harness.metrics.snapshot() == {"EventsApplied": 6}


def test_a_redelivered_batch_costs_one_transaction_and_one_lookup(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
) -> None:
    """A batch of six duplicates in a sandbox that never saw them: the first is found by its
    cancelled transaction, the other five by one lookup, and nothing is written twice."""
    batch = bodies(*(f"d{i}.csv" for i in range(6)))
    deliver(dynamodb_endpoint, fresh_tables, batch)

    again = deliver(dynamodb_endpoint, fresh_tables, batch)

    assert again.faults.calls == [TX, LOOKUP]
    assert again.metrics.snapshot() == {"DuplicatesSkipped": 6}
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 6
    ledger_writes = stream_records(streams_client, dynamodb_client, fresh_tables.ledger)
    assert [r["eventName"] for r in ledger_writes] == ["INSERT"] * 6


def test_fresh_events_among_duplicates_are_still_written(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """The lookup skips only what it finds: the fresh events of a mixed batch get their
    transactions, after it."""
    deliver(dynamodb_endpoint, fresh_tables, bodies("m0.csv", "m1.csv", "m2.csv"))

    mixed = deliver(
        dynamodb_endpoint, fresh_tables, bodies("m0.csv", "new-a.csv", "m1.csv", "new-b.csv")
    )

    assert mixed.faults.calls == [TX, LOOKUP, TX, TX]
    assert mixed.metrics.snapshot() == {"DuplicatesSkipped": 2, "EventsApplied": 2}
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 5


def test_a_lookup_asks_for_at_most_a_hundred_keys(
    dynamodb_endpoint: str, fresh_tables: TableNames
) -> None:
    """BatchGetItem takes 100 keys: past them, the next duplicate starts another lookup."""
    batch = bodies(*(f"many-{i}.csv" for i in range(LOOK_AHEAD_KEYS + 5)))
    deliver(dynamodb_endpoint, fresh_tables, batch)

    again = deliver(dynamodb_endpoint, fresh_tables, batch)

    # Event 1 cancels, the lookup covers events 2-101, event 102 cancels, a lookup covers 103-105.
    assert again.faults.calls == [TX, LOOKUP, TX, LOOKUP]
    assert again.metrics.snapshot() == {"DuplicatesSkipped": LOOK_AHEAD_KEYS + 5}


def test_a_failed_lookup_falls_back_to_the_transactions(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    fresh_tables: TableNames,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """If the lookup is refused (say the role lacks BatchGetItem), it is not tried again in that
    invocation, every event still gets its conditional transaction, the batch succeeds, and the
    refusal is logged by its code."""
    batch = bodies("r0.csv", "r1.csv", "r2.csv", "r3.csv")
    deliver(dynamodb_endpoint, fresh_tables, batch)
    harness = make_harness(dynamodb_endpoint, fresh_tables)
    harness.faults.fail(LOOKUP, "AccessDeniedException")

    with caplog.at_level(logging.WARNING, logger="s3ledger.pipeline.writers.inbox"):
        response = harness.pipeline.handle_sqs(
            sqs_event(*(sqs_message(body) for body in batch)), LocalContext()
        )

    assert response == {"batchItemFailures": []}
    assert harness.faults.injected == {"AccessDeniedException": 1}
    assert harness.faults.calls == [TX, LOOKUP, TX, TX, TX]
    assert harness.metrics.snapshot() == {"DuplicatesSkipped": 4}
    assert [getattr(r, "error", None) for r in caplog.records] == ["AccessDeniedException"]
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 4

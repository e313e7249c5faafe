"""Same event id, different facts: never skipped as a duplicate in silence.

AWS's SDK test payloads reuse one sequencer for a PUT and a DELETE of a key; a replay tool or a
hand-made message can do the same. An event whose id is recorded already but whose event name,
version id or eTag differ from the record is logged with both, counted (``IdentityConflicts``),
and its message fails, so that it ends in the DLQ instead of vanishing as a duplicate.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from s3ledger.core import ledger
from s3ledger.core.config import Mode
from s3ledger.workbench.context import LocalContext
from tests.support.pipeline import make_harness, s3_record, sqs_event, sqs_message
from tests.support.tables import TableNames, scan_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MODES: tuple[Mode, ...] = ("inbox", "lean", "inbox-batch")
SEQUENCER = "0055AED6DCD90281E5"


def put_and_delete_with_one_sequencer() -> tuple[dict[str, Any], dict[str, Any]]:
    """The shape of AWS's SDK sample events: a PUT and a DELETE of one key, one sequencer."""
    put = s3_record("doc.txt", SEQUENCER, bucket="conflicts")
    delete = s3_record("doc.txt", SEQUENCER, bucket="conflicts", event_name="ObjectRemoved:Delete")
    return put, delete


def send(harness: Any, *records: dict[str, Any]) -> list[str]:
    """One batch, one message per record; the failed messages' positions."""
    messages = [sqs_message(json.dumps({"Records": [r]})) for r in records]
    response = harness.pipeline.handle_sqs(sqs_event(*messages), LocalContext())
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    return [str(i) for i, m in enumerate(messages) if m["messageId"] in failed]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sandbox", ["same", "fresh"])
def test_a_conflicting_event_fails_its_message(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    fresh_tables: TableNames,
    caplog: pytest.LogCaptureFixture,
    mode: Mode,
    sandbox: str,
) -> None:
    """The PUT is applied; the DELETE with the PUT's id fails (in the sandbox that wrote the PUT,
    whose memory knows the id, and in a fresh one that only DynamoDB can tell), is counted and
    logged with both facts; the tables keep the PUT."""
    put, delete = put_and_delete_with_one_sequencer()
    first = make_harness(dynamodb_endpoint, fresh_tables, mode)
    assert send(first, put) == []
    second = first if sandbox == "same" else make_harness(dynamodb_endpoint, fresh_tables, mode)
    assert send(second, delete) == ["0"]
    assert second.metrics.snapshot().get("IdentityConflicts") == 1
    logged = " ".join(r.getMessage() + str(r.__dict__.get("reason", "")) for r in caplog.records)
    assert "ObjectRemoved:Delete" in logged
    assert "ObjectCreated:Put" in logged
    (item,) = (ledger.from_item(i) for i in scan_all(dynamodb_client, fresh_tables.ledger))
    assert item["status"] == ledger.PROCESSED
    audit = [ledger.from_item(i) for i in scan_all(dynamodb_client, fresh_tables.audit)]
    assert [a["event_name"] for a in audit] == ["ObjectCreated:Put"]


@pytest.mark.parametrize("mode", MODES)
def test_a_conflict_in_a_run_of_duplicates_is_not_skipped(
    dynamodb_endpoint: str, fresh_tables: TableNames, mode: Mode
) -> None:
    """A redelivered batch (true duplicates, looked up ahead in one read) with the conflicting
    DELETE among them: the duplicates succeed, the DELETE alone fails."""
    put, delete = put_and_delete_with_one_sequencer()
    others = [s3_record(f"other-{n}.txt", f"00{n:016X}", bucket="conflicts") for n in range(4)]
    writer = make_harness(dynamodb_endpoint, fresh_tables, mode)
    assert send(writer, put, *others) == []
    replay = make_harness(dynamodb_endpoint, fresh_tables, mode)
    assert send(replay, put, *others[:2], delete, *others[2:]) == ["3"]
    assert replay.metrics.snapshot().get("IdentityConflicts") == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_true_duplicate_is_still_skipped(
    dynamodb_endpoint: str, fresh_tables: TableNames, mode: Mode
) -> None:
    """The same record twice (another message, another sandbox) is a duplicate, no conflict."""
    put, _ = put_and_delete_with_one_sequencer()
    assert send(make_harness(dynamodb_endpoint, fresh_tables, mode), put) == []
    again = make_harness(dynamodb_endpoint, fresh_tables, mode)
    assert send(again, put) == []
    assert "IdentityConflicts" not in again.metrics.snapshot()

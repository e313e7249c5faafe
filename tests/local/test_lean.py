"""``lean`` against DynamoDB Local: every crash point between its two writes, lost answers,
duplicates, reordering, versioned buckets, and ``rebuild-ledger``.

Each test asserts what the tables hold (and their streams: how many times an item changed).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from s3ledger.cli.main import main
from s3ledger.core import ledger
from s3ledger.core.consistency import check_consistency
from s3ledger.core.events import ObjectEvent, parse_s3_event, parse_s3_record
from s3ledger.core.lean import RECORDED, event_of_audit, target_state
from s3ledger.core.ledger import ObjectState
from s3ledger.operate.rebuild import rebuild_ledger
from s3ledger.pipeline.writers import Outcome
from s3ledger.proof.chaos import run_chaos
from s3ledger.proof.delivery import FaultRates
from s3ledger.proof.windows import WindowObserver
from s3ledger.workbench.context import LocalContext
from s3ledger.workbench.dynamodb_local import (
    DUMMY_ACCESS_KEY_ID,
    DUMMY_SECRET_ACCESS_KEY,
    REGION,
)
from s3ledger.workbench.faults import SimulatedCrash
from tests.local.test_versions import DELIVERIES, SCENARIOS
from tests.support.pipeline import (
    Harness,
    make_harness,
    s3_notification,
    s3_record,
    sqs_event,
    sqs_message,
)
from tests.support.tables import TableNames, scan_all, stream_records
from tests.support.versioned import VersionedKey

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

OLDER, NEWER = "0055AED6DCD90281E5", "0055AED6DCD90281F0"


def lean(endpoint: str, tables: TableNames, **kwargs: Any) -> Harness:
    return make_harness(endpoint, tables, "lean", **kwargs)


def event_of(key: str, sequencer: str | None = OLDER, **kwargs: Any) -> ObjectEvent:
    (event,) = parse_s3_event(s3_notification(s3_record(key, sequencer, **kwargs))).events
    return event


def ledger_items(client: DynamoDBClient, tables: TableNames) -> dict[str, dict[str, Any]]:
    return {i["id"]["S"]: ledger.from_item(i) for i in scan_all(client, tables.ledger)}


def audit_items(client: DynamoDBClient, tables: TableNames) -> list[dict[str, Any]]:
    return [ledger.from_item(i) for i in scan_all(client, tables.audit)]


def anomalies(client: DynamoDBClient, tables: TableNames) -> dict[str, int]:
    report = check_consistency(audit_items(client, tables), ledger_items(client, tables).values())
    return {kind: n for kind, n in report.anomalies.items() if n}


def changes(streams: Any, client: DynamoDBClient, table: str) -> list[str]:
    return [r["eventName"] for r in stream_records(streams, client, table)]


# ------------------------------------------------------------------------------- the happy path


def test_a_fresh_event_is_one_put_and_one_update(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
) -> None:
    harness = lean(dynamodb_endpoint, fresh_tables)
    outcome = harness.pipeline.writer.write(event_of("a.csv", size=7), LocalContext())

    assert outcome is Outcome.APPLIED
    assert harness.faults.calls == ["PutItem", "UpdateItem"]
    (audit,) = audit_items(dynamodb_client, fresh_tables)
    assert audit["outcome"] == RECORDED
    assert "target" not in audit  # the event carries its state: not stored twice
    (item,) = ledger_items(dynamodb_client, fresh_tables).values()
    assert (item["status"], item["size"], item["last_event_id"]) == (
        "processed",
        7,
        audit["event_id"],
    )
    assert changes(streams_client, dynamodb_client, fresh_tables.ledger) == ["INSERT"]
    assert anomalies(dynamodb_client, fresh_tables) == {}


def test_write_units_are_one_per_write_as_dynamodb_reports_them(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """Both writes are standard writes of items under 1 KB: 1 unit each; a duplicate's failed
    conditions are billed as writes too (DynamoDB Local reports them as 0: the bench counts them
    by rule)."""
    event = event_of("units.csv")
    put = ledger.audit_put(
        event,
        fresh_tables.audit,
        outcome=RECORDED,
        request_id=str(uuid.uuid4()),
        processed_at="2026-11-28T00:00:00.000Z",
        only_if_new=True,
    )
    consumed = dynamodb_client.put_item(**put, ReturnConsumedCapacity="TOTAL")
    update = ledger.ledger_update(event, fresh_tables.ledger)
    applied = dynamodb_client.update_item(**update, ReturnConsumedCapacity="TOTAL")
    assert consumed["ConsumedCapacity"]["CapacityUnits"] == 1.0
    assert applied["ConsumedCapacity"]["CapacityUnits"] == 1.0


def test_the_audit_item_rebuilds_its_own_event_and_state() -> None:
    for event in (
        event_of("x/y z#1.csv", size=3),
        event_of("u.csv", None, event_time="2026-11-26T10:00:00Z"),
        event_of("d.csv", NEWER, event_name="ObjectRemoved:Delete"),
    ):
        item = ledger.audit_item(event, outcome=RECORDED, request_id="r", processed_at="t")
        rebuilt = event_of_audit(item)
        assert (rebuilt.event_id, rebuilt.order, rebuilt.effect) == (
            event.event_id,
            event.order,
            event.effect,
        )
        assert (
            ledger.audit_item(rebuilt, outcome=RECORDED, request_id="r", processed_at="t") == item
        )
        assert target_state(item) == ObjectState.of_event(event)


# ------------------------------------------------------------------ crash points between writes


def test_a_crash_after_the_audit_put_is_healed_by_the_redelivery(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
) -> None:
    """Write 1 landed, the sandbox died before write 2: the tables disagree (the window), and
    the message's redelivery, a duplicate for the audit log, completes the event."""
    body = json.dumps(s3_notification(s3_record("half.csv", size=5)))
    first = lean(dynamodb_endpoint, fresh_tables)
    first.faults.crash_after_write(fresh_tables.audit)
    with pytest.raises(SimulatedCrash):
        first.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())

    assert len(audit_items(dynamodb_client, fresh_tables)) == 1
    assert ledger_items(dynamodb_client, fresh_tables) == {}
    assert anomalies(dynamodb_client, fresh_tables) == {"audit_without_ledger": 1}

    again = lean(dynamodb_endpoint, fresh_tables)
    response = again.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())

    assert response == {"batchItemFailures": []}
    assert again.faults.calls == ["PutItem", "UpdateItem"]
    assert again.metrics.snapshot() == {"EventsApplied": 1, "HalfDoneHealed": 1}
    (item,) = ledger_items(dynamodb_client, fresh_tables).values()
    assert item["size"] == 5
    assert changes(streams_client, dynamodb_client, fresh_tables.audit) == ["INSERT"]
    assert changes(streams_client, dynamodb_client, fresh_tables.ledger) == ["INSERT"]
    assert anomalies(dynamodb_client, fresh_tables) == {}


def test_a_crash_after_the_ledger_update_leaves_a_duplicate_that_writes_nothing(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
) -> None:
    body = json.dumps(s3_notification(s3_record("done.csv")))
    first = lean(dynamodb_endpoint, fresh_tables)
    first.faults.crash_after_write(fresh_tables.ledger)
    with pytest.raises(SimulatedCrash):
        first.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())
    assert anomalies(dynamodb_client, fresh_tables) == {}

    again = lean(dynamodb_endpoint, fresh_tables)
    response = again.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())

    assert response == {"batchItemFailures": []}
    assert again.metrics.snapshot() == {"DuplicatesSkipped": 1}
    # Two failed conditions: the duplicate's cost, 2 write units (by DynamoDB's billing rule).
    assert again.faults.calls == ["PutItem", "UpdateItem"]
    assert changes(streams_client, dynamodb_client, fresh_tables.audit) == ["INSERT"]
    assert changes(streams_client, dynamodb_client, fresh_tables.ledger) == ["INSERT"]


@pytest.mark.parametrize("operation", ["PutItem", "UpdateItem"])
@pytest.mark.parametrize("lost", [1, 3])
def test_a_lost_answer_to_either_write_is_applied_once(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
    operation: str,
    lost: int,
) -> None:
    """The write commits, the client sees a timeout; the retry fails its condition on our own
    item and is recognised as applied (1: botocore's retry; 3: s3ledger's retry)."""
    harness = lean(dynamodb_endpoint, fresh_tables)
    harness.faults.lose_response(operation, times=lost)

    outcome = harness.pipeline.writer.write(event_of("lost.csv"), LocalContext())

    assert harness.faults.injected == {"lost-response": lost}
    assert outcome is Outcome.APPLIED
    assert "HalfDoneHealed" not in harness.metrics.snapshot()
    assert changes(streams_client, dynamodb_client, fresh_tables.audit) == ["INSERT"]
    assert changes(streams_client, dynamodb_client, fresh_tables.ledger) == ["INSERT"]
    assert anomalies(dynamodb_client, fresh_tables) == {}


@pytest.mark.slow
def test_an_update_that_keeps_failing_comes_back_and_is_healed(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
) -> None:
    """Write 2 throttled past every retry: the record fails (SQS brings it back), the audit
    item stays; the redelivery completes the event."""
    body = json.dumps(s3_notification(s3_record("throttled.csv")))
    harness = lean(dynamodb_endpoint, fresh_tables)
    harness.faults.fail("UpdateItem", "ProvisionedThroughputExceededException", times=100)
    message = sqs_message(body)
    response = harness.pipeline.handle_sqs(sqs_event(message), LocalContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}
    assert anomalies(dynamodb_client, fresh_tables) == {"audit_without_ledger": 1}

    harness.faults.clear()
    response = harness.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())

    assert response == {"batchItemFailures": []}
    assert changes(streams_client, dynamodb_client, fresh_tables.ledger) == ["INSERT"]
    assert anomalies(dynamodb_client, fresh_tables) == {}


def test_a_rejected_audit_put_is_poison_for_that_record_only(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    harness = lean(dynamodb_endpoint, fresh_tables)
    harness.faults.fail("PutItem", "ValidationException", matching="bad.csv")
    bad, good = (
        sqs_message(json.dumps(s3_notification(s3_record(k)))) for k in ("bad.csv", "good.csv")
    )
    response = harness.pipeline.handle_sqs(sqs_event(bad, good), LocalContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert list(ledger_items(dynamodb_client, fresh_tables)) == ["bucket/good.csv"]
    assert anomalies(dynamodb_client, fresh_tables) == {}


# ---------------------------------------------------------------------- duplicates and order


def test_duplicates_in_one_batch_and_in_another_sandbox_write_once(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
) -> None:
    body = json.dumps(s3_notification(s3_record("dup.csv")))
    one = lean(dynamodb_endpoint, fresh_tables)
    response = one.pipeline.handle_sqs(
        sqs_event(sqs_message(body), sqs_message(body)), LocalContext()
    )
    assert response == {"batchItemFailures": []}
    # The second copy: the sandbox knows the event complete, no request.
    assert one.faults.calls == ["PutItem", "UpdateItem"]

    other = lean(dynamodb_endpoint, fresh_tables)
    other.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())
    assert other.metrics.snapshot() == {"DuplicatesSkipped": 1}
    assert changes(streams_client, dynamodb_client, fresh_tables.audit) == ["INSERT"]
    assert changes(streams_client, dynamodb_client, fresh_tables.ledger) == ["INSERT"]


def test_one_event_from_eight_sandboxes_at_once_is_written_once(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
) -> None:
    harnesses = [lean(dynamodb_endpoint, fresh_tables) for _ in range(8)]
    event = event_of("race.csv")
    barrier = threading.Barrier(len(harnesses))
    outcomes: list[Outcome] = []

    def run(harness: Harness) -> None:
        barrier.wait()
        outcomes.append(harness.pipeline.writer.write(event, LocalContext()))

    threads = [threading.Thread(target=run, args=(h,)) for h in harnesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 8
    assert outcomes.count(Outcome.APPLIED) == 1
    assert changes(streams_client, dynamodb_client, fresh_tables.audit) == ["INSERT"]
    assert changes(streams_client, dynamodb_client, fresh_tables.ledger) == ["INSERT"]
    assert anomalies(dynamodb_client, fresh_tables) == {}


def test_an_older_event_after_a_newer_one_leaves_the_newer_state(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    harness = lean(dynamodb_endpoint, fresh_tables)
    context = LocalContext()
    assert harness.pipeline.writer.write(event_of("k", NEWER, size=2), context) is Outcome.APPLIED
    assert (
        harness.pipeline.writer.write(event_of("k", OLDER, size=1), context) is Outcome.SUPERSEDED
    )

    (item,) = ledger_items(dynamodb_client, fresh_tables).values()
    assert item["size"] == 2
    assert [a["outcome"] for a in audit_items(dynamodb_client, fresh_tables)] == [RECORDED] * 2
    assert anomalies(dynamodb_client, fresh_tables) == {}


def test_a_half_done_older_event_redelivered_after_a_newer_one_changes_nothing(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
) -> None:
    """Old event: write 1, crash. New event: both writes. Old event again: the guard refuses its
    update (correct: the ledger holds a newer state), and the tables agree."""
    old = json.dumps(s3_notification(s3_record("k", OLDER, size=1)))
    first = lean(dynamodb_endpoint, fresh_tables)
    first.faults.crash_after_write(fresh_tables.audit)
    with pytest.raises(SimulatedCrash):
        first.pipeline.handle_sqs(sqs_event(sqs_message(old)), LocalContext())
    second = lean(dynamodb_endpoint, fresh_tables)
    second.pipeline.writer.write(event_of("k", NEWER, size=2), LocalContext())
    response = second.pipeline.handle_sqs(sqs_event(sqs_message(old)), LocalContext())

    assert response == {"batchItemFailures": []}
    (item,) = ledger_items(dynamodb_client, fresh_tables).values()
    assert item["size"] == 2
    assert changes(streams_client, dynamodb_client, fresh_tables.ledger) == ["INSERT"]
    assert anomalies(dynamodb_client, fresh_tables) == {}


def test_a_delete_older_than_a_put_does_not_hide_the_object(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    harness = lean(dynamodb_endpoint, fresh_tables)
    context = LocalContext()
    harness.pipeline.writer.write(event_of("k", NEWER), context)
    outcome = harness.pipeline.writer.write(
        event_of("k", OLDER, event_name="ObjectRemoved:Delete"), context
    )
    assert outcome is Outcome.SUPERSEDED
    (item,) = ledger_items(dynamodb_client, fresh_tables).values()
    assert item["status"] == "processed"


# ------------------------------------------------------------------------- versioned buckets


@pytest.mark.parametrize("delivery", ["twice", "reversed", "shuffled_in_pairs"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_versioned_history_ends_at_what_a_get_returns(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    aws_endpoint: str,
    fresh_tables: TableNames,
    s3: S3Client,
    bucket: str,
    scenario: str,
    delivery: str,
) -> None:
    key = VersionedKey(s3, bucket, "reports/q3 summary+final é.csv")
    SCENARIOS[scenario](key)
    harness = lean(dynamodb_endpoint, fresh_tables, aws_endpoint=aws_endpoint)
    for batch in DELIVERIES[delivery](key.records):
        messages = [sqs_message(json.dumps({"Records": [r]})) for r in batch]
        response = harness.pipeline.handle_sqs(sqs_event(*messages), LocalContext())
        assert response == {"batchItemFailures": []}

    (item,) = ledger_items(dynamodb_client, fresh_tables).values()
    assert ObjectState.of_ledger(item) == key.state(), (item, key.state())
    expected = {e.event_id for e in map(parse_s3_record, key.records) if e is not None}
    assert {a["event_id"] for a in audit_items(dynamodb_client, fresh_tables)} == expected
    audit_writes = stream_records(streams_client, dynamodb_client, fresh_tables.audit)
    assert len(audit_writes) == len(expected), "an audit item was written twice"
    assert anomalies(dynamodb_client, fresh_tables) == {}


def test_a_removal_half_done_is_healed_with_the_state_read_the_first_time(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
    fresh_tables: TableNames,
    s3: S3Client,
    bucket: str,
) -> None:
    """The current version is removed: the state read from S3 (the previous version) goes into
    the audit item's ``target``; after a crash there, the redelivery applies that state without
    reading S3 again."""
    key = VersionedKey(s3, bucket, "v.csv")
    key.put(b"one")
    second = key.put(b"two!")
    key.delete_version(second)
    harness = lean(dynamodb_endpoint, fresh_tables, aws_endpoint=aws_endpoint)
    for record in key.records[:2]:
        harness.pipeline.handle_sqs(sqs_event(sqs_message({"Records": [record]})), LocalContext())
    removal = sqs_message({"Records": [key.records[2]]})
    crashing = lean(dynamodb_endpoint, fresh_tables, aws_endpoint=aws_endpoint)
    crashing.faults.crash_after_write(fresh_tables.audit)
    with pytest.raises(SimulatedCrash):
        crashing.pipeline.handle_sqs(sqs_event(removal), LocalContext())
    recorded = [a for a in audit_items(dynamodb_client, fresh_tables) if "target" in a]
    assert [a["target"]["size"] for a in recorded] == [3]
    assert anomalies(dynamodb_client, fresh_tables) == {"stale_ledger": 1}

    key.put(b"three, not read")  # what S3 says now must not replace what was recorded
    healer = lean(dynamodb_endpoint, fresh_tables, aws_endpoint=aws_endpoint)
    healer.pipeline.handle_sqs(sqs_event(removal), LocalContext())

    assert healer.faults.calls == ["BatchGetItem", "UpdateItem"]
    (item,) = ledger_items(dynamodb_client, fresh_tables).values()
    assert item["size"] == 3
    assert anomalies(dynamodb_client, fresh_tables) == {}


# ---------------------------------------------------------------------------- rebuild-ledger


def _history(harness: Harness, keys: int = 6) -> None:
    context = LocalContext()
    for number in range(keys):
        for sequencer, size in ((OLDER, 1), (NEWER, 2)):
            harness.pipeline.writer.write(event_of(f"r{number}", sequencer, size=size), context)
    harness.pipeline.writer.write(event_of("u", None, size=9), context)


def test_rebuild_restores_deleted_ledger_items_and_a_second_run_writes_nothing(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    fresh_tables: TableNames,
) -> None:
    _history(lean(dynamodb_endpoint, fresh_tables))
    before = ledger_items(dynamodb_client, fresh_tables)
    for object_id in ("bucket/r0", "bucket/r3", "bucket/u"):
        dynamodb_client.delete_item(TableName=fresh_tables.ledger, Key={"id": {"S": object_id}})

    first = rebuild_ledger(
        dynamodb_client, ledger_table=fresh_tables.ledger, audit_table=fresh_tables.audit
    )
    assert first.audit_items_read == 13
    assert first.ledger_items_written == 3
    assert first.already_current == 4
    assert ledger_items(dynamodb_client, fresh_tables) == before
    assert anomalies(dynamodb_client, fresh_tables) == {}

    writes = len(stream_records(streams_client, dynamodb_client, fresh_tables.ledger))
    second = rebuild_ledger(
        dynamodb_client, ledger_table=fresh_tables.ledger, audit_table=fresh_tables.audit
    )
    assert second.ledger_items_written == 0
    assert second.already_current == 7
    assert len(stream_records(streams_client, dynamodb_client, fresh_tables.ledger)) == writes
    assert ledger_items(dynamodb_client, fresh_tables) == before


def test_rebuild_heals_a_half_done_event(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    harness = lean(dynamodb_endpoint, fresh_tables)
    harness.faults.crash_after_write(fresh_tables.audit)
    with pytest.raises(SimulatedCrash):
        harness.pipeline.writer.write(event_of("parked.csv", size=4), LocalContext())
    assert anomalies(dynamodb_client, fresh_tables) == {"audit_without_ledger": 1}

    report = rebuild_ledger(
        dynamodb_client, ledger_table=fresh_tables.ledger, audit_table=fresh_tables.audit
    )
    assert report.ledger_items_written == 1
    assert ledger_items(dynamodb_client, fresh_tables)["bucket/parked.csv"]["size"] == 4
    assert anomalies(dynamodb_client, fresh_tables) == {}


def test_rebuild_while_events_flow_never_moves_an_item_backwards(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """A rebuild from an old snapshot of the audit log races newer live events: the live
    events' states stay, whichever lands first."""
    writer = lean(dynamodb_endpoint, fresh_tables).pipeline.writer
    context = LocalContext()
    for number in range(20):
        writer.write(event_of(f"f{number}", OLDER, size=1), context)
    for number in range(20):
        dynamodb_client.delete_item(
            TableName=fresh_tables.ledger, Key={"id": {"S": f"bucket/f{number}"}}
        )
    live = lean(dynamodb_endpoint, fresh_tables).pipeline.writer
    flowing = threading.Thread(
        target=lambda: [
            live.write(event_of(f"f{number}", NEWER, size=2), LocalContext())
            for number in range(20)
        ]
    )
    flowing.start()
    rebuild_ledger(
        dynamodb_client,
        ledger_table=fresh_tables.ledger,
        audit_table=fresh_tables.audit,
        segments=2,
    )
    flowing.join()
    rebuild_ledger(
        dynamodb_client, ledger_table=fresh_tables.ledger, audit_table=fresh_tables.audit
    )

    items = ledger_items(dynamodb_client, fresh_tables)
    assert {item["size"] for item in items.values()} == {2}
    assert len(items) == 20
    assert anomalies(dynamodb_client, fresh_tables) == {}


def test_the_rebuild_ledger_command_prints_what_it_did(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    fresh_tables: TableNames,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _history(lean(dynamodb_endpoint, fresh_tables), keys=2)
    dynamodb_client.delete_item(TableName=fresh_tables.ledger, Key={"id": {"S": "bucket/r1"}})
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_ACCESS_KEY)
    tables = ["--ledger-table", fresh_tables.ledger, "--audit-table", fresh_tables.audit]

    assert main(["rebuild-ledger", *tables, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["rebuild-ledger", *tables, "--json"]) == 0
    second = json.loads(capsys.readouterr().out)

    assert (first["audit_items_read"], first["ledger_items_written"]) == (5, 1)
    assert (second["audit_items_read"], second["ledger_items_written"]) == (5, 0)
    assert anomalies(dynamodb_client, fresh_tables) == {}


# ----------------------------------------------------------------------- disagreement windows


def test_the_window_of_a_half_done_event_lasts_until_its_redelivery(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    windows = WindowObserver(audit_table=fresh_tables.audit, ledger_table=fresh_tables.ledger)
    body = json.dumps(s3_notification(s3_record("w.csv")))
    crashing = lean(dynamodb_endpoint, fresh_tables)
    windows.attach(crashing.client)
    crashing.faults.crash_after_write(fresh_tables.audit)
    with pytest.raises(SimulatedCrash):
        crashing.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())
    assert windows.summary()["open_after_drain"] == 1

    time.sleep(0.3)  # the visibility timeout, scaled down
    healer = lean(dynamodb_endpoint, fresh_tables)
    windows.attach(healer.client)
    healer.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())
    healer.pipeline.writer.write(event_of("other.csv"), LocalContext())

    summary = windows.summary()
    assert summary["open_after_drain"] == 0
    assert summary["events"] == 2
    assert 0.3 <= summary["longest_seconds"] < 5
    assert summary["union_seconds"] <= summary["total_seconds"]


def test_a_redelivered_batch_costs_one_duplicate_and_one_lookup(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """After the first duplicate, one BatchGetItem finds the rest complete; an event of the
    batch that is recorded but half done is not skipped: it is healed."""
    bodies = [json.dumps(s3_notification(s3_record(f"b{n}.csv"))) for n in range(6)]
    lean(dynamodb_endpoint, fresh_tables).pipeline.handle_sqs(
        sqs_event(*(sqs_message(b) for b in bodies[:5])), LocalContext()
    )
    crashing = lean(dynamodb_endpoint, fresh_tables)
    crashing.faults.crash_after_write(fresh_tables.audit)
    with pytest.raises(SimulatedCrash):
        crashing.pipeline.handle_sqs(sqs_event(sqs_message(bodies[5])), LocalContext())

    redriven = lean(dynamodb_endpoint, fresh_tables)
    response = redriven.pipeline.handle_sqs(
        sqs_event(*(sqs_message(b) for b in bodies)), LocalContext()
    )

    assert response == {"batchItemFailures": []}
    assert redriven.faults.calls == [
        "PutItem",
        "UpdateItem",
        "BatchGetItem",
        "PutItem",
        "UpdateItem",
    ]
    assert redriven.metrics.snapshot() == {
        "DuplicatesSkipped": 5,
        "EventsApplied": 1,
        "HalfDoneHealed": 1,
    }
    assert len(ledger_items(dynamodb_client, fresh_tables)) == 6
    assert anomalies(dynamodb_client, fresh_tables) == {}


def test_an_event_inbox_wrote_is_complete_for_lean(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """Switching a stack from inbox to lean: a redelivery of an event inbox wrote costs one
    failed Put and nothing else."""
    event = event_of("switched.csv")
    make_harness(dynamodb_endpoint, fresh_tables, "inbox").pipeline.writer.write(
        event, LocalContext()
    )
    harness = lean(dynamodb_endpoint, fresh_tables)
    assert harness.pipeline.writer.write(event, LocalContext()) is Outcome.DUPLICATE
    assert harness.faults.calls == ["PutItem"]
    assert anomalies(dynamodb_client, fresh_tables) == {}


# ------------------------------------------------------------------------------------- chaos


@pytest.mark.slow
@pytest.mark.dynamodb
@pytest.mark.timeout(300)
def test_chaos_with_every_fault_and_crashes_between_the_writes_ends_consistent() -> None:
    """A small, fault-heavy chaos run of lean: nothing half done or wrong once drained, and the
    disagreement windows all closed."""
    rates = FaultRates.parse(
        "duplicate=0.3,reorder=0.3,crash=0.2,lost-response=0.2,error=0.2,deadline=0.05,"
        "drop=0.05,poison=0.02,between=0.3"
    )
    summary = run_chaos(events=120, modes=["lean"], rates=rates, seed=13, workers=2, as_json=True)
    result = summary["modes"]["lean"]
    assert result["anomalies_total"] == 0, result
    before = result["before_reconcile"]["anomalies"]
    assert before["half_done"] == before["wrong_state"] == before["applied_twice"] == 0
    assert result["faults_injected"]["between"] > 0
    windows = summary["measured"]["lean"]["disagreement"]
    assert windows["open_after_drain"] == 0
    assert windows["events"] > 0

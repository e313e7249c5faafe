"""``s3ledger history`` and ``s3ledger migrate-audit`` against DynamoDB Local and moto's S3.

History's truth is the requests the test made on a versioned bucket, in the order it made them,
and what S3 answered (version ids, eTags); the events reach the audit log through the handler.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from s3ledger.core import ledger
from s3ledger.operate.history import in_s3_order, object_history
from s3ledger.operate.migrate import migrate_audit
from s3ledger.workbench.context import LocalContext
from tests.e2e.test_cli import run_cli, table_env
from tests.support.pipeline import make_harness, sqs_event, sqs_message
from tests.support.tables import TableNames, scan_all
from tests.support.versioned import VersionedKey

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

KEY = "invoices/2026/x y+z.pdf"


def operations(client: DynamoDBClient) -> Counter[str]:
    """Count the client's API calls by name (botocore's own event hook, no stub)."""
    calls: Counter[str] = Counter()
    client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.update([model.name])
    )
    return calls


@pytest.mark.parametrize("mode", ["inbox", "lean"])
def test_history_lists_the_four_events_in_s3s_order_from_one_query(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
    fresh_tables: TableNames,
    s3: S3Client,
    bucket: str,
    mode: str,
) -> None:
    """A PUT, an overwrite, a delete marker and the marker's removal, delivered in reverse: the
    history lists the four in the order they were made, with their version ids, who made them and
    what each did to the ledger, read with one Query and no Scan."""
    k = VersionedKey(s3, bucket, KEY)
    first = k.put(b"one")
    second = k.put(b"two!")
    marker = k.delete()
    k.delete_version(marker)
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode, aws_endpoint=aws_endpoint)
    for record in reversed(k.records):
        harness.pipeline.handle_sqs(sqs_event(sqs_message({"Records": [record]})), LocalContext())

    calls = operations(dynamodb_client)
    history = object_history(
        dynamodb_client, audit_table=fresh_tables.audit, bucket=bucket, key=KEY
    )
    assert calls == Counter({"Query": 1})
    events = history.to_json()["events"]
    assert history.to_json()["object"] == f"{bucket}/{KEY}"
    assert [e["event_name"] for e in events] == [
        "ObjectCreated:Put",
        "ObjectCreated:Put",
        "ObjectRemoved:DeleteMarkerCreated",
        "ObjectRemoved:Delete",
    ]
    assert [e["version_id"] for e in events] == [first, second, marker, marker]
    assert [e["size"] for e in events[:2]] == [3, 4]
    assert all(e["requester"] and e["source_ip"] and e["outcome"] for e in events)


def test_the_history_command_prints_json_and_fails_on_an_unknown_object(
    dynamodb_endpoint: str, aws_endpoint: str, fresh_tables: TableNames, s3: S3Client, bucket: str
) -> None:
    """``history KEY --bucket B --json`` prints the documented shape; an object with no event
    exits 1 (and says so to people)."""
    k = VersionedKey(s3, bucket, KEY)
    k.put(b"one")
    harness = make_harness(dynamodb_endpoint, fresh_tables, aws_endpoint=aws_endpoint)
    harness.pipeline.handle_sqs(sqs_event(sqs_message({"Records": k.records})), LocalContext())
    env = table_env(dynamodb_endpoint, fresh_tables)
    result = run_cli("history", KEY, "--bucket", bucket, "--json", env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["object"] == f"{bucket}/{KEY}"
    (event,) = shown["events"]
    assert set(event) >= {
        "event_id",
        "event_name",
        "event_time",
        "version_id",
        "etag",
        "size",
        "requester",
        "source_ip",
        "outcome",
    }
    missing = run_cli("history", "no/such key", "--bucket", bucket, env=env)
    assert missing.returncode == 1
    assert "no event of this object" in missing.stdout


def test_lifecycle_events_take_their_place_by_time_among_sequenced_ones() -> None:
    """Sequenced events in sequencer order; an unsequenced one after those of its own time and
    before the first later one (the clocks say no more)."""

    def item(name: str, time: str, sequencer: str | None = None) -> dict[str, Any]:
        return {"event_name": name, "event_time": time, "sequencer": sequencer}

    put1 = item("put1", "2026-01-01T00:00:01.000Z", "01")
    put2 = item("put2", "2026-01-01T00:00:01.000Z", "02")
    expiry = item("expiry", "2026-01-01T00:00:01.000Z")
    put3 = item("put3", "2026-01-01T00:00:05.000Z", "03")
    later = item("later expiry", "2026-01-01T00:00:09.000Z")
    order = in_s3_order([later, put3, expiry, put2, put1])
    assert [i["event_name"] for i in order] == ["put1", "put2", "expiry", "put3", "later expiry"]


def test_migrate_audit_copies_an_old_table_and_never_overwrites(
    dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """An audit table of an earlier release (keyed by event_id) is copied into the new key; an
    item the new table already has (the function wrote it since the switch) is kept; a second
    run copies nothing; ``history`` then finds the copied events."""
    old = f"{fresh_tables.audit}-old"
    dynamodb_client.create_table(
        TableName=old,
        KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "event_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        ids = [f"b/k#{n:032X}" for n in range(1, 6)]
        for event_id in ids:
            item = {"event_id": event_id, "object_id": "b/k", "outcome": "applied"}
            dynamodb_client.put_item(TableName=old, Item=ledger.to_item(item))
        newer = {**ledger.audit_key(ids[0]), "event_id": {"S": ids[0]}, "outcome": {"S": "new"}}
        dynamodb_client.put_item(TableName=fresh_tables.audit, Item=newer)

        first = migrate_audit(dynamodb_client, source=old, target=fresh_tables.audit)
        assert (first.read, first.copied, first.already_there) == (5, 4, 1)
        again = migrate_audit(dynamodb_client, source=old, target=fresh_tables.audit)
        assert (again.copied, again.already_there) == (0, 5)
        copied = {
            i["event_id"]: i
            for i in map(ledger.from_item, scan_all(dynamodb_client, fresh_tables.audit))
        }
        assert copied[ids[0]]["outcome"] == "new"
        assert {i["event_key"] for i in copied.values()} == {e.split("#")[1] for e in ids}
        history = object_history(
            dynamodb_client, audit_table=fresh_tables.audit, bucket="b", key="k"
        )
        assert [e["event_id"] for e in history.events] == ids
    finally:
        dynamodb_client.delete_table(TableName=old)

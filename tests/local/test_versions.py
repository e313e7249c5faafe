"""Versioned buckets through ``inbox`` and ``inbox-batch``: the ledger ends at what a GET returns.

Each scenario makes real requests on a versioned bucket of the workbench's S3 (moto), then
delivers their notification records in order, each twice, in reverse, and shuffled with
duplicates. Whatever the delivery, the ledger must end at the bucket's own state (HeadObject),
each event must have exactly one audit item, and ``check`` must find nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from s3ledger.core import ledger
from s3ledger.core.config import Mode
from s3ledger.core.consistency import check_consistency
from s3ledger.core.events import parse_s3_record
from s3ledger.core.ledger import ObjectState
from tests.support.rig import VersionedRig
from tests.support.tables import stream_records
from tests.support.versioned import VersionedKey

KEY = "reports/q3 summary+final é.csv"


def noncurrent_version_removed(k: VersionedKey) -> None:
    first = k.put(b"one")
    k.put(b"two")
    k.delete_version(first)


def current_version_removed(k: VersionedKey) -> None:
    k.put(b"one")
    second = k.put(b"two!")
    k.delete_version(second)


def delete_marker(k: VersionedKey) -> None:
    k.put(b"one")
    k.delete()


def delete_marker_removed(k: VersionedKey) -> None:
    k.put(b"one")
    marker = k.delete()
    k.delete_version(marker)


def every_version_removed(k: VersionedKey) -> None:
    first = k.put(b"one")
    second = k.put(b"two")
    k.delete_version(second)
    k.delete_version(first)


def lifecycle_then_a_new_upload(k: VersionedKey) -> None:
    first = k.put(b"one")
    k.put(b"two")
    k.expire_version(first)
    k.expire_current()
    k.put(b"three")


def lifecycle_last(k: VersionedKey) -> None:
    k.put(b"one")
    k.put(b"two")
    k.expire_current()


SCENARIOS: dict[str, Callable[[VersionedKey], None]] = {
    f.__name__: f
    for f in (
        noncurrent_version_removed,
        current_version_removed,
        delete_marker,
        delete_marker_removed,
        every_version_removed,
        lifecycle_then_a_new_upload,
        lifecycle_last,
    )
}


def _in_order(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [[r] for r in records]


def _twice(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [[r] for r in records for _ in range(2)]


def _reversed(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [[r] for r in reversed(records)]


def _one_batch_shuffled_with_duplicates(
    records: list[dict[str, Any]],
) -> list[list[dict[str, Any]]]:
    copies = records + records[::2]
    random.Random(len(records)).shuffle(copies)
    return [copies]


def _shuffled_with_duplicates(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    copies = records + records[1::2]
    random.Random(7).shuffle(copies)
    return [copies[i : i + 2] for i in range(0, len(copies), 2)]


DELIVERIES = {
    "in_order": _in_order,
    "twice": _twice,
    "reversed": _reversed,
    "one_batch_shuffled": _one_batch_shuffled_with_duplicates,
    "shuffled_in_pairs": _shuffled_with_duplicates,
}


@pytest.mark.parametrize("delivery", list(DELIVERIES))
@pytest.mark.parametrize("scenario", list(SCENARIOS))
# inbox-batch under `make test`; the quick loop (`-m "not slow"`) runs each case for inbox.
@pytest.mark.parametrize("mode", ["inbox", pytest.param("inbox-batch", marks=pytest.mark.slow)])
def test_the_ledger_ends_at_what_a_get_returns(
    rig: VersionedRig,
    streams_client: Any,
    mode: Mode,
    scenario: str,
    delivery: str,
) -> None:
    """Any delivery of a versioned history leaves the bucket's state, each event audited once."""
    key = rig.key(KEY)
    SCENARIOS[scenario](key)
    harness = rig.harness(mode)
    for batch in DELIVERIES[delivery](key.records):
        rig.deliver(harness, *batch)

    ledger_items, audit_items = rig.ledger_items(), rig.audit_items()
    (item,) = ledger_items
    assert ObjectState.of_ledger(item) == key.state(), (item, key.state())
    expected_ids = set()
    for record in key.records:
        event = parse_s3_record(record)
        assert event is not None
        expected_ids.add(event.event_id)
    assert {a["event_id"] for a in audit_items} == expected_ids
    writes = [
        r["dynamodb"]["NewImage"]["event_id"]["S"]
        for r in stream_records(streams_client, rig.dynamodb, rig.tables.audit)
    ]
    assert sorted(writes) == sorted(expected_ids), "an audit item was written twice"
    assert check_consistency(audit_items, ledger_items).anomalies_total == 0


def test_removing_a_noncurrent_version_is_audited_unchanged(
    rig: VersionedRig,
) -> None:
    """In order: the ledger keeps v2; the removal of v1 is audited ``unchanged``, counted as
    ``EventsUnchanged``; the ledger's last event stays v2's PUT, and only its ``sequencer`` rises
    to the removal's (S3's read came after it: no event before it may apply later)."""
    key = rig.key(KEY)
    noncurrent_version_removed(key)
    harness = rig.harness()
    for record in key.records:
        rig.deliver(harness, record)
    audit = {a["event_name"]: a["outcome"] for a in rig.audit_items()}
    assert audit == {"ObjectCreated:Put": ledger.APPLIED, "ObjectRemoved:Delete": ledger.UNCHANGED}
    (item,) = rig.ledger_items()
    assert item["status"] == ledger.PROCESSED
    assert item["etag"] == key.state().etag
    assert item["event_name"] == "ObjectCreated:Put"
    removal = parse_s3_record(key.records[-1])
    assert removal is not None
    assert item["sequencer"] == removal.order.sequencer
    assert harness.metrics.snapshot() == {"EventsApplied": 2, "EventsUnchanged": 1}


def test_removing_the_current_version_shows_the_previous_one(
    rig: VersionedRig,
) -> None:
    """The event carries no state: the ledger takes v1's version id, size and eTag from S3."""
    key = rig.key(KEY)
    first = key.put(b"one")
    second = key.put(b"two!")
    key.delete_version(second)
    harness = rig.harness()
    for record in key.records:
        rig.deliver(harness, record)
    (item,) = rig.ledger_items()
    assert (item["status"], item["version_id"], item["size"]) == (ledger.PROCESSED, first, 3)


def test_a_lost_answer_to_a_removals_pinned_write_is_applied_once(
    rig: VersionedRig,
    streams_client: Any,
) -> None:
    """The pinned transaction commits and its answer is lost twice: the resend with the same
    token is answered success (the pin, now stale, is not checked again), the removal counts as
    applied, and its audit item and ledger move are written once."""
    key = rig.key(KEY)
    current_version_removed(key)
    harness = rig.harness()
    *puts, removal = key.records
    for record in puts:
        rig.deliver(harness, record)
    harness.faults.lose_response("TransactWriteItems", times=2)
    rig.deliver(harness, removal)  # the message succeeds
    assert harness.metrics.snapshot()["EventsApplied"] == 3
    assert harness.faults.injected == {"lost-response": 2}
    audit_writes = stream_records(streams_client, rig.dynamodb, rig.tables.audit)
    assert len(audit_writes) == 3
    (item,) = rig.ledger_items()
    assert ObjectState.of_ledger(item) == key.state()

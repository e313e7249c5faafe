"""The history checker catches each anomaly kind when it is planted by hand.

Its truth is S3's: the events S3 emitted (matched to audit items by S3's request id and event
name) and the state a GET returns at the end. Ledger and audit items are written here by hand,
in the shape the writers store them, so nothing of the writers' logic is used.
"""

from __future__ import annotations

from typing import Any

import pytest

from s3ledger.proof.checker import (
    HISTORY_ANOMALIES,
    BucketTruth,
    Notification,
    Truth,
    check_history,
)

BUCKET = "b"
V1 = BucketTruth(exists=True, etag="e1", size=1, version_id="v1")
V2 = BucketTruth(exists=True, etag="e2", size=2, version_id="v2")
GONE = BucketTruth(exists=False)


def event(index: int, name: str = "ObjectCreated:Put", key: str = "a") -> Notification:
    return Notification(index, key, f"REQ{index}", name, body="{}")


def audit(n: Notification, outcome: str = "applied") -> dict[str, Any]:
    return {
        "event_id": f"{BUCKET}/{n.key}#{n.index:02X}",
        "object_id": f"{BUCKET}/{n.key}",
        "event_name": n.event_name,
        "s3_request_id": n.request_id,
        "outcome": outcome,
    }


def ledger(n: Notification, state: BucketTruth) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"{BUCKET}/{n.key}",
        "last_event_id": audit(n)["event_id"],
        "status": "processed" if state.exists else "deleted",
    }
    if state.exists:
        item.update(etag=state.etag, size=state.size, version_id=state.version_id)
    return item


def write(image: dict[str, Any], name: str = "INSERT") -> dict[str, Any]:
    """A stream record in DynamoDB's shape (only what the checker reads)."""
    return {
        "eventName": name,
        "dynamodb": {"NewImage": {k: {"S": str(v)} for k, v in image.items()}},
    }


def delivered(*events: Notification) -> Truth:
    return Truth(BUCKET, list(events), {e.index for e in events})


def run(
    truth: Truth,
    ledger_items: list[dict[str, Any]],
    audit_items: list[dict[str, Any]],
    state: BucketTruth,
    *,
    audit_stream: list[dict[str, Any]] | None = None,
    ledger_stream: list[dict[str, Any]] | None = None,
    reconciled: bool = False,
) -> dict[str, int]:
    report = check_history(
        truth,
        ledger_items=ledger_items,
        audit_items=audit_items,
        ledger_stream=ledger_stream
        if ledger_stream is not None
        else [write(i) for i in ledger_items],
        audit_stream=audit_stream if audit_stream is not None else [write(a) for a in audit_items],
        bucket_state={"a": state},
        reconciled=reconciled,
    )
    return {kind: n for kind, n in report.anomalies.items() if n}


def test_a_faithful_history_has_no_anomaly() -> None:
    a1, a2 = event(0), event(1)
    assert run(delivered(a1, a2), [ledger(a2, V2)], [audit(a1), audit(a2)], V2) == {}


def test_a_ledger_showing_another_version_than_s3_is_a_wrong_state() -> None:
    """v2 was removed for good, so S3 shows v1 again; a ledger still on v2 is wrong."""
    a1, a2, removal = event(0), event(1), event(2, "ObjectRemoved:Delete")
    items = [audit(a1), audit(a2), audit(removal)]
    assert run(delivered(a1, a2, removal), [ledger(removal, V2)], items, V1) == {"wrong_state": 1}
    assert run(delivered(a1, a2, removal), [ledger(removal, V1)], items, V1) == {}


def test_a_ledger_saying_deleted_while_an_object_is_there_is_a_wrong_state() -> None:
    a1, removal = event(0), event(1, "ObjectRemoved:Delete")
    found = run(delivered(a1, removal), [ledger(removal, GONE)], [audit(a1), audit(removal)], V1)
    assert found == {"wrong_state": 1}


def test_lost() -> None:
    """Delivered, not parked, never audited (so the ledger misses it too)."""
    a1 = event(0)
    assert run(delivered(a1), [], [], V1) == {"lost": 1, "wrong_state": 1}


def test_applied_twice_even_with_identical_data() -> None:
    """Two writes of one event's audit item count, whatever they wrote."""
    a1 = event(0)
    items = [audit(a1)]
    twice = [write(items[0]), write(items[0], "MODIFY")]
    found = run(delivered(a1), [ledger(a1, V1)], items, V1, audit_stream=twice)
    assert found == {"applied_twice": 1}


def test_ledger_moving_to_one_event_twice_is_applied_twice() -> None:
    a1, a2 = event(0), event(1)
    moves = [write(ledger(a1, V1)), write(ledger(a2, V2)), write(ledger(a1, V1))]
    found = run(
        delivered(a1, a2), [ledger(a1, V1)], [audit(a1), audit(a2)], V1, ledger_stream=moves
    )
    assert found == {"applied_twice": 1}


def test_ledger_without_audit() -> None:
    a1 = event(0)
    assert run(delivered(a1), [ledger(a1, V1)], [], V1) == {"ledger_without_audit": 1, "lost": 1}


def test_audit_without_ledger() -> None:
    a1 = event(0)
    found = run(delivered(a1), [], [audit(a1)], V1)
    assert found == {"audit_without_ledger": 1, "wrong_state": 1}


def test_a_superseded_event_needs_no_ledger_item() -> None:
    a1 = event(0)
    assert run(delivered(a1), [], [audit(a1, "superseded")], GONE) == {}


def test_parked_in_dlq_is_not_lost_and_leaves_the_state_to_reconcile() -> None:
    a1 = event(0)
    truth = delivered(a1)
    truth.parked.add(0)
    assert run(truth, [], [], V1) == {"parked_in_dlq": 1}
    assert run(truth, [], [], V1, reconciled=True) == {"parked_in_dlq": 1, "wrong_state": 1}


def test_dropped_until_the_ledger_shows_the_final_state() -> None:
    """Never delivered: dropped; once the ledger shows the bucket's state (reconcile), not."""
    a1 = event(0)
    truth = Truth(BUCKET, [a1])
    assert run(truth, [], [], V1) == {"dropped": 1}
    repair = {"id": f"{BUCKET}/a", "last_event_id": "b/a#~repair", "status": "processed"}
    repair.update(etag="e1", size=1, version_id="v1")
    repair_audit = {"event_id": "b/a#~repair", "object_id": "b/a", "outcome": "applied"}
    assert run(truth, [repair], [repair_audit], V1, reconciled=True) == {}


@pytest.mark.parametrize("fault", ["crash", "duplicate"])
def test_anomalies_are_attributed_to_the_faults_their_events_met(fault: str) -> None:
    a1 = event(0)
    a1.faults.add(fault)
    report = check_history(
        delivered(a1),
        ledger_items=[],
        audit_items=[],
        ledger_stream=[],
        audit_stream=[],
        bucket_state={"a": V1},
    )
    assert report.by_fault == {fault: {"lost": 1, "wrong_state": 1}}
    assert set(report.to_json()["anomalies"]) == set(HISTORY_ANOMALIES)


def test_a_recorded_event_later_than_the_ledgers_last_is_half_done() -> None:
    """``lean``: the audit log recorded the later upload, the ledger still shows the earlier one;
    judged by the workload's request order, not by the writers' order rule."""
    a1, a2 = event(0), event(1)
    items = [audit(a1, "recorded"), audit(a2, "recorded")]
    found = run(delivered(a1, a2), [ledger(a1, V1)], items, V2)
    assert found == {"half_done": 1, "wrong_state": 1}
    assert run(delivered(a1, a2), [ledger(a2, V2)], items, V2) == {}


def test_an_earlier_recorded_event_behind_a_repair_is_not_half_done() -> None:
    """A ledger moved by a repair (its last event is no request of the workload) shows S3's
    state read after the events it covers: a recorded event is not judged against it."""
    a1 = event(0)
    repaired = {
        **ledger(a1, V1),
        "last_event_id": f"{BUCKET}/a#~2026-11-28T00:00:00.000Z~reconcile",
    }
    repair_audit = {**audit(a1), "event_id": repaired["last_event_id"], "s3_request_id": None}
    found = run(delivered(a1), [repaired], [audit(a1, "recorded"), repair_audit], V1)
    assert found == {}

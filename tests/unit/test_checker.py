"""The history checker catches each anomaly kind when it is planted by hand."""

from __future__ import annotations

from typing import Any

import pytest

from s3ledger.ledger import APPLIED, audit_item, ledger_item
from s3ledger.proof.checker import ANOMALIES, Truth, check_history
from s3ledger.proof.workload import TruthEvent


def put(index: int, key: str, sequencer: str) -> TruthEvent:
    return TruthEvent(
        index, "b", key, removal=False, sequencer=sequencer, body=f"{key}{index}".encode()
    )


def audit_of(event: TruthEvent) -> dict[str, Any]:
    return audit_item(event.object_event(), outcome=APPLIED, request_id="r", processed_at="t")


def write(image: dict[str, Any], name: str = "INSERT") -> dict[str, Any]:
    """A stream record in DynamoDB's shape (only what the checker reads)."""
    return {
        "eventName": name,
        "dynamodb": {"NewImage": {k: {"S": str(v)} for k, v in image.items()}},
    }


def run(
    truth: Truth,
    ledger: list[dict[str, Any]],
    audit: list[dict[str, Any]],
    *,
    audit_stream: list[dict[str, Any]] | None = None,
    ledger_stream: list[dict[str, Any]] | None = None,
) -> dict[str, int]:
    report = check_history(
        truth,
        ledger_items=ledger,
        audit_items=audit,
        ledger_stream=ledger_stream if ledger_stream is not None else [write(i) for i in ledger],
        audit_stream=audit_stream if audit_stream is not None else [write(a) for a in audit],
    )
    return {kind: n for kind, n in report.anomalies.items() if n}


def delivered(*events: TruthEvent) -> Truth:
    return Truth(events=list(events), delivered={e.index for e in events})


def test_a_faithful_history_has_no_anomaly() -> None:
    a1, a2 = put(0, "a", "FF"), put(1, "a", "100")
    truth = delivered(a1, a2)
    assert run(truth, [ledger_item(a2.object_event())], [audit_of(a1), audit_of(a2)]) == {}


def test_lost() -> None:
    """Delivered, not parked, never audited (so the ledger misses it too)."""
    a1 = put(0, "a", "01")
    assert run(delivered(a1), [], []) == {"lost": 1, "stale_ledger": 1}


def test_applied_twice_even_with_identical_data() -> None:
    """Two writes of one event's audit item count, whatever they wrote."""
    a1 = put(0, "a", "01")
    audit = [audit_of(a1)]
    twice = [write(audit[0]), write(audit[0], "MODIFY")]
    found = run(delivered(a1), [ledger_item(a1.object_event())], audit, audit_stream=twice)
    assert found == {"applied_twice": 1}


def test_ledger_moving_to_one_event_twice_is_applied_twice() -> None:
    a1, a2 = put(0, "a", "01"), put(1, "a", "02")
    ledger = [ledger_item(a1.object_event())]
    moves = [
        write(ledger_item(a1.object_event())),
        write(ledger_item(a2.object_event())),
        write(ledger[0]),
    ]
    found = run(delivered(a1, a2), ledger, [audit_of(a1), audit_of(a2)], ledger_stream=moves)
    assert found["applied_twice"] == 1


def test_ledger_without_audit() -> None:
    a1 = put(0, "a", "01")
    found = run(delivered(a1), [ledger_item(a1.object_event())], [])
    assert found == {"ledger_without_audit": 1, "lost": 1}


def test_audit_without_ledger() -> None:
    a1 = put(0, "a", "01")
    found = run(delivered(a1), [], [audit_of(a1)])
    assert found == {"audit_without_ledger": 1, "stale_ledger": 1}


def test_stale_ledger() -> None:
    """FF is older than 100: a ledger still on FF after 100 was delivered is stale."""
    a1, a2 = put(0, "a", "FF"), put(1, "a", "100")
    found = run(delivered(a1, a2), [ledger_item(a1.object_event())], [audit_of(a1), audit_of(a2)])
    assert found == {"stale_ledger": 1}


def test_parked_in_dlq_is_not_lost() -> None:
    a1 = put(0, "a", "01")
    truth = delivered(a1)
    truth.parked.add(0)
    assert run(truth, [], []) == {"parked_in_dlq": 1, "stale_ledger": 1}


def test_dropped_until_the_ledger_shows_the_final_state() -> None:
    """Never delivered: dropped; once the ledger reflects the bucket (reconcile), not any more."""
    a1 = put(0, "a", "01")
    truth = Truth(events=[a1])
    assert run(truth, [], []) == {"dropped": 1}
    repaired = ledger_item(a1.object_event())
    report = check_history(
        truth,
        ledger_items=[repaired],
        audit_items=[],
        ledger_stream=[],
        audit_stream=[],
        bucket_state={a1.object_event().object_id: a1.etag},
    )
    assert report.anomalies["dropped"] == 0


@pytest.mark.parametrize("fault", ["crash", "duplicate"])
def test_anomalies_are_attributed_to_the_faults_their_events_met(fault: str) -> None:
    a1 = put(0, "a", "01")
    a1.faults.add(fault)
    report = check_history(
        delivered(a1), ledger_items=[], audit_items=[], ledger_stream=[], audit_stream=[]
    )
    assert report.by_fault == {fault: {"lost": 1, "stale_ledger": 1}}
    assert set(report.to_json()["anomalies"]) == set(ANOMALIES)

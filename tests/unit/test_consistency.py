"""The table invariants of ``s3ledger check``: each anomaly is caught when planted."""

from __future__ import annotations

from typing import Any

from s3ledger.core.consistency import TABLE_ANOMALIES, check_consistency
from s3ledger.core.events import ObjectEvent
from s3ledger.core.ledger import APPLIED, SUPERSEDED, audit_item, ledger_item


def event(key: str, sequencer: str) -> ObjectEvent:
    return ObjectEvent("b", key, "ObjectCreated:Put", "2026-11-26T10:00:00.000Z", sequencer)


def audit(e: ObjectEvent, outcome: str = APPLIED) -> dict[str, Any]:
    return audit_item(e, outcome=outcome, request_id="r", processed_at="t")


def test_consistent_tables_have_no_anomaly() -> None:
    """Two objects, one re-uploaded, one stale event superseded: nothing to report."""
    a1, a2, b1, old = event("a", "01"), event("a", "02"), event("b", "01"), event("a", "00")
    report = check_consistency(
        [audit(a1), audit(a2), audit(b1), audit(old, SUPERSEDED)],
        [ledger_item(a2), ledger_item(b1)],
    )
    assert report.anomalies_total == 0
    assert (report.ledger_items, report.audit_items) == (2, 4)
    assert set(report.anomalies) == set(TABLE_ANOMALIES)


def test_ledger_without_audit_is_caught() -> None:
    """The article's split: the ledger moved, the audit log never heard of it."""
    report = check_consistency([], [ledger_item(event("a", "01"))])
    assert report.anomalies["ledger_without_audit"] == 1
    assert report.examples["ledger_without_audit"] == ["b/a"]


def test_audit_without_ledger_is_caught() -> None:
    report = check_consistency([audit(event("a", "01"))], [])
    assert report.anomalies == {
        "ledger_without_audit": 0,
        "audit_without_ledger": 1,
        "stale_ledger": 0,
    }


def test_a_superseded_audit_item_needs_no_ledger_item() -> None:
    """Only applied events must be reflected in the ledger."""
    report = check_consistency([audit(event("a", "01"), SUPERSEDED)], [])
    assert report.anomalies_total == 0


def test_stale_ledger_is_caught() -> None:
    """A late retry wrote an older event over a newer one that had been applied."""
    older, newer = event("a", "0062E99A88DC407460"), event("a", "0062E99A88DC4075")
    report = check_consistency([audit(older), audit(newer)], [ledger_item(older)])
    assert report.anomalies["stale_ledger"] == 1
    assert report.to_json()["anomalies_total"] == 1

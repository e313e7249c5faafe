"""The history checker: ground truth against the tables and their write history.

Where ``s3ledger check`` sees only the tables, this checker also knows every event the workload
produced and which were delivered, and reads the tables' streams, so it can tell:

=====================  ==========================================================================
anomaly                meaning
=====================  ==========================================================================
lost                   delivered, not in the DLQ, and yet never recorded in the audit log
applied_twice          its effect was written more than once (a second audit write, or the
                       ledger moved to it twice), even with identical data
ledger_without_audit   the ledger's last event has no audit item (from the tables)
audit_without_ledger   an applied audit item whose object has no ledger item (from the tables)
stale_ledger           the ledger holds an older state than the newest delivered event of the
                       object (and, after reconcile, than the bucket)
parked_in_dlq          the event's message ended in the DLQ (poison messages are counted apart)
dropped                never delivered, and the ledger does not reflect the object's final state
=====================  ==========================================================================

Each anomaly is also attributed to the faults that touched its event (or its object's events),
which gives the matrix mode x fault kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from s3ledger.ledger import APPLIED
from s3ledger.proof.workload import TruthEvent

__all__ = ["ANOMALIES", "HistoryReport", "Truth", "check_history"]

ANOMALIES: Final = (
    "lost",
    "applied_twice",
    "ledger_without_audit",
    "audit_without_ledger",
    "stale_ledger",
    "parked_in_dlq",
    "dropped",
)


@dataclass
class Truth:
    """What the workload did: every event, which were delivered, which messages were parked."""

    events: list[TruthEvent] = field(default_factory=list)
    delivered: set[int] = field(default_factory=set)  # TruthEvent.index
    parked: set[int] = field(default_factory=set)
    poison_parked: int = 0


@dataclass
class HistoryReport:
    anomalies: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ANOMALIES, 0))
    by_fault: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.anomalies.values())

    def flag(self, kind: str, faults: Iterable[str]) -> None:
        self.anomalies[kind] += 1
        for fault in set(faults) or {"none"}:
            self.by_fault.setdefault(fault, Counter())[kind] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "anomalies": dict(self.anomalies),
            "anomalies_total": self.total,
            "by_fault": {f: dict(c) for f, c in sorted(self.by_fault.items())},
        }


def _stream_counts(records: Iterable[Mapping[str, Any]], attribute: str) -> Counter[str]:
    """How many times each value of ``attribute`` was written (INSERT or MODIFY)."""
    counts: Counter[str] = Counter()
    for record in records:
        if record.get("eventName") in ("INSERT", "MODIFY"):
            image = record["dynamodb"].get("NewImage", {})
            value = image.get(attribute, {}).get("S")
            if value is not None:
                counts[value] += 1
    return counts


def check_history(  # noqa: PLR0912 -- one pass per invariant reads best side by side
    truth: Truth,
    *,
    ledger_items: Sequence[Mapping[str, Any]],
    audit_items: Sequence[Mapping[str, Any]],
    ledger_stream: Iterable[Mapping[str, Any]],
    audit_stream: Iterable[Mapping[str, Any]],
    bucket_state: Mapping[str, str | None] | None = None,
) -> HistoryReport:
    """Count the anomalies of one mode's run.

    ``bucket_state`` (object id → etag, or None when deleted) is the bucket after the run; given
    after a reconcile, it makes ``dropped`` and ``stale_ledger`` compare with what is really there.
    """
    report = HistoryReport()
    audit = {item["event_id"]: item for item in audit_items}
    ledger = {item["id"]: item for item in ledger_items}
    audit_writes = _stream_counts(audit_stream, "event_id")
    ledger_moves = _stream_counts(ledger_stream, "last_event_id")

    by_object: dict[str, list[TruthEvent]] = {}
    ids: dict[int, str] = {}
    for event in truth.events:
        object_event = event.object_event()
        ids[event.index] = object_event.event_id
        by_object.setdefault(object_event.object_id, []).append(event)

    for event in truth.events:
        event_id = ids[event.index]
        recorded = event_id in audit
        if event.index in truth.parked:
            report.flag("parked_in_dlq", event.faults)
        elif event.index in truth.delivered and not recorded:
            report.flag("lost", event.faults)
        if audit_writes[event_id] > 1 or ledger_moves[event_id] > 1:
            report.flag("applied_twice", event.faults)

    for kind in ("ledger_without_audit", "audit_without_ledger"):
        for object_id in _objects_flagged(kind, audit, ledger):
            faults = set().union(*(e.faults for e in by_object.get(object_id, [])))
            report.flag(kind, faults)

    for object_id, events in by_object.items():
        faults = set().union(*(e.faults for e in events))
        item = ledger.get(object_id)
        held = item.get("sequencer", "") if item else ""
        delivered = [e for e in events if e.index in truth.delivered]
        if delivered and bucket_state is not None:
            # After reconcile the bucket is the reference: the ledger must show what is there.
            if not _reflects(item, events, bucket_state, object_id):
                report.flag("stale_ledger", faults)
        elif delivered:
            newest = max(ids[e.index].rsplit("#", 1)[1] for e in delivered)
            if held < newest:
                report.flag("stale_ledger", faults)
        dropped = [e for e in events if e.index not in truth.delivered]
        if dropped and not _reflects(item, events, bucket_state, object_id):
            for event in dropped:
                if ids[event.index] not in audit:
                    report.flag("dropped", event.faults | {"drop"})
    return report


def _objects_flagged(
    kind: str, audit: Mapping[str, Mapping[str, Any]], ledger: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    if kind == "ledger_without_audit":
        return [oid for oid, item in ledger.items() if item.get("last_event_id") not in audit]
    applied = {a["object_id"] for a in audit.values() if a.get("outcome") == APPLIED}
    return sorted(applied - ledger.keys())


def _reflects(
    item: Mapping[str, Any] | None,
    events: Sequence[TruthEvent],
    bucket_state: Mapping[str, str | None] | None,
    object_id: str,
) -> bool:
    """Does the ledger show the object's final state (the bucket's, when known)?"""
    final = events[-1]
    if bucket_state is not None:
        etag = bucket_state.get(object_id)
        if item is None:
            return etag is None
        if etag is None:
            return item.get("status") == "deleted"
        return item.get("status") == "processed" and item.get("etag") == etag
    if item is None:
        return False
    if final.removal:
        return item.get("status") == "deleted"
    return item.get("etag") == final.etag

"""What the two tables alone reveal: the invariants ``s3ledger check`` verifies.

Pure: it reads plain item dicts and counts; scanning is the caller's business. Three invariants
hold in a consistent pair of tables, whatever the history was:

======================  ==========================================================================
anomaly                 meaning
======================  ==========================================================================
ledger_without_audit    the ledger's ``last_event_id`` has no audit item: a write reached the
                        ledger and not the audit log (the article's split)
audit_without_ledger    an ``applied`` (or ``unchanged``, or ``lean``'s ``recorded``) audit item
                        whose object has no ledger item: the reverse
stale_ledger            an ``applied`` (or ``recorded``) event of the object is newer, by the
                        order rule, than what the ledger holds: a late retry or a reordered event
                        overwrote a newer state, or (``lean``) an event's second write never
                        landed; while ``lean`` events are in flight this is their window
======================  ==========================================================================

Memory is proportional to the number of objects and events (sets of ids), not to item sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from s3ledger.core.ledger import MOVES_THE_LEDGER, NEEDS_A_LEDGER_ITEM
from s3ledger.core.order import EventOrder, LedgerMarks, is_newer

__all__ = ["TABLE_ANOMALIES", "ConsistencyReport", "audit_order", "check_consistency"]

# What `s3ledger check` finds between the two tables alone (the proof's checker has its own set,
# `proof.checker.HISTORY_ANOMALIES`, against the workload; reconcile compares with the bucket).
TABLE_ANOMALIES: Final = ("ledger_without_audit", "audit_without_ledger", "stale_ledger")
_EXAMPLES: Final = 5


@dataclass
class ConsistencyReport:
    ledger_items: int = 0
    audit_items: int = 0
    anomalies: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_ANOMALIES, 0))
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def anomalies_total(self) -> int:
        return sum(self.anomalies.values())

    def flag(self, kind: str, object_id: str) -> None:
        self.anomalies[kind] += 1
        listed = self.examples.setdefault(kind, [])
        if len(listed) < _EXAMPLES:
            listed.append(object_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "ledger_items": self.ledger_items,
            "audit_items": self.audit_items,
            "anomalies": dict(self.anomalies),
            "anomalies_total": self.anomalies_total,
            "examples": {kind: list(ids) for kind, ids in self.examples.items()},
        }


def audit_order(item: Mapping[str, Any]) -> EventOrder:
    """Where an audit item's event stands in its key's order (see :mod:`s3ledger.core.order`).

    A sequenced event's item has its padded ``sequencer``; an unsequenced one's time key is the
    part of its ``event_id`` after ``#~``.
    """
    sequencer = item.get("sequencer")
    event_time = str(item.get("event_time", ""))
    if sequencer is not None and not str(sequencer).startswith("~"):
        return EventOrder(str(sequencer), event_time, event_time)
    token = str(item["event_id"]).rsplit("#", 1)[-1]
    return EventOrder(None, event_time, token.removeprefix("~"))


def check_consistency(
    audit_items: Iterable[Mapping[str, Any]], ledger_items: Iterable[Mapping[str, Any]]
) -> ConsistencyReport:
    """Count the anomalies of a ledger and its audit log (audit is read first, once).

    ``stale_ledger`` asks the order rule itself: an applied event that the ledger would still
    take as clearly newer is one it does not reflect (an event the clocks cannot place against
    the ledger is not counted: only S3 can tell, and reconcile asks it). Per object, the newest
    sequenced and the newest unsequenced applied events are kept (memory: two per object).
    """
    report = ConsistencyReport()
    audit_ids: set[str] = set()
    needs_item: set[str] = set()
    newest: dict[str, dict[bool, EventOrder]] = {}
    for item in audit_items:
        report.audit_items += 1
        audit_ids.add(item["event_id"])
        if item.get("outcome") in NEEDS_A_LEDGER_ITEM:
            needs_item.add(item["object_id"])
        if item.get("outcome") in MOVES_THE_LEDGER:
            order = audit_order(item)
            sequenced = order.sequencer is not None
            kept = newest.setdefault(item["object_id"], {})
            known = kept.get(sequenced)
            if known is None or _sort_key(order) > _sort_key(known):
                kept[sequenced] = order
    in_ledger: set[str] = set()
    for item in ledger_items:
        report.ledger_items += 1
        object_id = item["id"]
        in_ledger.add(object_id)
        if item.get("last_event_id") not in audit_ids:
            report.flag("ledger_without_audit", object_id)
        marks = LedgerMarks.of(item)
        if any(is_newer(order, marks) for order in newest.get(object_id, {}).values()):
            report.flag("stale_ledger", object_id)
    for object_id in needs_item - in_ledger:
        report.flag("audit_without_ledger", object_id)
    return report


def _sort_key(order: EventOrder) -> str:
    return order.sequencer if order.sequencer is not None else order.time_key

"""What the two tables alone reveal: the invariants ``s3ledger check`` verifies.

Pure: it reads plain item dicts and counts; scanning is the caller's business. Three invariants
hold in a consistent pair of tables, whatever the history was:

======================  ==========================================================================
anomaly                 meaning
======================  ==========================================================================
ledger_without_audit    the ledger's ``last_event_id`` has no audit item: a write reached the
                        ledger and not the audit log (the article's split)
audit_without_ledger    an ``applied`` audit item whose object has no ledger item: the reverse
stale_ledger            the ledger holds an older event than the newest ``applied`` one of its
                        object: a late retry or a reordered event overwrote a newer state
======================  ==========================================================================

Memory is proportional to the number of objects and events (sets of ids), not to item sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from s3ledger.ledger import APPLIED

__all__ = ["ANOMALY_KINDS", "ConsistencyReport", "check_consistency"]

ANOMALY_KINDS: Final = ("ledger_without_audit", "audit_without_ledger", "stale_ledger")
_EXAMPLES: Final = 5


@dataclass
class ConsistencyReport:
    ledger_items: int = 0
    audit_items: int = 0
    anomalies: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ANOMALY_KINDS, 0))
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


def check_consistency(
    audit_items: Iterable[Mapping[str, Any]], ledger_items: Iterable[Mapping[str, Any]]
) -> ConsistencyReport:
    """Count the anomalies of a ledger and its audit log (audit is read first, once)."""
    report = ConsistencyReport()
    audit_ids: set[str] = set()
    newest_applied: dict[str, str] = {}
    for item in audit_items:
        report.audit_items += 1
        audit_ids.add(item["event_id"])
        if item.get("outcome") == APPLIED:
            object_id, order_key = item["object_id"], item["sequencer"]
            if order_key > newest_applied.get(object_id, ""):
                newest_applied[object_id] = order_key
    in_ledger: set[str] = set()
    for item in ledger_items:
        report.ledger_items += 1
        object_id = item["id"]
        in_ledger.add(object_id)
        if item.get("last_event_id") not in audit_ids:
            report.flag("ledger_without_audit", object_id)
        newest = newest_applied.get(object_id)
        if newest is not None and item.get("sequencer", "") < newest:
            report.flag("stale_ledger", object_id)
    for object_id in newest_applied.keys() - in_ledger:
        report.flag("audit_without_ledger", object_id)
    return report

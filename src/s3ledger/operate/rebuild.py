"""``s3ledger rebuild-ledger``: the ledger from the audit log alone, exactly once.

The audit log is the source of truth (``lean`` writes it first, every mode writes it): each audit
item that moved, or asked to move, the ledger (outcome ``applied`` or ``lean``'s
``recorded``) says what the ledger became (:func:`s3ledger.core.lean.target_state`) and where the
event stands in its object's order. Rebuilding is replaying those items with the ledger update the
writer itself sends (:func:`s3ledger.core.lean.replay_update`), guarded by the order rule, so:

* it never moves an item backwards: a replayed event older than what the ledger holds fails its
  condition and changes nothing; that is what makes it **safe while events flow** (a live event
  that lands first wins; one that lands after overwrites the older replayed state, as it would
  have overwritten the original);
* it is **exactly once** and **safe to run twice**: an event the ledger already shows has equal
  marks, which are not "newer"; the second run writes nothing;
* it **heals** what the ledger lost: deleted items come back, and ``lean`` events whose second
  write never landed (a half-done event parked in the DLQ) are applied.

Per object only the newest sequenced and the newest unsequenced such events are kept while the
audit log is scanned (the order rule compares with the ledger's two marks; older events could only
be refused), so memory grows with the number of objects, not events, and at most two writes are
sent per object (1 write unit each, or a failed condition, billed the same).

An object whose newest event's audit item does not say the state (a removal of a version audited
by ``inbox``, which read that state from S3 and did not store it) is left alone and counted:
``reconcile`` repairs it from the bucket. So is an object whose newest events the clocks cannot
order against what the ledger holds (``objects_unordered``, docs/semantics.md#never-guess-an-order):
the audit log alone cannot tell, and reconcile asks S3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s3ledger.core.consistency import audit_order
from s3ledger.core.lean import replay_update
from s3ledger.core.ledger import MOVES_THE_LEDGER
from s3ledger.core.order import LedgerMarks, Place, place
from s3ledger.operate.scan import scan_items
from s3ledger.pipeline.dynamodb import ConditionFailed, update_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["RebuildReport", "newest_events", "rebuild_ledger"]


@dataclass
class RebuildReport:
    audit_items_read: int = 0
    objects: int = 0
    ledger_items_written: int = 0  # updates the ledger took
    already_current: int = 0  # updates the guard refused: the ledger had it, or newer
    objects_without_state: int = 0  # newest event's state unknown to the audit log: left alone
    # Objects whose newest events the clocks cannot order against the ledger: only S3 can, so
    # they are left as the guard found them, for reconcile.
    objects_unordered: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "audit_items_read": self.audit_items_read,
            "objects": self.objects,
            "ledger_items_written": self.ledger_items_written,
            "already_current": self.already_current,
            "objects_without_state": self.objects_without_state,
            "objects_unordered": self.objects_unordered,
        }


def _sort_key(item: Mapping[str, Any]) -> str:
    order = audit_order(item)
    return order.sequencer if order.sequencer is not None else order.time_key


def _by_time(item: Mapping[str, Any]) -> tuple[str, str]:
    return (str(item.get("event_time", "")), _sort_key(item))


def newest_events(
    audit_items: Iterable[Mapping[str, Any]], report: RebuildReport
) -> dict[str, list[Mapping[str, Any]]]:
    """Per object, its newest sequenced and newest unsequenced replayable audit items, oldest
    event time first (the order the writer most likely met them in)."""
    kept: dict[str, dict[bool, Mapping[str, Any]]] = {}
    for item in audit_items:
        report.audit_items_read += 1
        if item.get("outcome") not in MOVES_THE_LEDGER:
            continue
        sequenced = audit_order(item).sequencer is not None
        slots = kept.setdefault(str(item["object_id"]), {})
        known = slots.get(sequenced)
        if known is None or _sort_key(item) > _sort_key(known):
            slots[sequenced] = item
    return {object_id: sorted(slots.values(), key=_by_time) for object_id, slots in kept.items()}


def rebuild_ledger(
    client: DynamoDBClient, *, ledger_table: str, audit_table: str, segments: int = 4
) -> RebuildReport:
    """Replay the audit log onto the ledger (see the module's docstring)."""
    report = RebuildReport()
    per_object = newest_events(scan_items(client, audit_table, segments=segments), report)
    for items in per_object.values():
        report.objects += 1
        updates = [replay_update(item, ledger_table) for item in items]
        if any(update is None for update in updates):
            report.objects_without_state += 1
            continue
        unordered = False
        for item, update in zip(items, updates, strict=True):
            assert update is not None  # noqa: S101 -- checked just above
            result = update_item(client, update)
            if isinstance(result, ConditionFailed):
                report.already_current += 1
                marks = LedgerMarks.of(result.item)
                unordered |= place(audit_order(item), marks) is Place.UNORDERED
            else:
                report.ledger_items_written += 1
        report.objects_unordered += unordered
    return report

"""What an event does once S3 has said what a GET returns: the writers' rule where the event
carries no state (a removal of a version) or where the clocks cannot place it (``UNORDERED``).

Pure: the writer reads the object's current state from S3 (ListObjectVersions) and the ledger
item, and this decides. The argument (docs/semantics.md#identity-and-order):

* an event that carries its state (a new version, a delete marker) moves the ledger only if S3
  shows that state now. If S3 shows another, either the event is older than the ledger's state
  or a later request replaced its state, and that request has an event of its own, with a
  greater sequencer, which is ordered after this one when it lands;
* a removal of a version carries no state: S3's current state is its state. The read is at least
  as new as the event (listing is strongly consistent), and every later request has its own
  event, so the last one to land (or its read) leaves the bucket's final state;
* a read that finds the state the ledger already has is ``unchanged``: the ledger's state and
  last event stay, and only the event's own order mark moves (``sequencer`` or ``time_mark``).
  It must: S3's read came after the event, so every event before it is in that read and must
  not apply after it. Without the mark, a removal of the current version followed by that
  version's PUT delivered late, or a lifecycle delete marker followed by a PUT of its second
  delivered late, brings back a state no GET returns, and no later event corrects it. The mark
  costs no wrong refusal: an event the clocks cannot place against it is settled here again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from s3ledger.core.ledger import AuditOutcome, ObjectState
from s3ledger.core.order import EventOrder, LedgerMarks

__all__ = ["Settlement", "settle"]


@dataclass(frozen=True, slots=True)
class Settlement:
    """The audit outcome; for ``applied``, the state the ledger takes; for ``unchanged``, the
    ledger's order marks once the event's own has moved (``None``: it has already)."""

    outcome: AuditOutcome
    state: ObjectState | None = None
    marks: LedgerMarks | None = None


def settle(
    own: ObjectState | None,
    current: ObjectState,
    item: Mapping[str, Any] | None,
    *,
    order: EventOrder,
) -> Settlement:
    """Decide for an event at ``order`` whose own state is ``own`` (``None`` for a removal of a
    version), S3's ``current`` state, and the ledger ``item`` (plain form)."""
    if own is not None and not current.matches(own):
        return Settlement(AuditOutcome.SUPERSEDED)
    target = current if own is None else own
    marks = LedgerMarks.of(item)
    if marks is not None and ObjectState.of_ledger(item) == target:
        after = marks.after(order)
        moved = (after.sequencer, after.time_mark) != (marks.sequencer, marks.time_mark)
        return Settlement(AuditOutcome.UNCHANGED, marks=after if moved else None)
    return Settlement(AuditOutcome.APPLIED, target)

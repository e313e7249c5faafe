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
* a read that finds the state the ledger already has is ``unchanged``: the ledger's state, its
  last event and its ``time_mark`` stay as they are (a mark moved by an event that changed
  nothing could only make later events of its second unordered). One mark must still move: a
  sequenced event raises ``sequencer`` to its own, because S3's read came after it, so every
  event with a smaller sequencer is in that read and must not apply after it (without this, the
  removal of a current version, then that version's PUT delivered late, brings the removed
  version back, and no later event corrects it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from s3ledger.core.ledger import APPLIED, SUPERSEDED, UNCHANGED, ObjectState
from s3ledger.core.order import LedgerMarks

__all__ = ["Settlement", "settle"]


@dataclass(frozen=True, slots=True)
class Settlement:
    """The audit outcome; for ``applied``, the state the ledger takes; for ``unchanged``,
    whether the ledger's ``sequencer`` must be raised to the event's."""

    outcome: str
    state: ObjectState | None = None
    raise_sequencer: bool = False


def settle(
    own: ObjectState | None,
    current: ObjectState,
    item: Mapping[str, Any] | None,
    *,
    sequencer: str | None,
) -> Settlement:
    """Decide for an event whose own state is ``own`` (``None`` for a removal of a version) and
    padded ``sequencer``, S3's ``current`` state, and the ledger ``item`` (plain form)."""
    if own is not None and not current.matches(own):
        return Settlement(SUPERSEDED)
    target = current if own is None else own
    if item is not None and ObjectState.of_ledger(item) == target:
        marks = LedgerMarks.of(item)
        below = marks is not None and (marks.sequencer or "") < (sequencer or "")
        return Settlement(UNCHANGED, raise_sequencer=below)
    return Settlement(APPLIED, target)

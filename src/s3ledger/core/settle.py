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
* a read that finds the state the ledger already has is ``unchanged``. It still raises the
  ledger's ``sequencer`` to a sequenced event's own: S3's read came after that event, so every
  event with a smaller sequencer is in it and must not apply after it (a removal of the current
  version, then its PUT delivered late, would bring the removed version back). It leaves the
  ``time_mark`` alone: a mark moved by an unsequenced event that changed nothing could only make
  later events of its second unordered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from s3ledger.core.ledger import APPLIED, SUPERSEDED, UNCHANGED, ObjectState

__all__ = ["Settlement", "settle"]


@dataclass(frozen=True, slots=True)
class Settlement:
    """The audit outcome, and the state the ledger is written with (``None``: the ledger is left
    alone; for ``unchanged``, the state it has, written to raise its ``sequencer``)."""

    outcome: str
    state: ObjectState | None = None


def settle(
    own: ObjectState | None,
    current: ObjectState,
    item: Mapping[str, Any] | None,
    *,
    sequenced: bool,
) -> Settlement:
    """Decide for an event whose own state is ``own`` (``None`` for a removal of a version), S3's
    ``current`` state, and the ledger ``item`` (plain form, ``None`` for none)."""
    if own is not None and not current.matches(own):
        return Settlement(SUPERSEDED)
    target = current if own is None else own
    if item is not None and ObjectState.of_ledger(item) == target:
        return Settlement(UNCHANGED, target if sequenced else None)
    return Settlement(APPLIED, target)

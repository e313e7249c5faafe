"""The event a reconcile repair writes: its identity and its place in the object's order.

Pure (no bucket, no table): moved from tests/e2e/test_reconcile.py, which needs neither for it.
"""

from __future__ import annotations

from s3ledger.core.ledger import ObjectState
from s3ledger.operate.reconcile import repair_event


def test_a_repair_is_identified_by_the_item_it_replaces_and_the_state_it_writes() -> None:
    """The same repair of the same ledger item is one event id (two runs write it once); another
    state or another item is another repair; its time is S3's at the read."""
    state = ObjectState(True, "v1", "abc", 3, as_of="2026-11-27T10:00:00.000Z")
    item = {"last_event_id": "b/k#0055AED6DCD90281E5" + "0" * 14}
    repair = repair_event("b", "k", item, state)
    assert repair.event_id == repair_event("b", "k", item, state).event_id
    assert (
        repair.event_id != repair_event("b", "k", item, ObjectState(True, "v1", "abd", 3)).event_id
    )
    assert repair.event_id != repair_event("b", "k", None, state).event_id
    assert repair.order.time_key.startswith("2026-11-27T10:00:00.000Z~reconcile~")
    assert repair.sequencer is None

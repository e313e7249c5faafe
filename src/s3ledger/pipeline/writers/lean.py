"""``lean``: exactly-once effects at two write units per fresh event, without a transaction.

Two single-item conditional writes, in this order: the **audit** ``PutItem`` if
``attribute_not_exists(event_id)``, holding the event's facts and what the ledger becomes
(:mod:`s3ledger.core.lean`, outcome ``recorded``); then the **ledger** ``UpdateItem`` derived
from that audit item alone (:func:`s3ledger.core.lean.replay_update`) under ``inbox``'s order
guard. A duplicate, whose Put fails, still sends the Update, built from the item the failed Put
returns: that is what heals an event whose invocation died between the two writes. What the user
trades is visibility: between the writes the audit log shows an event the ledger does not yet.

Why this is exactly once, what a duplicate costs and why ``lean`` writes before it reads:
docs/exactly-once.md#lean.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core import lean, ledger
from s3ledger.core.errors import RejectedWriteError, TransientWriteError
from s3ledger.core.events import Effect, ObjectEvent
from s3ledger.core.ledger import AuditOutcome, ObjectState
from s3ledger.core.order import LedgerMarks, Place, place, utc_now
from s3ledger.core.settle import settle
from s3ledger.pipeline.dynamodb import ConditionFailed
from s3ledger.pipeline.invocation import InvocationContext
from s3ledger.pipeline.writers.base import Outcome
from s3ledger.pipeline.writers.lookahead import AUDIT_FACTS_PROJECTION, LookAheadWriter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import KeysAndAttributesTypeDef, PutTypeDef, UpdateTypeDef

__all__ = ["LeanWriter"]

# A BatchGetItem takes 100 keys: 50 events' audit keys and at most 50 ledger keys.
_LOOK_AHEAD_EVENTS: Final = 50
# Reads of S3 and pinned updates of one event before giving up (the message then comes back).
_PIN_ATTEMPTS: Final = 5


class LedgerAnswer(Enum):
    """What write 2 (the ledger update) found."""

    TOOK = "took"  # this call moved the ledger to the event (or did, its answer lost)
    SHOWS = "shows"  # the ledger already shows this very event: another delivery's update
    REFUSED = "refused"  # the event is older than the ledger, or S3 shows a later state
    SAME = "same"  # S3 shows the event's state and the ledger already has it

    @property
    def first_outcome(self) -> Outcome:
        """The event's outcome when this was its first delivery's write 2."""
        return _FIRST_OUTCOME[self]


class LeanWriter(LookAheadWriter):
    """Audit ``PutItem`` then guarded ledger ``UpdateItem``; a duplicate re-sends the second."""

    mode = "lean"

    def _write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        if event.effect is Effect.RESOLVE:
            return self._write_resolved(event, context)
        return self._record_and_apply(event, ObjectState.of_event(event), context)

    def _look_ahead(self) -> None:
        """Find which of the next upcoming events are complete already, with one read.

        Duplicates come in runs (a redelivered batch, a redriven DLQ, a replay): after the first,
        one ``BatchGetItem`` (eventually consistent: 0.5 read unit per item) asks for the next
        events' audit items and their objects' ledger items. An event is complete, and skipped,
        if its audit item exists and the ledger is at or past it (not older by the order rule).
        A stale read cannot make that wrong: audit items are never deleted, and a stale ledger
        item is an *older* one, which only makes the event look incomplete (it is then written,
        as without the look-ahead).
        """
        events = [e for e in list(self._upcoming.values()) if not self._done.knows(e)]
        events = events[:_LOOK_AHEAD_EVENTS]
        if not events:
            return
        ledger_table, audit_table = self._settings.ledger_table, self._settings.audit_table
        objects = list(dict.fromkeys(e.object_id for e in events))
        request: dict[str, KeysAndAttributesTypeDef] = {
            audit_table: {
                "Keys": [ledger.audit_key(e.event_id) for e in events],
                "ProjectionExpression": AUDIT_FACTS_PROJECTION,
            },
            ledger_table: {
                "Keys": [{"id": {"S": object_id}} for object_id in objects],
                "ProjectionExpression": "#id, #sequencer, #time_mark, #event_time",
                "ExpressionAttributeNames": {
                    f"#{name}": name for name in ("id", "sequencer", "time_mark", "event_time")
                },
            },
        }
        found = self._peek(request)
        if found is None:
            return
        marks = {str(item["id"]): LedgerMarks.of(item) for item in found[ledger_table]}
        complete = {
            str(item["event_id"]): item
            for item in found[audit_table]
            if (event := self._upcoming.get(str(item["event_id"]))) is not None
            and event.object_id in marks
            and place(event.order, marks[event.object_id]) is Place.OLDER
        }
        self._remember_found(complete)

    def _record_and_apply(
        self, event: ObjectEvent, state: ObjectState, context: InvocationContext
    ) -> Outcome:
        fresh = lean.lean_audit_put(
            event,
            self._settings.audit_table,
            state=state,
            request_id=context.aws_request_id,
            processed_at=utc_now(),
        )
        recorded = self._record(fresh, event, context)
        if recorded is not None:
            return self._heal(recorded, event, context)
        return self._apply(ledger.from_item(fresh["Item"]), event, context).first_outcome

    def _heal(
        self, recorded: Mapping[str, Any], event: ObjectEvent, context: InvocationContext
    ) -> Outcome:
        """The event was recorded before: complete it from its audit item, as recorded."""
        self._duplicate(event, recorded)  # another event with this id fails here
        if recorded.get("outcome") != AuditOutcome.RECORDED:
            # Written whole by a transactional mode, or audited as superseded: nothing is owed.
            return Outcome.DUPLICATE
        if self._apply(recorded, event, context) is LedgerAnswer.TOOK:
            self._metrics.count("HalfDoneHealed")
            return Outcome.APPLIED
        return Outcome.DUPLICATE

    def _record(
        self, put: PutTypeDef, event: ObjectEvent, context: InvocationContext
    ) -> dict[str, Any] | None:
        """Write 1. ``None`` if it created the audit item; else the item recorded before (plain).

        A failed condition on an item equal to ours (same request id and time) is our own write
        whose answer was lost (botocore's retry or ours resent it): it counts as created.
        """
        written = ledger.from_item(put["Item"])
        result = self._db.put(put, what=event.event_id, context=context)
        if not isinstance(result, ConditionFailed):
            return None
        # DynamoDB returns the item (ALL_OLD); were it ever missing, our own item stands in (the
        # role has no GetItem): the event's facts are the same.
        old = result.item or {**written, "request_id": ""}
        mine = (written["request_id"], written["processed_at"])
        own = (old.get("request_id"), old.get("processed_at")) == mine
        return None if own else old

    def _apply(
        self, recorded: Mapping[str, Any], event: ObjectEvent, context: InvocationContext
    ) -> LedgerAnswer:
        """Write 2, from the audit item: ``TOOK`` if this call moved the ledger to the event,
        ``SHOWS`` if the ledger already shows this very event (another delivery's update),
        ``REFUSED`` if the event is older than the ledger (or S3 shows a later state), ``SAME``
        if S3 shows the event's state and the ledger already has it.

        A guard that refuses an event the clocks cannot place hands it to S3
        (:meth:`_apply_settled`).
        """
        update = lean.replay_update(recorded, self._settings.ledger_table)
        if update is None:
            raise RejectedWriteError(f"{event.event_id}: its audit item does not say the state")
        verdict, found = self._send_update(update, event, context)
        if verdict is not LedgerAnswer.REFUSED:
            return verdict
        if place(event.order, LedgerMarks.of(found)) is Place.OLDER:
            return LedgerAnswer.REFUSED
        target = lean.target_state(recorded)
        assert target is not None  # noqa: S101 -- replay_update returned an update, so it says
        return self._apply_settled(event, target, found, context)

    def _apply_settled(
        self,
        event: ObjectEvent,
        target: ObjectState,
        item: Mapping[str, Any],
        context: InvocationContext,
    ) -> LedgerAnswer:
        """Write 2 for an event the clocks cannot place: S3 decides (:func:`settle`), and the
        update is pinned to the ledger ``item`` it decided against; if another event moved the
        ledger in between, place and decide again."""
        for _ in range(_PIN_ATTEMPTS):
            settlement, update = self._settle_by_s3(event, target, item)
            if update is None:
                unchanged = settlement.outcome is AuditOutcome.UNCHANGED
                return LedgerAnswer.SAME if unchanged else LedgerAnswer.REFUSED
            verdict, item = self._send_update(update, event, context)
            if verdict is not LedgerAnswer.REFUSED:
                return LedgerAnswer.TOOK if settlement.state is not None else LedgerAnswer.SAME
            if place(event.order, LedgerMarks.of(item)) is Place.OLDER:
                return LedgerAnswer.REFUSED
        raise TransientWriteError(
            f"{event.event_id}: the ledger item kept changing under {_PIN_ATTEMPTS} attempts"
        )

    def _send_update(
        self, update: UpdateTypeDef, event: ObjectEvent, context: InvocationContext
    ) -> tuple[LedgerAnswer, dict[str, Any]]:
        """Send a conditional ledger update: ``TOOK`` if it was applied (or was ours, answer
        lost), ``SHOWS`` if its condition failed on a ledger that shows this very event, else
        ``REFUSED`` with the ledger item the failed condition returned.

        A refusal after one of this call's attempts may have committed (``resent``: an ambiguous
        error, or botocore's own retry after a timeout) on a ledger that shows the event is our
        own update whose answer was lost: ``TOOK``.
        """
        result = self._db.update(update, what=event.event_id, context=context)
        if not isinstance(result, ConditionFailed):
            return LedgerAnswer.TOOK, {}
        item = result.item or {}
        if item.get("last_event_id") != event.event_id:
            return LedgerAnswer.REFUSED, item
        return (LedgerAnswer.TOOK if result.resent else LedgerAnswer.SHOWS), {}

    def _write_resolved(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        """A removal of a version: its state is read from S3 (docs/exactly-once.md#lean).

        A removal that leaves what a GET returns as the ledger has it is ``unchanged``: if the
        ledger's marks already cover it, audited so and nothing more (1 write unit); else it is
        recorded and replayed like any event, so that its mark moves
        (:mod:`s3ledger.core.settle`).
        """
        item, recorded = self._read_ledger_and_audit(event)
        if recorded is not None:
            return self._heal(recorded, event, context)
        if place(event.order, LedgerMarks.of(item)) is Place.OLDER:
            return self._audit_only(event, AuditOutcome.SUPERSEDED, context)
        state = self._state_reader.current(event.bucket, event.key)
        settlement = settle(None, state, item, order=event.order)
        unchanged = settlement.outcome is AuditOutcome.UNCHANGED
        if unchanged and settlement.marks is None:
            return self._audit_only(event, AuditOutcome.UNCHANGED, context)
        # Recorded with its state, so that a redelivery or a rebuild can finish it.
        outcome = self._record_and_apply(event, state, context)
        return Outcome.UNCHANGED if unchanged and outcome is Outcome.APPLIED else outcome

    def _audit_only(
        self, event: ObjectEvent, outcome: AuditOutcome, context: InvocationContext
    ) -> Outcome:
        """Audit an event that leaves the ledger alone (superseded, unchanged): 1 unit."""
        put = ledger.audit_put(
            event,
            self._settings.audit_table,
            outcome=outcome,
            request_id=context.aws_request_id,
            processed_at=utc_now(),
            only_if_new=True,
        )
        recorded = self._record(put, event, context)
        if recorded is None:
            return Outcome(outcome)
        return self._heal(recorded, event, context)


# What the first delivery's write 2 found, as that event's outcome.
_FIRST_OUTCOME: Final = {
    LedgerAnswer.TOOK: Outcome.APPLIED,
    LedgerAnswer.SHOWS: Outcome.DUPLICATE,  # a concurrent delivery completed it first
    LedgerAnswer.REFUSED: Outcome.SUPERSEDED,
    LedgerAnswer.SAME: Outcome.UNCHANGED,
}

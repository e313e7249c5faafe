"""``lean``: exactly-once effects at two write units per fresh event, without a transaction.

Two single-item conditional writes in one invocation, in this order:

1. **audit** ``PutItem`` if ``attribute_not_exists(event_id)``: the event's facts and what the
   ledger should become (:mod:`s3ledger.core.lean`; outcome ``recorded``). 1 write unit (≤ 1 KB).
2. **ledger** ``UpdateItem`` guarded by the order rule (``order.SEQUENCED_IS_NEWER`` /
   ``UNSEQUENCED_IS_NEWER``, the same condition as ``inbox``), derived from that audit item alone
   (:func:`s3ledger.core.lean.replay_update`): applied only if the event is newer than what the
   ledger holds. 1 write unit.

A transaction writing the same two items costs 2 units per item (4): ``lean`` pays the floor and
gives up only the *atomic visibility* of the two writes.

Why it is exactly once (effects):

* **audit first.** The audit log is the write-ahead log: nothing reaches the ledger that is not
  recorded, so the audit log alone rebuilds the ledger (``s3ledger rebuild-ledger``) and
  ``ledger_without_audit`` cannot happen. The reverse order would leave, after a crash, a ledger
  state no audit item explains, and for a removal of a version a state read from S3 recorded
  nowhere.
* **a duplicate still completes a half-done event.** When the audit Put fails its condition (a
  duplicate, a redelivery, or our own earlier attempt whose answer was lost), the writer still
  sends write 2, built from the audit item *as recorded*: the failed Put returns it
  (``ReturnValuesOnConditionCheckFailure=ALL_OLD``, no read units). A crash between the two
  writes is therefore healed by the message's redelivery (SQS brings it back after the
  visibility timeout), with the state recorded the first time.
* **the guard makes write 2 idempotent and ordered.** Equal marks are not "newer", so an update
  that already landed fails its condition (no second change, no second stream record); so does
  the update of an event older than the ledger's (a redelivery after a newer event landed, a
  reordered event): correct, the ledger keeps the newer state. The guard is the one ``inbox``
  carries, so the same versioned-bucket and order rules hold.
* **removals of a version** (``Effect.RESOLVE``) read the ledger item and the audit item first
  (one ``BatchGetItem``): recorded before → heal from the recorded item; not newer than the
  ledger → audit ``superseded`` (1 unit, no S3 read); else read S3's state, then the two writes.
  ``inbox`` pins its write to the ledger item it read; ``lean`` needs no pin, because the order
  guard already refuses the update if a newer event landed since the read, and an older one
  landing since cannot make the state read (which is at least as new as this event) wrong.
* **lost answers and errors.** Each write is retried on its own (bounded, jittered, as the other
  modes, :func:`~s3ledger.pipeline.writers.dynamo.with_retries`); a retry of an ambiguous Put
  fails its condition on our own item (same request id and time: botocore's own retry resends
  the same request) and goes on to write 2; a retry of an ambiguous Update fails its condition on
  a ledger that shows this very event (``last_event_id``), which is reported as applied.
  Throttling, 5xx and ambiguous errors are retryable, validation errors poison
  (``core.errors``).

What the user trades: **visibility**. Between write 1 and write 2 (milliseconds; or, after a crash
there, until the message comes back) the audit log has an event the ledger does not show yet. A
reader of both tables may see it; ``s3ledger check`` counts it as ``stale_ledger`` while it lasts.
Once the queue is drained (or its DLQ redriven, or ``rebuild-ledger`` run) the tables agree.

Hole found and closed: a half-done event whose message ends in the DLQ (write 2 failed
``maxReceiveCount`` times) leaves the tables disagreeing until the DLQ is redriven; reconcile alone
does not clear it. ``rebuild-ledger`` replays every ``recorded`` item under the guard and heals it.

The audit item is never updated (that would be a third write): its outcome ``recorded`` says
"recorded; applied if newer", and whether the event moved the ledger is read from the ledger.

Cost of a duplicate: 2 write units, 1 for the Put and 1 for the Update, the same as a fresh event:
a failed conditional write still consumes write units (*DynamoDB read and write operations*,
"Capacity unit consumption for write operations",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
Reading first (``GetItem`` of the audit item, 1 read unit strongly consistent, $0.125 per million
on demand against $0.625 per million write units,
https://aws.amazon.com/dynamodb/pricing/on-demand/) cannot skip write 2 (it must still heal a
half-done event) unless it also reads the ledger: 2 read units per event to save 2 write units per
duplicate, which pays only above 1 duplicate in 5 events (0.25 / 1.25). S3 duplicates are rarer, so
``lean`` writes first; a warm sandbox also remembers the ids it completed, so a duplicate landing
there costs nothing, and once a duplicate is found the rest of the batch is looked up with one
``BatchGetItem`` (see :meth:`LeanWriter._look_ahead`): a run of duplicates then costs 2 write units
for the first and about 1 read unit for each of the others.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from s3ledger.core import lean, ledger
from s3ledger.core.errors import AmbiguousWriteError, RejectedWriteError, TransientWriteError
from s3ledger.core.events import Effect, ObjectEvent
from s3ledger.core.ledger import ObjectState
from s3ledger.core.order import LedgerMarks, Place, place, utc_now
from s3ledger.core.settle import settle
from s3ledger.pipeline.aws import CONDITION_FAILED
from s3ledger.pipeline.writers.base import InvocationContext, Outcome
from s3ledger.pipeline.writers.dynamo import (
    AUDIT_FACTS_PROJECTION,
    LookAheadWriter,
    classify,
    error_code,
    returned_item,
    with_retries,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, UpdateTypeDef

__all__ = ["LeanWriter"]

# A BatchGetItem takes 100 keys: 50 events' audit keys and at most 50 ledger keys.
_LOOK_AHEAD_EVENTS: Final = 50
# What write 2 found (see LeanWriter._apply).
_TOOK: Final = "took"
_SHOWS: Final = "shows"
_REFUSED: Final = "refused"
_SAME: Final = "same"
# Reads of S3 and pinned updates of one event before giving up (the message then comes back).
_PIN_ATTEMPTS: Final = 5


_log = logging.getLogger(__name__)


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
        request: dict[str, Any] = {
            audit_table: {
                "Keys": [{"event_id": {"S": e.event_id}} for e in events],
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
        try:
            response = self._client.batch_get_item(RequestItems=request)
        except (ClientError, BotoCoreError) as exc:
            # Only a shortcut: every event still gets its conditional writes.
            self._upcoming.clear()
            code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
            _log.warning("duplicate look-ahead failed; writing each event", extra={"error": code})
            return
        found = response.get("Responses", {})
        marks = {
            item["id"]["S"]: LedgerMarks.of(ledger.from_item(item))
            for item in found.get(ledger_table, [])
        }
        complete = {
            str(item["event_id"]): item
            for item in map(ledger.from_item, found.get(audit_table, []))
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
        return _FIRST_APPLY[self._apply(ledger.from_item(fresh["Item"]), event, context)]

    def _heal(
        self, recorded: Mapping[str, Any], event: ObjectEvent, context: InvocationContext
    ) -> Outcome:
        """The event was recorded before: complete it from its audit item, as recorded."""
        self._duplicate(event, recorded)  # another event with this id fails here
        if recorded.get("outcome") != lean.RECORDED:
            # Written whole by a transactional mode, or audited as superseded: nothing is owed.
            return Outcome.DUPLICATE
        if self._apply(recorded, event, context) == _TOOK:
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
        mine = (written["request_id"], written["processed_at"])

        def attempt() -> dict[str, Any] | None:
            try:
                self._client.put_item(**put)
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise classify(exc, event.event_id) from exc
                # DynamoDB returns the item (ALL_OLD); were it ever missing, our own item
                # stands in (the role has no GetItem): the event's facts are the same.
                old = returned_item(exc) or {**written, "request_id": ""}
                own = (old.get("request_id"), old.get("processed_at")) == mine
                return None if own else old
            except BotoCoreError as exc:
                raise classify(exc, event.event_id) from exc
            return None

        return with_retries(
            attempt,
            policy=self._settings.retry,
            context=context,
            metrics=self._metrics,
            what=event.event_id,
        )

    def _apply(
        self, recorded: Mapping[str, Any], event: ObjectEvent, context: InvocationContext
    ) -> str:
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
        if verdict != _REFUSED:
            return verdict
        if place(event.order, LedgerMarks.of(found)) is Place.OLDER:
            return _REFUSED
        target = lean.target_state(recorded)
        assert target is not None  # noqa: S101 -- replay_update returned an update, so it says
        return self._apply_settled(event, target, found, context)

    def _apply_settled(
        self,
        event: ObjectEvent,
        target: ObjectState,
        item: Mapping[str, Any],
        context: InvocationContext,
    ) -> str:
        """Write 2 for an event the clocks cannot place: S3 decides (:func:`settle`), and the
        update is pinned to the ledger ``item`` it decided against; if another event moved the
        ledger in between, place and decide again."""
        for _ in range(_PIN_ATTEMPTS):
            current = self._state_reader.current(event.bucket, event.key)
            settlement = settle(target, current, item, sequencer=event.order.sequencer)
            pinned = None if item is None else str(item.get("last_event_id", ""))
            if settlement.state is not None:
                update = ledger.pinned_update(
                    event,
                    self._settings.ledger_table,
                    state=settlement.state,
                    marks=(LedgerMarks.of(item) or _NO_MARKS).after(event.order),
                    pinned=pinned,
                )
            elif settlement.raise_sequencer and pinned is not None:
                table = self._settings.ledger_table
                update = ledger.sequencer_update(event, table, pinned=pinned)
            else:
                return _SAME if settlement.outcome == ledger.UNCHANGED else _REFUSED
            verdict, item = self._send_update(update, event, context)
            if verdict != _REFUSED:
                return _TOOK if settlement.state is not None else _SAME
            if place(event.order, LedgerMarks.of(item)) is Place.OLDER:
                return _REFUSED
        raise TransientWriteError(
            f"{event.event_id}: the ledger item kept changing under {_PIN_ATTEMPTS} attempts"
        )

    def _send_update(
        self, update: UpdateTypeDef, event: ObjectEvent, context: InvocationContext
    ) -> tuple[str, dict[str, Any]]:
        """Send a conditional ledger update: ``TOOK`` if it was applied (or was ours, answer
        lost), ``SHOWS`` if its condition failed on a ledger that shows this very event, else
        ``REFUSED`` with the ledger item the failed condition returned.

        A refusal after one of this call's attempts may have committed (an ambiguous error, or
        botocore's own retry after a timeout: ``RetryAttempts``) on a ledger that shows the
        event is our own update whose answer was lost: ``TOOK``.
        """
        ambiguous = False

        def attempt() -> tuple[str, dict[str, Any]]:
            nonlocal ambiguous
            try:
                self._client.update_item(**update)
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise classify(exc, event.event_id) from exc
                item = returned_item(exc) or {}
                if item.get("last_event_id") != event.event_id:
                    return _REFUSED, item
                retried = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
                return (_TOOK if ambiguous or retried else _SHOWS), {}
            except BotoCoreError as exc:
                error = classify(exc, event.event_id)
                ambiguous = ambiguous or isinstance(error, AmbiguousWriteError)
                raise error from exc
            return _TOOK, {}

        return with_retries(
            attempt,
            policy=self._settings.retry,
            context=context,
            metrics=self._metrics,
            what=event.event_id,
        )

    def _write_resolved(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        """A removal of a version: its state is read from S3 (see the module's docstring).

        A removal that leaves what a GET returns as the ledger has it is ``unchanged``: audited so,
        it moves nothing (1 write unit), unless its sequencer must still be raised on the ledger
        (:mod:`s3ledger.core.settle`): then it is recorded and replayed like any event.
        """
        item, recorded = self._read_ledger_and_audit(event)
        if recorded is not None:
            return self._heal(recorded, event, context)
        if place(event.order, LedgerMarks.of(item)) is Place.OLDER:
            return self._audit_only(event, ledger.SUPERSEDED, context)
        state = self._state_reader.current(event.bucket, event.key)
        settlement = settle(None, state, item, sequencer=event.order.sequencer)
        unchanged = settlement.outcome == ledger.UNCHANGED
        if unchanged and not settlement.raise_sequencer:
            return self._audit_only(event, ledger.UNCHANGED, context)
        # Recorded with its state, so that a redelivery or a rebuild can finish it.
        outcome = self._record_and_apply(event, state, context)
        return Outcome.UNCHANGED if unchanged and outcome is Outcome.APPLIED else outcome

    def _audit_only(self, event: ObjectEvent, outcome: str, context: InvocationContext) -> Outcome:
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
_FIRST_APPLY: Final = {
    _TOOK: Outcome.APPLIED,
    _SHOWS: Outcome.DUPLICATE,  # a concurrent delivery completed it first
    _REFUSED: Outcome.SUPERSEDED,
    _SAME: Outcome.UNCHANGED,
}
_NO_MARKS: Final = LedgerMarks(None, None, "")

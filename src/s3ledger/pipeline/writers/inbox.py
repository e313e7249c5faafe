"""``inbox`` (the default): one transaction per event, no separate idempotency store.

The audit log is the inbox: its conditional Put both records the event and detects a duplicate,
and the ledger's ordering guard keeps the newest state. One request per fresh event, one per
duplicate, and exactly once across both tables. Where the guard cannot place an event (the clocks
at hand cannot order it against a repair or a lifecycle event: ``Place.UNORDERED``), the writer
asks S3 and writes pinned to the ledger item it saw (:mod:`s3ledger.core.settle`). Why this is
exactly once: docs/exactly-once.md#inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core import ledger
from s3ledger.core.errors import RejectedWriteError, TransientWriteError
from s3ledger.core.events import Effect, ObjectEvent
from s3ledger.core.ledger import AuditOutcome, ObjectState
from s3ledger.core.order import LedgerMarks, Place, place, utc_now
from s3ledger.pipeline.dynamodb import Cancellation, CancellationReason, ConditionFailed
from s3ledger.pipeline.invocation import InvocationContext
from s3ledger.pipeline.writers.base import Outcome
from s3ledger.pipeline.writers.lookahead import AUDIT_FACTS_PROJECTION, LookAheadWriter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef

__all__ = ["LOOK_AHEAD_KEYS", "InboxWriter"]

# BatchGetItem takes at most 100 keys.
LOOK_AHEAD_KEYS: Final = 100
# Reads and pinned writes of one event before giving up (the message then comes back).
_PIN_ATTEMPTS: Final = 5

# What a refused ledger update does next, given the ledger item DynamoDB returned.
LedgerRefused = Callable[[dict[str, Any] | None], Outcome]


class InboxWriter(LookAheadWriter):
    """One transaction per event; a duplicate costs a cancelled transaction, or nothing.

    Duplicates come in runs (S3 redelivering, a queue redriven from its DLQ, a replay), and a
    cancelled transaction is the dearest way to find one. So when DynamoDB reports a duplicate,
    the writer looks the rest of the invocation's events (given by :meth:`expect`) up in the audit
    log with one ``BatchGetItem`` and skips those it finds. A fresh batch never pays for this,
    since the look-ahead starts only at a duplicate, and it cannot weaken exactly-once: an audit
    item exists only once its transaction committed, and an event not found still goes through
    its conditional transaction.
    """

    mode = "inbox"

    def _look_ahead(self) -> None:
        """Remember which of the next upcoming events the audit log already records."""
        table = self._settings.audit_table
        # list() copies the ids in one step, so a write on another thread cannot change the
        # dict while it is read.
        upcoming = list(self._upcoming.values())[:LOOK_AHEAD_KEYS]
        ids = [event.event_id for event in upcoming if not self._done.knows(event)]
        if not ids:
            return
        keys = [ledger.audit_key(event_id) for event_id in dict.fromkeys(ids)]
        found = self._peek({table: {"Keys": keys, "ProjectionExpression": AUDIT_FACTS_PROJECTION}})
        if found is not None:  # keys left unprocessed (throttling) are simply not skipped
            self._remember_found({str(item["event_id"]): item for item in found[table]})

    def _write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        if event.effect is Effect.RESOLVE:
            return self._write_resolved(event, context)
        actions = ledger.inbox_actions(
            event,
            ledger_table=self._settings.ledger_table,
            audit_table=self._settings.audit_table,
            request_id=context.aws_request_id,
            processed_at=utc_now(),
        )

        def ledger_refused(item: dict[str, Any] | None) -> Outcome:
            return self.after_refusal(event, item, context)

        return self._transact(actions, event, context, Outcome.APPLIED, ledger_refused)

    def after_refusal(
        self, event: ObjectEvent, item: Mapping[str, Any] | None, context: InvocationContext
    ) -> Outcome:
        """The ledger's guard refused ``event`` with the ledger at ``item``: older → audited
        superseded; unordered by the clocks → S3 decides."""
        if place(event.order, LedgerMarks.of(item)) is Place.OLDER:
            return self._audit_only(event, AuditOutcome.SUPERSEDED, context)
        return self._settle_with_s3(event, item, context)

    def _transact(
        self,
        actions: list[TransactWriteItemTypeDef],
        event: ObjectEvent,
        context: InvocationContext,
        success: Outcome,
        ledger_refused: LedgerRefused,
    ) -> Outcome:
        """Send one event's transaction (retried; a retry after an ambiguous failure resends it
        with the same ClientRequestToken, so one that did commit answers success); read a
        cancellation by position."""

        def read(cancellation: Cancellation) -> Outcome:
            audit, ledger_action = self._reasons(cancellation, len(actions))
            if audit.condition_failed:
                # Recorded before: a duplicate, or our own attempt whose answer was lost.
                return self._duplicate(event, audit.item)
            if ledger_action.condition_failed and audit.code is None:
                return ledger_refused(ledger_action.item)
            raise cancellation.failure() from cancellation.error

        result = self._db.transact(actions, what=event.event_id, context=context, on_cancel=read)
        return result if isinstance(result, Outcome) else success

    @staticmethod
    def _reasons(
        cancellation: Cancellation, actions: int
    ) -> tuple[CancellationReason, CancellationReason]:
        """The reasons of the audit Put and the ledger Update (``ledger.AUDIT_POSITION``,
        ``LEDGER_POSITION``), if DynamoDB gave one per action."""
        if len(cancellation.reasons) != actions:
            raise RejectedWriteError(
                f"{cancellation.what}: unexpected cancellation reasons {cancellation.codes}"
            ) from cancellation.error
        reasons = cancellation.reasons
        return reasons[ledger.AUDIT_POSITION], reasons[ledger.LEDGER_POSITION]

    def _write_resolved(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        """An event that removed a version for good: its state is read from S3, not carried.

        Read the ledger item and the event's audit item in one consistent read: recorded → a
        duplicate; older than the ledger → superseded; else S3 decides (:func:`settle`).
        """
        item, recorded = self._read_ledger_and_audit(event, audit_projection=AUDIT_FACTS_PROJECTION)
        if recorded is not None:
            return self._duplicate(event, recorded)
        if place(event.order, LedgerMarks.of(item)) is Place.OLDER:
            return self._audit_only(event, AuditOutcome.SUPERSEDED, context)
        return self._settle_with_s3(event, item, context)

    def _settle_with_s3(
        self, event: ObjectEvent, item: Mapping[str, Any] | None, context: InvocationContext
    ) -> Outcome:
        """Read the object's state from S3, decide (:func:`settle`), and write pinned to the
        ledger ``item``; if another event moved the ledger in between, place and decide again.

        Exactly once and in order: the audit Put is conditional as always; the pin makes the
        decision hold at the write; a crash before the transaction leaves nothing, and a lost
        answer is resent with the same ClientRequestToken.
        """
        own = None if event.effect is Effect.RESOLVE else ObjectState.of_event(event)
        for _ in range(_PIN_ATTEMPTS):
            settlement, update = self._settle_by_s3(event, own, item)
            if update is None:
                return self._audit_only(event, settlement.outcome, context)
            try:
                return self._write_pinned(event, update, settlement.outcome, context)
            except _LedgerMovedError as moved:
                item = moved.item  # another event landed between our read and our write
            if place(event.order, LedgerMarks.of(item)) is Place.OLDER:
                return self._audit_only(event, AuditOutcome.SUPERSEDED, context)
        raise TransientWriteError(
            f"{event.event_id}: the ledger item kept changing under {_PIN_ATTEMPTS} attempts"
        )

    def write_state(
        self,
        event: ObjectEvent,
        state: ObjectState,
        item: Mapping[str, Any] | None,
        context: InvocationContext,
    ) -> Outcome:
        """Set the ledger to ``state`` if it is still ``item`` (plain form; ``None``: absent).

        For repairs (reconcile, backfill), whose state was read from the bucket after ``item``
        was read: ``APPLIED`` when written, ``SUPERSEDED`` when the ledger moved since (a real
        event landed: the next reconcile looks again), ``DUPLICATE`` when this very repair was
        written before.
        """
        update = ledger.state_update(event, self._settings.ledger_table, item=item, state=state)
        try:
            return self._write_pinned(event, update, AuditOutcome.APPLIED, context)
        except _LedgerMovedError:
            return Outcome.SUPERSEDED

    def _write_pinned(
        self,
        event: ObjectEvent,
        update: UpdateTypeDef,
        outcome: AuditOutcome,
        context: InvocationContext,
    ) -> Outcome:
        """Send the audit Put and a pinned ledger ``update`` in one transaction; raise
        ``_LedgerMovedError`` (with the ledger item now) if the ledger moved since its read."""
        actions = ledger.pinned_actions(
            event,
            update=update,
            outcome=outcome,
            audit_table=self._settings.audit_table,
            request_id=context.aws_request_id,
            processed_at=utc_now(),
        )
        return self._transact(actions, event, context, Outcome(outcome), _ledger_moved)

    def _audit_only(
        self, event: ObjectEvent, outcome: AuditOutcome, context: InvocationContext
    ) -> Outcome:
        """Record an event that leaves the ledger alone (``superseded``, ``unchanged``)."""
        put = ledger.audit_put(
            event,
            self._settings.audit_table,
            outcome=outcome,
            request_id=context.aws_request_id,
            processed_at=utc_now(),
            only_if_new=True,
        )
        written = self._db.put_once(put, what=event.event_id)
        if isinstance(written, ConditionFailed):
            return self._duplicate(event, written.item)  # recorded by an earlier try
        return Outcome(outcome)


class _LedgerMovedError(Exception):
    """The pinned ledger item changed between the writer's read and its write."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("the ledger item moved")
        self.item = item


def _ledger_moved(item: dict[str, Any] | None) -> Outcome:
    raise _LedgerMovedError(item)

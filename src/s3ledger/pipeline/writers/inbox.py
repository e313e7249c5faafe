"""``inbox`` (the default): one transaction per event, no separate idempotency store.

The audit log is the inbox: its conditional Put both records the event and detects a duplicate,
and the ledger's ordering guard keeps the newest state. One request per fresh event, one per
duplicate, and exactly once across both tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from s3ledger.core import ledger
from s3ledger.core.errors import (
    AmbiguousWriteError,
    RejectedWriteError,
    TransientWriteError,
)
from s3ledger.core.events import Effect, ObjectEvent
from s3ledger.core.ledger import ObjectState
from s3ledger.core.order import LedgerMarks, is_newer, utc_now
from s3ledger.pipeline.aws import CONDITION_FAILED
from s3ledger.pipeline.writers.base import InvocationContext, Outcome
from s3ledger.pipeline.writers.dynamo import (
    CONDITIONAL_CHECK_FAILED,
    TRANSACTION_CANCELED,
    LookAheadWriter,
    RequestToken,
    cancellation_codes,
    classify,
    error_code,
    with_retries,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

__all__ = ["LOOK_AHEAD_KEYS", "InboxWriter"]

# BatchGetItem takes at most 100 keys.
LOOK_AHEAD_KEYS: Final = 100
# Reads and pinned writes of one event before giving up (the message then comes back).
_PIN_ATTEMPTS: Final = 5

_log = logging.getLogger(__name__)


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
        upcoming = list(self._upcoming)[:LOOK_AHEAD_KEYS]
        ids = [event_id for event_id in upcoming if event_id not in self._done]
        if not ids:
            return
        try:
            response = self._client.batch_get_item(
                RequestItems={
                    table: {
                        "Keys": [{"event_id": {"S": event_id}} for event_id in ids],
                        "ProjectionExpression": "event_id",
                    }
                }
            )
        except (ClientError, BotoCoreError) as exc:
            # Only a shortcut: without it every event still gets its conditional transaction.
            # Not tried again in this invocation, so a lasting refusal costs one request each.
            self._upcoming.clear()
            code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
            _log.warning("duplicate look-ahead failed; writing each event", extra={"error": code})
            return
        # Keys left unprocessed (throttling) are simply not skipped.
        for item in response.get("Responses", {}).get(table, []):
            self._done.add(item["event_id"]["S"])

    def _write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        if event.effect is Effect.RESOLVE:
            return self._write_resolved(event, context)
        request_id = context.aws_request_id
        actions = ledger.inbox_actions(
            event,
            ledger_table=self._settings.ledger_table,
            audit_table=self._settings.audit_table,
            request_id=request_id,
            processed_at=utc_now(),
        )

        def ledger_refused() -> Outcome:
            # The ordering guard failed: the ledger holds a newer event of the object.
            return self._supersede(event, request_id)

        return self._transact(actions, event, context, Outcome.APPLIED, ledger_refused)

    def _transact(
        self,
        actions: list[TransactWriteItemTypeDef],
        event: ObjectEvent,
        context: InvocationContext,
        success: Outcome,
        ledger_refused: Callable[[], Outcome],
    ) -> Outcome:
        """Send one event's transaction with bounded retries; read a cancellation by position.

        A retry after an ambiguous failure (timeout, lost connection) resends the same actions
        with the same ClientRequestToken, so a transaction that did commit answers success.
        """
        token = RequestToken()

        def attempt() -> Outcome:
            try:
                self._client.transact_write_items(
                    TransactItems=actions,
                    ClientRequestToken=token.next(),
                )
            except ClientError as exc:
                if error_code(exc) != TRANSACTION_CANCELED:
                    raise classify(exc, event.event_id) from exc
                codes = cancellation_codes(exc)
                if len(codes) != len(actions):
                    raise RejectedWriteError(
                        f"{event.event_id}: unexpected cancellation reasons {codes}"
                    ) from exc
                if codes[ledger.AUDIT_POSITION] == CONDITIONAL_CHECK_FAILED:
                    # Recorded before: a duplicate, or our own attempt whose answer was lost.
                    return Outcome.DUPLICATE
                if codes[ledger.LEDGER_POSITION] == CONDITIONAL_CHECK_FAILED and codes[0] is None:
                    return ledger_refused()
                raise classify(exc, event.event_id) from exc
            except BotoCoreError as exc:
                error = classify(exc, event.event_id)
                token.keep = isinstance(error, AmbiguousWriteError)
                raise error from exc
            return success

        return with_retries(
            attempt,
            policy=self._settings.retry,
            context=context,
            metrics=self._metrics,
            what=event.event_id,
        )

    def _write_resolved(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        """An event that removed a version for good: its state is read from S3, not carried.

        Read the ledger item (and whether the audit log has the event) → if the event is not
        newer than the ledger, audit it as superseded → read the object's current state from S3
        → write that state with the event's order marks, pinned to the ledger item just read.

        Why this keeps exactly-once and the per-key order:

        * duplicates: the audit Put is conditional, as for every event; a duplicate costs reads
          only, since the read finds its audit item first;
        * order: "newer" is decided by :func:`s3ledger.core.order.is_newer` on the item read, and
          the
          pin (``last_event_id`` unchanged, or no item) makes the write fail if any other event
          moved the ledger since; the writer then reads again and decides again;
        * the state read may be newer than the event (later requests happened before the
          read). That is safe: every later request has its own event, with a greater sequencer,
          and each of them, when it lands, sets its own state; the last request's event (or
          read) leaves the bucket's final state. The marks set are the event's own, never
          "newer" ones, so no later event is refused;
        * crashes and lost answers: the transaction is atomic and a retry resends it with the
          same ClientRequestToken; a crash before it leaves nothing, and the message comes back.
        """
        for _ in range(_PIN_ATTEMPTS):
            item, recorded = self._read_ledger_and_audit_ids(event)
            if recorded:
                return Outcome.DUPLICATE
            if not is_newer(event.order, LedgerMarks.of(item)):
                return self._supersede(event, context.aws_request_id)
            state = self._state_reader.current(event.bucket, event.key)
            unchanged = item is not None and ObjectState.of_ledger(item) == state
            outcome = Outcome.UNCHANGED if unchanged else Outcome.APPLIED
            try:
                return self._write_pinned(event, state, item, outcome, context)
            except _LedgerMovedError:
                continue  # another event moved the ledger between our read and our write
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

        For repairs (reconcile), whose state was read from the bucket after ``item`` was read:
        ``APPLIED`` when written, ``SUPERSEDED`` when the ledger moved since (a real event landed:
        the next reconcile looks again), ``DUPLICATE`` when this very repair was written before.
        """
        try:
            return self._write_pinned(event, state, item, Outcome.APPLIED, context)
        except _LedgerMovedError:
            return Outcome.SUPERSEDED

    def _write_pinned(
        self,
        event: ObjectEvent,
        state: ObjectState,
        item: Mapping[str, Any] | None,
        outcome: Outcome,
        context: InvocationContext,
    ) -> Outcome:
        """Write ``state`` and the order marks after ``event``, if the ledger is still ``item``;
        raise ``_LedgerMovedError`` if it moved."""
        actions = ledger.pinned_actions(
            event,
            state=state,
            marks=(LedgerMarks.of(item) or _NO_MARKS).after(event.order),
            pinned=None if item is None else str(item.get("last_event_id", "")),
            outcome=outcome.value,
            ledger_table=self._settings.ledger_table,
            audit_table=self._settings.audit_table,
            request_id=context.aws_request_id,
            processed_at=utc_now(),
        )
        return self._transact(actions, event, context, outcome, _ledger_moved)

    def _read_ledger_and_audit_ids(self, event: ObjectEvent) -> tuple[dict[str, Any] | None, bool]:
        """The ledger item (consistent, plain form) and whether the audit log has the event."""
        item, audit = self._read_ledger_and_audit(event, audit_projection="event_id")
        return item, audit is not None

    def _supersede(self, event: ObjectEvent, request_id: str) -> Outcome:
        """Record a superseded event in the audit log only; the ledger keeps its newer state."""
        put = ledger.audit_put(
            event,
            self._settings.audit_table,
            outcome=ledger.SUPERSEDED,
            request_id=request_id,
            processed_at=utc_now(),
            only_if_new=True,
        )
        try:
            self._client.put_item(**put)
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                return Outcome.DUPLICATE  # superseded and recorded by an earlier delivery
            raise classify(exc, event.event_id) from exc
        except BotoCoreError as exc:
            raise classify(exc, event.event_id) from exc
        return Outcome.SUPERSEDED


class _LedgerMovedError(Exception):
    """The pinned ledger item changed between the writer's read and its write."""


def _ledger_moved() -> Outcome:
    raise _LedgerMovedError


_NO_MARKS: Final = LedgerMarks(None, None, "")

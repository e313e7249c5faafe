"""``inbox-batch``: the events of one SQS batch in as few transactions as DynamoDB allows.

Each event contributes ``inbox``'s two actions (audit Put, ledger Update), so event k of a wave
sits at positions 2k and 2k+1; a wave holds at most 50 events (100 actions) and one event per
object. A cancelled wave is read by position; nothing of it was written, so its other events
fall back to the one-event ``inbox`` path. A wave whose answer is lost is resent with the same
ClientRequestToken. An object with a removal of a version is written on the one-event path.
Why this is exactly once: docs/exactly-once.md#inbox-batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from s3ledger.core import ledger
from s3ledger.core.errors import AmbiguousWriteError, PoisonError, RetryableError, S3LedgerError
from s3ledger.core.events import Effect, ObjectEvent
from s3ledger.core.order import utc_now
from s3ledger.pipeline.dynamodb import Cancellation
from s3ledger.pipeline.invocation import InvocationContext
from s3ledger.pipeline.writers.base import BatchResult, Outcome
from s3ledger.pipeline.writers.inbox import InboxWriter

__all__ = ["MAX_ACTIONS", "InboxBatchWriter", "plan_waves"]

MAX_ACTIONS: Final = 100
_ACTIONS_PER_EVENT: Final = 2


def plan_waves(events: Sequence[ObjectEvent], max_events: int) -> list[list[int]]:
    """Split event positions into waves: at most ``max_events`` each, one event per object.

    An event goes in the first wave with room that comes after every earlier event of its
    object, so one object's events keep their batch order.
    """
    waves: list[list[int]] = []
    wave_of: dict[str, int] = {}  # object id -> the wave its latest event went into
    for position, event in enumerate(events):
        start = wave_of.get(event.object_id, -1) + 1
        wave = next((w for w in range(start, len(waves)) if len(waves[w]) < max_events), None)
        if wave is None:
            waves.append([])
            wave = len(waves) - 1
        waves[wave].append(position)
        wave_of[event.object_id] = wave
    return waves


class InboxBatchWriter(InboxWriter):
    mode = "inbox-batch"

    def write_batch(
        self, events: Sequence[ObjectEvent], context: InvocationContext
    ) -> list[BatchResult]:
        """Write every event; return, per event, its outcome or the error it ended with."""
        results: list[BatchResult | None] = [None] * len(events)
        resolving = {e.object_id for e in events if e.effect is Effect.RESOLVE}
        fresh, one_by_one = [], []
        for position, event in enumerate(events):
            if self._done.knows(event):
                results[position] = Outcome.DUPLICATE
            elif event.object_id in resolving:
                one_by_one.append(position)
            else:
                fresh.append(position)
        todo = [events[p] for p in fresh]
        for wave in plan_waves(todo, MAX_ACTIONS // _ACTIONS_PER_EVENT):
            positions = [fresh[w] for w in wave]
            for position, result in zip(
                positions, self._write_wave([events[p] for p in positions], context), strict=True
            ):
                results[position] = result
        for position in one_by_one:
            results[position] = self._write_one(events[position], context)
        return [r if r is not None else Outcome.DUPLICATE for r in results]

    def _write_one(self, event: ObjectEvent, context: InvocationContext) -> BatchResult:
        try:
            return self.write(event, context)
        except S3LedgerError as exc:
            return exc

    def _write_wave(
        self, wave: Sequence[ObjectEvent], context: InvocationContext
    ) -> list[BatchResult]:
        if len(wave) == 1:
            return [self._write_one(wave[0], context)]
        processed_at = utc_now()
        actions = [
            action
            for event in wave
            for action in ledger.inbox_actions(
                event,
                ledger_table=self._settings.ledger_table,
                audit_table=self._settings.audit_table,
                request_id=context.aws_request_id,
                processed_at=processed_at,
            )
        ]
        what = f"a wave of {len(wave)} events ({wave[0].event_id}, ...)"
        try:
            # A cancelled wave is not retried: its events are decided one by one (_fall_back).
            cancelled = self._db.transact(
                actions, what=what, context=context, on_cancel=lambda cancellation: cancellation
            )
        except AmbiguousWriteError as exc:
            # The wave may have committed: only its messages coming back can tell.
            return [exc] * len(wave)
        except (RetryableError, PoisonError):
            return self._fall_back(wave, None, context)  # a bad event fails alone there
        if isinstance(cancelled, Cancellation):
            return self._fall_back(wave, cancelled, context)
        for event in wave:
            self._done.add(event)
        return [Outcome.APPLIED] * len(wave)

    def _fall_back(
        self,
        wave: Sequence[ObjectEvent],
        cancelled: Cancellation | None,
        context: InvocationContext,
    ) -> list[BatchResult]:
        reasons = () if cancelled is None else cancelled.reasons
        readable = len(reasons) == _ACTIONS_PER_EVENT * len(wave)
        results: list[BatchResult] = []
        for k, event in enumerate(wave):
            base = _ACTIONS_PER_EVENT * k
            if not readable:
                results.append(self._write_one(event, context))
                continue
            audit = reasons[base + ledger.AUDIT_POSITION]
            ledger_action = reasons[base + ledger.LEDGER_POSITION]
            if audit.condition_failed:
                results.append(self._settled(event, audit.item, context, recorded=True))
            elif ledger_action.condition_failed and audit.code is None:
                results.append(self._settled(event, ledger_action.item, context, recorded=False))
            else:
                results.append(self._write_one(event, context))
        return results

    def _settled(
        self,
        event: ObjectEvent,
        item: dict[str, Any] | None,
        context: InvocationContext,
        *,
        recorded: bool,
    ) -> BatchResult:
        """One event of a cancelled wave, decided from the item its failed action returned (its
        audit record if ``recorded``, else the ledger's); its error if it fails."""
        try:
            if recorded:
                outcome = self._duplicate(event, item)
            else:
                outcome = self.after_refusal(event, item, context)
        except S3LedgerError as exc:
            return exc
        self._done.add(event)
        return outcome

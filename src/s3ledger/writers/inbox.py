"""``inbox`` (the default): one transaction per event, no separate idempotency store.

The audit log is the inbox: its conditional Put both records the event and detects a duplicate,
and the ledger's ordering guard keeps the newest state. One request per fresh event, one per
duplicate, and exactly once across both tables.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError

from s3ledger import ledger
from s3ledger.config import Settings
from s3ledger.errors import AmbiguousWriteError, RejectedWriteError
from s3ledger.events import ObjectEvent
from s3ledger.writers.base import InvocationContext, MetricsSink, Outcome
from s3ledger.writers.dynamo import (
    CONDITIONAL_CHECK_FAILED,
    TRANSACTION_CANCELED,
    DynamoDBWriter,
    cancellation_codes,
    classify,
    error_code,
    with_retries,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["LOOK_AHEAD_KEYS", "InboxWriter"]

# BatchGetItem takes at most 100 keys.
LOOK_AHEAD_KEYS: Final = 100

_log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class _Token:
    """The transaction's ClientRequestToken across this event's attempts.

    Kept only after an ambiguous failure: DynamoDB then answers a retry of a transaction that did
    commit with success, instead of running it again. After a definite failure the next attempt
    gets a fresh token, since a token is bound to its first request.
    """

    def __init__(self) -> None:
        self.value = ""
        self.keep = False

    def next(self) -> str:
        if not self.keep:
            self.value = str(uuid.uuid4())
        self.keep = False
        return self.value


class _RecentlyRecorded:
    """Event ids this sandbox has seen recorded in the audit log, the newest ``capacity`` of them.

    A duplicate that lands in the same warm sandbox is then skipped without a request. It cannot
    weaken exactly-once: an id enters only once its audit item is known to exist, and s3ledger
    never deletes audit items.
    """

    def __init__(self, capacity: int) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


class InboxWriter(DynamoDBWriter):
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

    def __init__(
        self, client: DynamoDBClient, settings: Settings, metrics: MetricsSink | None = None
    ) -> None:
        super().__init__(client, settings, metrics)
        self._recorded = _RecentlyRecorded(settings.recent_events)
        # Event ids of this invocation not yet written, in order (a dict: ordered and unique).
        self._upcoming: dict[str, None] = {}

    def expect(self, events: Sequence[ObjectEvent]) -> None:
        """Announce the events this invocation is about to write, in order."""
        self._upcoming = dict.fromkeys(event.event_id for event in events)

    def write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        self._upcoming.pop(event.event_id, None)
        if event.event_id in self._recorded:
            return Outcome.DUPLICATE
        outcome = self._write(event, context)
        self._recorded.add(event.event_id)
        if outcome is Outcome.DUPLICATE and self._upcoming:
            self._look_ahead()
        return outcome

    def _look_ahead(self) -> None:
        """Remember which of the next upcoming events the audit log already records."""
        table = self._settings.audit_table
        # list() copies the ids in one step, so a write on another thread cannot change the
        # dict while it is read.
        upcoming = list(self._upcoming)[:LOOK_AHEAD_KEYS]
        ids = [event_id for event_id in upcoming if event_id not in self._recorded]
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
            self._recorded.add(item["event_id"]["S"])

    def _write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        request_id = context.aws_request_id
        actions = ledger.inbox_actions(
            event,
            ledger_table=self._settings.ledger_table,
            audit_table=self._settings.audit_table,
            request_id=request_id,
            processed_at=_now(),
        )
        token = _Token()

        def attempt() -> Outcome:
            try:
                self._client.transact_write_items(
                    TransactItems=actions,  # type: ignore[arg-type]
                    ClientRequestToken=token.next(),
                )
            except ClientError as exc:
                if error_code(exc) == TRANSACTION_CANCELED:
                    return self._read_cancellation(exc, event, request_id)
                raise classify(exc, event.event_id) from exc
            except BotoCoreError as exc:
                error = classify(exc, event.event_id)
                token.keep = isinstance(error, AmbiguousWriteError)
                raise error from exc
            return Outcome.APPLIED

        return with_retries(
            attempt,
            policy=self._settings.retry,
            context=context,
            metrics=self._metrics,
            what=event.event_id,
        )

    def _read_cancellation(self, exc: ClientError, event: ObjectEvent, request_id: str) -> Outcome:
        codes = cancellation_codes(exc)
        if len(codes) != 2:
            raise RejectedWriteError(f"{event.event_id}: unexpected cancellation reasons {codes}")
        if codes[ledger.AUDIT_POSITION] == CONDITIONAL_CHECK_FAILED:
            # Recorded before: a duplicate delivery, or our own attempt whose answer was lost.
            return Outcome.DUPLICATE
        if codes[ledger.LEDGER_POSITION] == CONDITIONAL_CHECK_FAILED and codes[0] is None:
            return self._supersede(event, request_id)
        raise classify(exc, event.event_id) from exc

    def _supersede(self, event: ObjectEvent, request_id: str) -> Outcome:
        """Record a stale event in the audit log only; the ledger keeps its newer state."""
        put = ledger.audit_put(
            event,
            self._settings.audit_table,
            outcome=ledger.SUPERSEDED,
            request_id=request_id,
            processed_at=_now(),
            only_if_new=True,
        )
        try:
            self._client.put_item(**put)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return Outcome.DUPLICATE  # superseded and recorded by an earlier delivery
            raise classify(exc, event.event_id) from exc
        except BotoCoreError as exc:
            raise classify(exc, event.event_id) from exc
        return Outcome.STALE

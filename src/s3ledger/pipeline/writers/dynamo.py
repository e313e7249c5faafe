"""Reading DynamoDB's errors, and the bounded retry shared by every write mode.

Which failures are worth another attempt, and which can never succeed:

=================================================  =========  ===================================
error                                              class      why
=================================================  =========  ===================================
cancellation reason ``TransactionConflict``        transient  another transaction held the item
``ThrottlingError`` / ``ProvisionedThroughput...``   transient  capacity comes back
``ThrottlingException``, ``RequestLimitExceeded``  transient  same, outside a transaction
``InternalServerError``, ``ServiceUnavailable``    transient  DynamoDB's side
``TransactionInProgressException``                 transient  our own earlier attempt still runs
read timeout, connection closed                    ambiguous  the write may have committed: retry
                                                              with the same ClientRequestToken
``ValidationException`` / ``ValidationError``      poison     the item is invalid or too large
``ItemCollectionSizeLimitExceeded``                poison     no retry makes room
anything else                                      transient  unknown: let the message come back,
                                                              where the DLQ keeps it, never drop
=================================================  =========  ===================================
"""

from __future__ import annotations

import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
)

from s3ledger.core.attributes import from_item
from s3ledger.core.config import RetryPolicy, Settings
from s3ledger.core.errors import (
    AmbiguousWriteError,
    IdentityConflictError,
    RejectedWriteError,
    RetryableError,
    ThrottledError,
    TransactionConflictError,
    TransientReadError,
    TransientWriteError,
)
from s3ledger.core.events import ObjectEvent
from s3ledger.core.ledger import conflicting_facts
from s3ledger.pipeline.aws import error_code
from s3ledger.pipeline.bucket import S3VersionsReader, StateReader
from s3ledger.pipeline.writers.base import InvocationContext, MetricsSink, NullMetrics, Outcome

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "AUDIT_FACTS_PROJECTION",
    "CONDITIONAL_CHECK_FAILED",
    "DynamoDBWriter",
    "LookAheadWriter",
    "RecentlyRecorded",
    "RequestToken",
    "cancellation_codes",
    "cancellation_items",
    "classify",
    "error_code",
    "returned_item",
    "with_retries",
]

T = TypeVar("T")

CONDITIONAL_CHECK_FAILED: Final = "ConditionalCheckFailed"
TRANSACTION_CANCELED: Final = "TransactionCanceledException"

_THROTTLING: Final = frozenset(
    {
        "ThrottlingError",
        "ThrottlingException",
        "ProvisionedThroughputExceeded",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
    }
)
_POISON: Final = frozenset(
    {
        "ValidationError",
        "ValidationException",
        "ItemCollectionSizeLimitExceeded",
        "ItemCollectionSizeLimitExceededException",
        "SerializationException",
    }
)
_AMBIGUOUS: Final = (ReadTimeoutError, ConnectionClosedError)

# Reads of an item pair before giving up when DynamoDB keeps keys unprocessed.
_READ_ATTEMPTS: Final = 5
# What a read of audit items needs to tell a duplicate from another event with its id.
AUDIT_FACTS_PROJECTION: Final = "event_id, event_name, version_id, etag"


def cancellation_codes(error: ClientError) -> list[str | None]:
    """The cancellation reasons of a ``TransactionCanceledException``, in request order.

    ``None`` where that action was fine (DynamoDB says ``"None"``).
    """
    reasons: list[Any] = list(error.response.get("CancellationReasons") or [])
    codes: list[str | None] = []
    for reason in reasons:
        code = reason.get("Code")
        codes.append(None if code in (None, "None") else str(code))
    return codes


def cancellation_items(error: ClientError) -> list[dict[str, Any] | None]:
    """The item each action of a cancelled transaction failed on (plain form), in request
    order; ``None`` where DynamoDB returned none (the action asked for none, or did not fail)."""
    reasons: list[Any] = list(error.response.get("CancellationReasons") or [])
    return [from_item(reason["Item"]) if reason.get("Item") else None for reason in reasons]


def returned_item(error: ClientError) -> dict[str, Any] | None:
    """The item a failed single-item condition returned (``ALL_OLD``), plain form."""
    item: Any = error.response.get("Item")
    return from_item(item) if item else None


def classify(error: Exception, what: str) -> Exception:
    """Turn a botocore failure into the s3ledger error that says what to do about it."""
    if isinstance(error, _AMBIGUOUS):
        return AmbiguousWriteError(f"{what}: outcome unknown ({type(error).__name__})")
    if not isinstance(error, ClientError):
        return TransientWriteError(f"{what}: {type(error).__name__}")
    code = error_code(error)
    codes = cancellation_codes(error) if code == TRANSACTION_CANCELED else [code]
    failed = [c for c in codes if c is not None]
    if any(c in _POISON for c in failed):
        return RejectedWriteError(f"{what}: DynamoDB rejected the write ({', '.join(failed)})")
    if any(c.startswith("TransactionConflict") for c in failed):
        return TransactionConflictError(f"{what}: transaction conflict ({', '.join(failed)})")
    if failed and all(c in _THROTTLING for c in failed):
        return ThrottledError(f"{what}: throttled ({', '.join(failed)})")
    return TransientWriteError(f"{what}: {', '.join(failed) or code}")


def with_retries(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    context: InvocationContext,
    metrics: MetricsSink,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    draw: Callable[[], float] = random.random,
) -> T:
    """Run ``attempt()`` until it returns, retrying ``RetryableError`` only.

    Gives up after ``policy.attempts`` tries or when the invocation's deadline is near, re-raising
    the last error so the message comes back.
    """
    for number in range(policy.attempts):
        try:
            return attempt()
        except RetryableError as exc:
            if isinstance(exc, TransactionConflictError):
                metrics.count("TransactionConflicts")
            pause = policy.delay(number, draw())
            out_of_time = (
                context.get_remaining_time_in_millis() - pause * 1000 < policy.deadline_margin_ms
            )
            if number + 1 == policy.attempts or out_of_time:
                raise
            sleep(pause)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


class RequestToken:
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


class DynamoDBWriter:
    """What every write mode holds: the handler's client, the settings, a metrics sink."""

    def __init__(
        self, client: DynamoDBClient, settings: Settings, metrics: MetricsSink | None = None
    ) -> None:
        self._client = client
        self._settings = settings
        self._metrics = metrics or NullMetrics()


class RecentlyRecorded:
    """Events this sandbox knows are done, the newest ``capacity`` of them (inbox: recorded in
    the audit log; lean: both writes done), each with the facts it was recorded with.

    A duplicate that lands in the same warm sandbox is then skipped without a request. It cannot
    weaken exactly-once: an event enters only once its writes are known to exist, and s3ledger
    never deletes audit items. An event with a known id but other facts is not known: it goes to
    DynamoDB, whose record of the id makes it fail (``IdentityConflictError``).
    """

    def __init__(self, capacity: int) -> None:
        self._facts: OrderedDict[str, tuple[str | None, ...]] = OrderedDict()
        self._capacity = capacity

    @staticmethod
    def _facts_of(event: ObjectEvent) -> tuple[str | None, ...]:
        return (event.event_name, event.version_id, event.etag)

    def knows(self, event: ObjectEvent) -> bool:
        return self._facts.get(event.event_id) == self._facts_of(event)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._facts

    def add(self, event: ObjectEvent) -> None:
        self._facts[event.event_id] = self._facts_of(event)
        self._facts.move_to_end(event.event_id)
        if len(self._facts) > self._capacity:
            self._facts.popitem(last=False)


class LookAheadWriter(DynamoDBWriter):
    """A writer that skips what its sandbox knows is done, and after a duplicate looks the rest of
    the invocation up in one read (inbox, lean: duplicates come in runs).

    A subclass writes one event in :meth:`_write` and reads ahead in :meth:`_look_ahead`, adding
    to ``_done`` what it finds complete; an event not found still goes through its conditional
    write, so the look-ahead can only save requests, never skip an unfinished event.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        settings: Settings,
        metrics: MetricsSink | None = None,
        state_reader: StateReader | None = None,
    ) -> None:
        super().__init__(client, settings, metrics)
        # Asked only for removals of a version, which carry no state (its client is lazy).
        self._state_reader = state_reader or S3VersionsReader()
        self._done = RecentlyRecorded(settings.recent_events)
        # This invocation's events not yet written, in order (a dict: ordered and unique).
        self._upcoming: dict[str, ObjectEvent] = {}

    def expect(self, events: Sequence[ObjectEvent]) -> None:
        """Announce the events this invocation is about to write, in order."""
        self._upcoming = {event.event_id: event for event in events}

    def write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        self._upcoming.pop(event.event_id, None)
        if self._done.knows(event):
            return Outcome.DUPLICATE
        outcome = self._write(event, context)
        self._done.add(event)
        if outcome is Outcome.DUPLICATE and self._upcoming:
            self._look_ahead()
        return outcome

    def _duplicate(self, event: ObjectEvent, recorded: Mapping[str, Any] | None) -> Outcome:
        """The event's id is recorded: a duplicate, unless the record says other facts."""
        conflicts = {} if recorded is None else conflicting_facts(event, recorded)
        if conflicts:
            self._metrics.count("IdentityConflicts")
            said = ", ".join(
                f"{k} {old!r} (this one: {new!r})" for k, (old, new) in conflicts.items()
            )
            raise IdentityConflictError(f"{event.event_id} is recorded with {said}")
        return Outcome.DUPLICATE

    def _remember_found(self, found: Mapping[str, Mapping[str, Any]]) -> None:
        """Mark done the upcoming events whose audit items a look-ahead found with their facts."""
        for event_id, item in found.items():
            event = self._upcoming.get(event_id)
            if event is not None and not conflicting_facts(event, item):
                self._done.add(event)

    def _write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        raise NotImplementedError

    def _read_ledger_and_audit(
        self, event: ObjectEvent, *, audit_projection: str | None = None
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The ledger item and the event's audit item, in one consistent ``BatchGetItem`` (plain
        form; ``None`` where absent). Unprocessed keys are asked again, a few times."""
        ledger_table, audit_table = self._settings.ledger_table, self._settings.audit_table
        audit_keys: dict[str, Any] = {
            "Keys": [{"event_id": {"S": event.event_id}}],
            "ConsistentRead": True,
        }
        if audit_projection is not None:
            audit_keys["ProjectionExpression"] = audit_projection
        request: dict[str, Any] = {
            ledger_table: {"Keys": [{"id": {"S": event.object_id}}], "ConsistentRead": True},
            audit_table: audit_keys,
        }
        found: dict[str, list[dict[str, Any]]] = {ledger_table: [], audit_table: []}
        for _ in range(_READ_ATTEMPTS):
            try:
                response = self._client.batch_get_item(RequestItems=request)
            except (ClientError, BotoCoreError) as exc:
                raise classify(exc, event.event_id) from exc
            for table, items in response.get("Responses", {}).items():
                found[table].extend(items)
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                break
        else:
            raise TransientReadError(f"{event.event_id}: the ledger read stayed unprocessed")
        item = from_item(found[ledger_table][0]) if found[ledger_table] else None
        audit = from_item(found[audit_table][0]) if found[audit_table] else None
        return item, audit

    def _look_ahead(self) -> None:
        raise NotImplementedError

"""The protocol every write mode implements, its optional abilities, what a write reports, and
what every DynamoDB write mode holds (:class:`DynamoDBWriter`)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from s3ledger.core.config import Settings
from s3ledger.core.errors import S3LedgerError
from s3ledger.core.events import ObjectEvent
from s3ledger.core.ledger import AuditOutcome
from s3ledger.pipeline.dynamodb import DynamoDBGateway
from s3ledger.pipeline.invocation import InvocationContext, MetricsSink, NullMetrics

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "BatchResult",
    "BatchWriter",
    "DynamoDBWriter",
    "ExpectingWriter",
    "Outcome",
    "Writer",
]


class Outcome(StrEnum):
    """What writing one event did. ``APPLIED``, ``SUPERSEDED`` and ``UNCHANGED`` have the values
    of the audit outcomes the event is recorded with (:class:`~s3ledger.core.ledger.AuditOutcome`;
    ``lean`` records every event it writes as ``recorded`` first)."""

    # The ledger now reflects this event, and the audit log records it.
    APPLIED = AuditOutcome.APPLIED.value
    DUPLICATE = "duplicate"  # the event had been recorded before; nothing was written
    # A newer event of the object was already applied (as audited).
    SUPERSEDED = AuditOutcome.SUPERSEDED.value
    # What a GET returns did not change (a noncurrent version or a delete marker was removed for
    # good, or S3 shows the state the ledger has): the ledger's state stays; only the event's
    # own order mark moves (core.settle); audited as unchanged.
    UNCHANGED = AuditOutcome.UNCHANGED.value


class Writer(Protocol):
    """Write one S3 event to the ledger and audit tables.

    Raises ``RetryableError`` when the event may succeed later and ``PoisonError`` when it never
    will; returns the outcome otherwise. Implementations: naive, transact, powertools, inbox,
    inbox-batch, lean.
    """

    mode: str

    def write(self, event: ObjectEvent, context: InvocationContext) -> Outcome: ...


# What writing one event of a batch ended with: its outcome, or the error it failed with.
BatchResult = Outcome | S3LedgerError


@runtime_checkable
class BatchWriter(Writer, Protocol):
    """A writer that can write a whole SQS batch at once (``inbox-batch``).

    The handler hands such a writer every event of the batch in one call instead of one by one.
    """

    def write_batch(
        self, events: Sequence[ObjectEvent], context: InvocationContext
    ) -> list[BatchResult]: ...


@runtime_checkable
class ExpectingWriter(Writer, Protocol):
    """A writer that uses knowing the invocation's events in advance (``inbox``'s look-ahead).

    The handler announces the batch's events, in order, before writing them one by one.
    """

    def expect(self, events: Sequence[ObjectEvent]) -> None: ...


class DynamoDBWriter:
    """What every DynamoDB write mode holds: the settings, a metrics sink, and the gateway its
    requests go through (the handler's client, the settings' retry policy)."""

    def __init__(
        self, client: DynamoDBClient, settings: Settings, metrics: MetricsSink | None = None
    ) -> None:
        self._settings = settings
        self._metrics = metrics or NullMetrics()
        self._db = DynamoDBGateway(client, retry=settings.retry, metrics=self._metrics)

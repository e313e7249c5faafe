"""What DynamoDB's failures mean: its error codes, a cancelled transaction's reasons, the item a
failed condition returns, and the s3ledger error each failure calls for.

==================================================  =========  ==================================
error                                               class      why
==================================================  =========  ==================================
cancellation reason ``TransactionConflict``         transient  another transaction held the item
``ThrottlingError`` / ``ProvisionedThroughput...``  transient  capacity comes back
``ThrottlingException``, ``RequestLimitExceeded``   transient  same, outside a transaction
``InternalServerError``, ``ServiceUnavailable``     transient  DynamoDB's side
``TransactionInProgressException``                  transient  our own earlier attempt still runs
read timeout, connection closed                     ambiguous  the write may have committed:
                                                               retry with the same token
``ValidationException`` / ``ValidationError``       poison     the item is invalid or too large
``ItemCollectionSizeLimitExceeded``                 poison     no retry makes room
anything else                                       transient  unknown: let the message come
                                                               back (the DLQ keeps it)
==================================================  =========  ==================================

Codes: *TransactWriteItems* (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html)
and *Common Errors* (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from s3ledger.core.attributes import from_item
from s3ledger.core.errors import (
    AmbiguousWriteError,
    RejectedWriteError,
    S3LedgerError,
    ThrottledError,
    TransactionConflictError,
    TransientWriteError,
)
from s3ledger.pipeline.aws import error_code

__all__ = [
    "CONDITION_FAILED_ERROR",
    "CONDITION_FAILED_REASON",
    "TRANSACTION_CANCELED",
    "Cancellation",
    "CancellationReason",
    "classify",
    "returned_item",
]

# DynamoDB names one failure twice. A single-item write (PutItem, UpdateItem) whose condition
# failed raises this error code...
CONDITION_FAILED_ERROR: Final = "ConditionalCheckFailedException"
# ...while a transaction with such an action raises TRANSACTION_CANCELED, and that action's entry
# in its CancellationReasons has this code.
CONDITION_FAILED_REASON: Final = "ConditionalCheckFailed"
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


def returned_item(error: ClientError) -> dict[str, Any] | None:
    """The item a failed single-item condition returned (``ALL_OLD``), plain form."""
    item: Any = error.response.get("Item")
    return from_item(item) if item else None


@dataclass(frozen=True, slots=True)
class CancellationReason:
    """Why DynamoDB cancelled one action of a transaction: its ``code`` (``None``: this action
    was fine) and the ``item`` its failed condition returned (plain form; ``None`` if none)."""

    code: str | None
    item: dict[str, Any] | None = None

    @property
    def condition_failed(self) -> bool:
        return self.code == CONDITION_FAILED_REASON


@dataclass(frozen=True, slots=True)
class Cancellation:
    """A cancelled transaction: its reasons, one per action in request order, and the error."""

    reasons: tuple[CancellationReason, ...]
    what: str
    error: ClientError = field(repr=False, compare=False)

    @classmethod
    def of(cls, error: ClientError, what: str) -> Cancellation:
        raw: list[Any] = list(error.response.get("CancellationReasons") or [])
        reasons = tuple(
            CancellationReason(
                None if reason.get("Code") in (None, "None") else str(reason["Code"]),
                from_item(reason["Item"]) if reason.get("Item") else None,
            )
            for reason in raw
        )
        return cls(reasons, what, error)

    @property
    def codes(self) -> list[str | None]:
        return [reason.code for reason in self.reasons]

    def failure(self) -> S3LedgerError:
        """The error this cancellation is when no action's answer settles the write (a conflict,
        throttling, a rejected item): :func:`classify`'s."""
        return classify(self.error, self.what)


def classify(error: Exception, what: str) -> S3LedgerError:
    """Turn a botocore failure into the s3ledger error that says what to do about it."""
    if isinstance(error, _AMBIGUOUS):
        return AmbiguousWriteError(f"{what}: outcome unknown ({type(error).__name__})")
    if not isinstance(error, ClientError):
        return TransientWriteError(f"{what}: {type(error).__name__}")
    code = error_code(error)
    codes = Cancellation.of(error, what).codes if code == TRANSACTION_CANCELED else [code]
    failed = [c for c in codes if c is not None]
    if any(c in _POISON for c in failed):
        return RejectedWriteError(f"{what}: DynamoDB rejected the write ({', '.join(failed)})")
    if any(c.startswith("TransactionConflict") for c in failed):
        return TransactionConflictError(f"{what}: transaction conflict ({', '.join(failed)})")
    if failed and all(c in _THROTTLING for c in failed):
        return ThrottledError(f"{what}: throttled ({', '.join(failed)})")
    return TransientWriteError(f"{what}: {', '.join(failed) or code}")

"""The s3ledger error hierarchy.

Two families matter to a caller, because they call for opposite reactions:

* ``RetryableError``: the event may succeed later (throttling, a transaction conflict, a write whose
  outcome is unknown). The message must come back: raise, so SQS redelivers it.
* ``PoisonError``: the record can never succeed as it is (a malformed body, a missing field, an item
  DynamoDB rejects). Retrying is pointless; the record is reported failed on its own, so the rest of
  its batch goes on and the message ends in the DLQ, where nothing is lost.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousWriteError",
    "ConfigurationError",
    "IdentityConflictError",
    "MalformedRecordError",
    "PoisonError",
    "RejectedWriteError",
    "RetryableError",
    "S3LedgerError",
    "SequencerError",
    "ThrottledError",
    "TransactionConflictError",
    "TransientReadError",
    "TransientWriteError",
]


class S3LedgerError(Exception):
    """Base class of every error s3ledger raises on purpose."""


class ConfigurationError(S3LedgerError):
    """A setting is missing or invalid (read once, at cold start)."""


class RetryableError(S3LedgerError):
    """The event may succeed on a later attempt: let the message come back."""


class TransientWriteError(RetryableError):
    """DynamoDB refused the write for now (conflict, 5xx) and bounded retries ran out."""


class TransactionConflictError(TransientWriteError):
    """Another transaction held one of the items, every time we tried."""


class ThrottledError(TransientWriteError):
    """DynamoDB throttled the write and bounded retries ran out."""


class TransientReadError(RetryableError):
    """A read the write depends on (the object's state in S3) failed for now."""


class AmbiguousWriteError(RetryableError):
    """The write was sent but its outcome is unknown (timeout, lost connection).

    It may have committed: the retry must be idempotent, which is what the audit condition is for.
    """


class PoisonError(S3LedgerError):
    """The record can never succeed as it is: fail it alone, never the whole batch."""


class MalformedRecordError(PoisonError):
    """An envelope or notification record lacks a field or has one of the wrong shape."""


class SequencerError(MalformedRecordError):
    """A sequencer is not a hexadecimal string s3ledger can order."""


class RejectedWriteError(PoisonError):
    """DynamoDB rejected the write for a reason a retry cannot change (validation, item size)."""


class IdentityConflictError(PoisonError):
    """An event's id is recorded already, with other facts (event name, version id, eTag).

    Not a duplicate: two different events share an id (one sequencer reused, as AWS's SDK sample
    payloads do). Skipping it would lose it in silence; the message fails and ends in the DLQ.
    """

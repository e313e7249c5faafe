"""The library for a Lambda function of your own: parse what a trigger delivers, write each S3
event exactly once with a mode, and the settings. ``from s3ledger import ...`` re-exports these
(see :mod:`s3ledger`); the packaged function (:mod:`s3ledger.pipeline.handlers`) is built from
the same parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s3ledger.core.config import Settings
from s3ledger.core.errors import MalformedRecordError, S3LedgerError
from s3ledger.core.events import (
    ObjectEvent,
    detect_envelope,
    parse_eventbridge_event,
    parse_s3_event,
    parse_sqs_body,
)
from s3ledger.pipeline.writers import MetricsSink, Writer, make_writer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["SqsMessage", "ledger_writer", "parse_event", "parse_sqs_batch"]


@dataclass(frozen=True, slots=True)
class SqsMessage:
    """One message of an SQS batch: its id, the S3 events its body holds, or why it cannot be
    read (``error``, a :class:`~s3ledger.core.errors.PoisonError`: report it in
    ``batchItemFailures`` and the rest of the batch goes on)."""

    message_id: str
    events: tuple[ObjectEvent, ...] = ()
    error: S3LedgerError | None = None


def parse_event(payload: Mapping[str, Any] | str) -> tuple[ObjectEvent, ...]:
    """The S3 object events of what one trigger delivered: an S3 notification (S3 → Lambda),
    an EventBridge event (S3 → EventBridge → Lambda), or one SQS message's body (a ``str``: S3
    → SQS, through SNS or not, or EventBridge → SQS). Event types that leave objects as they are
    (``s3:TestEvent``, ``s3:ObjectTagging:*``, ...) give no event. For a whole SQS batch, use
    :func:`parse_sqs_batch`. Raises :class:`~s3ledger.core.errors.MalformedRecordError` naming
    the field that is missing or wrong."""
    if isinstance(payload, str):
        return parse_sqs_body(payload).events
    kind = detect_envelope(payload) if "Event" not in payload else "s3"
    if kind == "sqs":
        raise MalformedRecordError("this is an SQS batch: parse it with parse_sqs_batch")
    parse = parse_eventbridge_event if kind == "eventbridge" else parse_s3_event
    return parse(payload).events


def parse_sqs_batch(event: Mapping[str, Any]) -> list[SqsMessage]:
    """Every message of an SQS batch (the event Lambda's SQS trigger passes), in order, each
    parsed on its own: one unreadable body fails only its own message."""
    messages = []
    for record in event.get("Records", []):
        message_id = str(record.get("messageId"))
        try:
            parsed = parse_sqs_body(record.get("body"))
        except S3LedgerError as exc:
            messages.append(SqsMessage(message_id, error=exc))
        else:
            messages.append(SqsMessage(message_id, parsed.events))
    return messages


def ledger_writer(
    settings: Settings | None = None,
    client: DynamoDBClient | None = None,
    metrics: MetricsSink | None = None,
) -> Writer:
    """The writer of ``settings.mode`` (default: :meth:`Settings.from_env`, the ``S3LEDGER_*``
    variables). Build it once per execution environment; ``writer.write(event, context)``
    returns the :class:`~s3ledger.pipeline.writers.Outcome`, raises a ``RetryableError`` when
    the message should come back and a ``PoisonError`` when it never can succeed. ``client``
    defaults to a DynamoDB client with botocore's standard retries (endpoint from the SDK's
    variables)."""
    from s3ledger.pipeline.handlers import default_dynamodb_client  # noqa: PLC0415 -- Powertools

    chosen = settings or Settings.from_env()
    return make_writer(client or default_dynamodb_client(), chosen, metrics)

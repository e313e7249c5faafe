"""``transact``: the article's step 3, both puts in one ``TransactWriteItems``.

Atomic, so the tables never disagree. But ``attribute_not_exists(id)`` on the ledger makes the
object id a unique constraint: a duplicate delivery *and* a legitimate re-upload of the same key are
both rejected, so the invocation fails, retries, and the message ends in the DLQ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from s3ledger.core import ledger
from s3ledger.core.errors import RejectedWriteError
from s3ledger.core.events import ObjectEvent
from s3ledger.core.order import utc_now
from s3ledger.pipeline.writers.base import InvocationContext, Outcome
from s3ledger.pipeline.writers.dynamo import (
    CONDITIONAL_CHECK_FAILED,
    TRANSACTION_CANCELED,
    DynamoDBWriter,
    cancellation_codes,
    classify,
    error_code,
    with_retries,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

__all__ = ["ObjectAlreadyRecordedError", "TransactWriter"]


class ObjectAlreadyRecordedError(RejectedWriteError):
    """``transact`` found a ledger item for the object: a duplicate or a re-upload, rejected."""


class TransactWriter(DynamoDBWriter):
    mode = "transact"

    def write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        actions: list[TransactWriteItemTypeDef] = [
            {"Put": ledger.ledger_put(event, self._settings.ledger_table, only_if_absent=True)},
            {
                "Put": ledger.audit_put(
                    event,
                    self._settings.audit_table,
                    outcome=ledger.APPLIED,
                    request_id=context.aws_request_id,
                    processed_at=utc_now(),
                    only_if_new=False,
                )
            },
        ]

        def attempt() -> Outcome:
            try:
                self._client.transact_write_items(TransactItems=actions)
            except ClientError as exc:
                if (
                    error_code(exc) == TRANSACTION_CANCELED
                    and cancellation_codes(exc)[0] == CONDITIONAL_CHECK_FAILED
                ):
                    raise ObjectAlreadyRecordedError(
                        f"{event.event_id}: the ledger already has {event.object_id!r}; "
                        "transact mode rejects duplicates and re-uploads alike"
                    ) from exc
                raise classify(exc, event.event_id) from exc
            except BotoCoreError as exc:
                raise classify(exc, event.event_id) from exc
            return Outcome.APPLIED

        return with_retries(
            attempt,
            policy=self._settings.retry,
            context=context,
            metrics=self._metrics,
            what=event.event_id,
        )

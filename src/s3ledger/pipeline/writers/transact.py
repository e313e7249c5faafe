"""``transact``: the article's step 3, both puts in one ``TransactWriteItems``.

Atomic, so the tables never disagree. But ``attribute_not_exists(id)`` on the ledger makes the
object id a unique constraint: a duplicate delivery *and* a legitimate re-upload of the same key are
both rejected, so the invocation fails, retries, and the message ends in the DLQ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from s3ledger.core import ledger
from s3ledger.core.errors import RejectedWriteError
from s3ledger.core.events import ObjectEvent
from s3ledger.core.ledger import AuditOutcome
from s3ledger.core.order import utc_now
from s3ledger.pipeline.dynamodb import Cancellation
from s3ledger.pipeline.invocation import InvocationContext
from s3ledger.pipeline.writers.base import DynamoDBWriter, Outcome

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
                    outcome=AuditOutcome.APPLIED,
                    request_id=context.aws_request_id,
                    processed_at=utc_now(),
                    only_if_new=False,
                )
            },
        ]

        def rejected(cancellation: Cancellation) -> NoReturn:
            if cancellation.reasons and cancellation.reasons[0].condition_failed:
                raise ObjectAlreadyRecordedError(
                    f"{event.event_id}: the ledger already has {event.object_id!r}; "
                    "transact mode rejects duplicates and re-uploads alike"
                ) from cancellation.error
            raise cancellation.failure() from cancellation.error

        # The article's transaction carries no ClientRequestToken (idempotent=False).
        self._db.transact(
            actions, what=event.event_id, context=context, on_cancel=rejected, idempotent=False
        )
        return Outcome.APPLIED

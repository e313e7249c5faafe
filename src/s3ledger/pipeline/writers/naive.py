"""``naive``: the article's step 2, two independent ``put_item`` calls.

Kept as the baseline the checker must catch: a crash between the two puts leaves a ledger item with
no audit item, and every duplicate delivery writes both items again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from s3ledger.core import ledger
from s3ledger.core.events import ObjectEvent
from s3ledger.core.order import utc_now
from s3ledger.pipeline.writers.base import InvocationContext, Outcome
from s3ledger.pipeline.writers.dynamo import DynamoDBWriter, classify, with_retries

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import PutTypeDef

__all__ = ["NaiveWriter"]


class NaiveWriter(DynamoDBWriter):
    mode = "naive"

    def write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        processed_at = utc_now()
        self._put(
            event,
            context,
            ledger.ledger_put(event, self._settings.ledger_table, only_if_absent=False),
        )
        self._put(
            event,
            context,
            ledger.audit_put(
                event,
                self._settings.audit_table,
                outcome=ledger.APPLIED,
                request_id=context.aws_request_id,
                processed_at=processed_at,
                only_if_new=False,
            ),
        )
        return Outcome.APPLIED

    def _put(self, event: ObjectEvent, context: InvocationContext, put: PutTypeDef) -> None:
        def attempt() -> None:
            try:
                self._client.put_item(**put)
            except (ClientError, BotoCoreError) as exc:
                raise classify(exc, event.event_id) from exc

        with_retries(
            attempt,
            policy=self._settings.retry,
            context=context,
            metrics=self._metrics,
            what=event.event_id,
        )

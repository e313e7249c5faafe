"""``naive``: the article's step 2, two independent ``put_item`` calls.

Kept as the baseline the checker must catch: a crash between the two puts leaves a ledger item with
no audit item, and every duplicate delivery writes both items again.
"""

from __future__ import annotations

from s3ledger.core import ledger
from s3ledger.core.events import ObjectEvent
from s3ledger.core.ledger import AuditOutcome
from s3ledger.core.order import utc_now
from s3ledger.pipeline.invocation import InvocationContext
from s3ledger.pipeline.writers.base import DynamoDBWriter, Outcome

__all__ = ["NaiveWriter"]


class NaiveWriter(DynamoDBWriter):
    mode = "naive"

    def write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        processed_at = utc_now()
        self._db.put(
            ledger.ledger_put(event, self._settings.ledger_table, only_if_absent=False),
            what=event.event_id,
            context=context,
        )
        self._db.put(
            ledger.audit_put(
                event,
                self._settings.audit_table,
                outcome=AuditOutcome.APPLIED,
                request_id=context.aws_request_id,
                processed_at=processed_at,
                only_if_new=False,
            ),
            what=event.event_id,
            context=context,
        )
        return Outcome.APPLIED

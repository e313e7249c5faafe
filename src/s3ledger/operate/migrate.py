"""``s3ledger migrate-audit``: copy an audit log keyed by ``event_id`` (releases before the
history command) into one keyed by object and event (``object_id``, ``event_key``).

DynamoDB cannot change a table's key, so the template's new audit table is a new table (a new
``AuditTableName``), and the function writes to it from the moment the stack is updated. The
copy is a parallel Scan of the old table and one conditional ``PutItem`` per item
(``attribute_not_exists(event_key)``): an item the new table already has, written by the
function since the switch (a duplicate delivery of an old event, recorded again), is kept, so
the copy never overwrites newer truth and can run while events flow, and again (a second run
copies nothing). Each item gets ``event_key``, the sort key; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s3ledger.core.ledger import split_event_id, to_item
from s3ledger.operate.scan import scan_items
from s3ledger.pipeline.dynamodb import ConditionFailed, put_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["MigrationReport", "migrate_audit"]


@dataclass
class MigrationReport:
    """What one copy did: items read, copied, and already in the new table."""

    source: str
    target: str
    read: int = 0
    copied: int = 0
    already_there: int = 0

    def to_json(self) -> dict[str, str | int]:
        return {
            "source": self.source,
            "target": self.target,
            "read": self.read,
            "copied": self.copied,
            "already_there": self.already_there,
        }


def migrate_audit(
    client: DynamoDBClient,
    *,
    source: str,
    target: str,
    segments: int = 4,
    progress: Callable[[MigrationReport], None] | None = None,
) -> MigrationReport:
    """Copy every audit item of ``source`` into ``target`` (see the module's docstring)."""
    if source == target:
        raise ValueError("the source and the target audit table must differ")
    report = MigrationReport(source, target)
    for item in scan_items(client, source, segments=segments):
        report.read += 1
        object_id, event_key = split_event_id(str(item["event_id"]))
        copy = {**item, "object_id": item.get("object_id", object_id), "event_key": event_key}
        result = put_item(
            client,
            {
                "TableName": target,
                "Item": to_item(copy),
                "ConditionExpression": "attribute_not_exists(event_key)",
            },
        )
        if isinstance(result, ConditionFailed):
            report.already_there += 1
        else:
            report.copied += 1
        if progress is not None:
            progress(report)
    return report

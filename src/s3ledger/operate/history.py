"""``s3ledger history``: what happened to one object, and who did it, from one Query.

The audit log is keyed by object (``object_id``), then by the event's key within it
(``event_key``), so an object's events are one key-condition ``Query``: no Scan, no index (an
index would cost a write unit per event). The items come back in ``event_key`` order: sequenced
events by their padded sequencer (S3's order), then the unsequenced ones (``~time~digest``).
:func:`in_s3_order` merges the two by the rule S3 documents and the clocks allow: sequenced events
in sequencer order; an unsequenced event (a lifecycle expiry, a backfill, a repair) before the
first sequenced event whose time is later than its own, so after those of its own time (the
clocks cannot say more: docs/semantics.md#never-guess-an-order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from s3ledger.pipeline.dynamodb import pages

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["HISTORY_FIELDS", "ObjectHistory", "in_s3_order", "object_history"]

# What `history --json` shows of each event (the audit item's own attribute names), in order.
HISTORY_FIELDS: Final = (
    "event_id",
    "event_name",
    "event_time",
    "version_id",
    "etag",
    "size",
    "requester",
    "source_ip",
    "s3_request_id",
    "outcome",
    "processed_at",
)


@dataclass(frozen=True)
class ObjectHistory:
    """An object's audited events, oldest first, and how many reads it took."""

    object_id: str
    events: tuple[Mapping[str, Any], ...]
    queries: int

    def to_json(self) -> dict[str, Any]:
        return {
            "object": self.object_id,
            "events": [
                {field: event.get(field) for field in HISTORY_FIELDS} for event in self.events
            ],
        }


def in_s3_order(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """An object's audit items, oldest first (see the module's docstring)."""
    sequenced = sorted((i for i in items if i.get("sequencer")), key=lambda i: str(i["sequencer"]))
    unsequenced = sorted(
        (i for i in items if not i.get("sequencer")), key=lambda i: str(i.get("event_time", ""))
    )
    ordered: list[Mapping[str, Any]] = []
    waiting = list(unsequenced)
    for event in sequenced:
        time = str(event.get("event_time", ""))
        while waiting and str(waiting[0].get("event_time", "")) < time:
            ordered.append(waiting.pop(0))
        ordered.append(event)
    return ordered + waiting


def object_history(
    client: DynamoDBClient, *, audit_table: str, bucket: str, key: str
) -> ObjectHistory:
    """Every audited event of ``bucket/key`` (consistent reads), oldest first."""
    object_id = f"{bucket}/{key}"
    request: dict[str, Any] = {
        "TableName": audit_table,
        "KeyConditionExpression": "object_id = :object",
        "ExpressionAttributeValues": {":object": {"S": object_id}},
        "ConsistentRead": True,
    }
    items: list[dict[str, Any]] = []
    queries = 0
    for page in pages(client.query, request):
        queries += 1
        items.extend(page.items)
    return ObjectHistory(object_id, tuple(in_s3_order(items)), queries)

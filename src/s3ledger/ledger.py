"""What one event writes where: the ledger and audit items and their conditions.

Pure: it builds request fragments in DynamoDB's low-level shape and sends nothing. Every writer
takes its items from here, so the four modes differ only in *how* they write, never in *what*.

The conditions, and what it means when each one fails:

======================  ==================================  ======================================
action                  condition                           when it fails
======================  ==================================  ======================================
audit Put (inbox,       ``attribute_not_exists(event_id)``  the event was recorded before: a
supersede)                                                  duplicate, or our own earlier attempt
                                                            whose response was lost
ledger Update (inbox)   ``attribute_not_exists(id) OR``     the ledger holds a newer event of the
                        ``#sequencer < :sequencer``         object: this one is stale
ledger Put (transact)   ``attribute_not_exists(id)``        the object is known: a duplicate *or a
                                                            re-upload* (the article's flaw)
======================  ==================================  ======================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from s3ledger.events import ObjectEvent

__all__ = [
    "APPLIED",
    "AUDIT_POSITION",
    "DELETED",
    "LEDGER_POSITION",
    "PROCESSED",
    "SUPERSEDED",
    "audit_item",
    "audit_put",
    "from_attribute_value",
    "from_item",
    "inbox_actions",
    "ledger_item",
    "ledger_put",
    "ledger_update",
    "to_attribute_value",
    "to_item",
]

PROCESSED: Final = "processed"
DELETED: Final = "deleted"
APPLIED: Final = "applied"
SUPERSEDED: Final = "superseded"

# Positions of the two actions in the inbox transaction. CancellationReasons come back in request
# order, so these positions are how a cancellation is read.
AUDIT_POSITION: Final = 0
LEDGER_POSITION: Final = 1

AUDIT_IS_NEW: Final = "attribute_not_exists(event_id)"
LEDGER_IS_ABSENT: Final = "attribute_not_exists(id)"
LEDGER_IS_OLDER: Final = "attribute_not_exists(id) OR #sequencer < :sequencer"

# Ledger attributes that an event may lack (a delete has no size or eTag; an unversioned bucket
# no versionId). The ledger holds the latest state, so an absent value removes the old one.
_OPTIONAL_LEDGER_FIELDS: Final = ("size", "etag", "version_id")


def to_attribute_value(value: Any) -> dict[str, Any]:
    """Serialise a plain value into DynamoDB's AttributeValue shape."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, Mapping):
        return {"M": {k: to_attribute_value(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute_value(v) for v in value]}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


def from_attribute_value(value: Mapping[str, Any]) -> Any:
    """Read one AttributeValue back into a plain value (numbers become ``int`` where exact)."""
    ((kind, raw),) = value.items()
    if kind in {"S", "BOOL"}:
        return raw
    if kind == "NULL":
        return None
    if kind == "N":
        number = float(raw)
        return int(number) if number.is_integer() and "." not in raw else number
    if kind == "M":
        return {k: from_attribute_value(v) for k, v in raw.items()}
    if kind == "L":
        return [from_attribute_value(v) for v in raw]
    raise TypeError(f"unsupported AttributeValue type {kind}")


def to_item(attributes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: to_attribute_value(value) for name, value in attributes.items()}


def from_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: from_attribute_value(value) for name, value in item.items()}


def ledger_item(event: ObjectEvent) -> dict[str, Any]:
    """The ledger's view of an object after ``event``: its latest state."""
    item: dict[str, Any] = {
        "id": event.object_id,
        "bucket": event.bucket,
        "key": event.key,
        "status": DELETED if event.is_removal else PROCESSED,
        "sequencer": event.order_key,
        "last_event_id": event.event_id,
        "event_name": event.event_name,
        "event_time": event.event_time,
        "size": event.size,
        "etag": event.etag,
        "version_id": event.version_id,
    }
    return {name: value for name, value in item.items() if value is not None}


def audit_item(
    event: ObjectEvent, *, outcome: str, request_id: str, processed_at: str
) -> dict[str, Any]:
    """The audit log's record of one event: its lineage, and whether it moved the ledger."""
    return {
        "event_id": event.event_id,
        "object_id": event.object_id,
        "event_name": event.event_name,
        "sequencer": event.order_key,
        "event_time": event.event_time,
        "outcome": outcome,
        "request_id": request_id,
        "processed_at": processed_at,
    }


def audit_put(
    event: ObjectEvent,
    table: str,
    *,
    outcome: str,
    request_id: str,
    processed_at: str,
    only_if_new: bool,
) -> dict[str, Any]:
    """A Put of the audit item; with ``only_if_new`` it fails if the event was recorded before."""
    put: dict[str, Any] = {
        "TableName": table,
        "Item": to_item(
            audit_item(event, outcome=outcome, request_id=request_id, processed_at=processed_at)
        ),
    }
    if only_if_new:
        put["ConditionExpression"] = AUDIT_IS_NEW
    return put


def ledger_put(event: ObjectEvent, table: str, *, only_if_absent: bool) -> dict[str, Any]:
    """A Put of the whole ledger item, as the article writes it (``transact`` adds a condition)."""
    put: dict[str, Any] = {"TableName": table, "Item": to_item(ledger_item(event))}
    if only_if_absent:
        put["ConditionExpression"] = LEDGER_IS_ABSENT
    return put


def ledger_update(event: ObjectEvent, table: str) -> dict[str, Any]:
    """An Update of the ledger item, guarded so that only a newer event of the object applies."""
    state = ledger_item(event)
    state.pop("id")
    names = {f"#{name}": name for name in state}
    values = {f":{name}": to_attribute_value(value) for name, value in state.items()}
    expression = "SET " + ", ".join(f"#{name} = :{name}" for name in state)
    absent = [name for name in _OPTIONAL_LEDGER_FIELDS if name not in state]
    if absent:
        names.update({f"#{name}": name for name in absent})
        expression += " REMOVE " + ", ".join(f"#{name}" for name in absent)
    return {
        "TableName": table,
        "Key": {"id": {"S": event.object_id}},
        "UpdateExpression": expression,
        "ConditionExpression": LEDGER_IS_OLDER,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def inbox_actions(
    event: ObjectEvent,
    *,
    ledger_table: str,
    audit_table: str,
    request_id: str,
    processed_at: str,
) -> list[dict[str, Any]]:
    """The one transaction ``inbox`` sends per event: audit Put first, ledger Update second."""
    actions: list[dict[str, Any]] = [{}, {}]
    actions[AUDIT_POSITION] = {
        "Put": audit_put(
            event,
            audit_table,
            outcome=APPLIED,
            request_id=request_id,
            processed_at=processed_at,
            only_if_new=True,
        )
    }
    actions[LEDGER_POSITION] = {"Update": ledger_update(event, ledger_table)}
    return actions

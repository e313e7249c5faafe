"""Write units by DynamoDB's rule, from a request's items, and the capacity a response reports.

DynamoDB Local reports 2.0 write units per *table* of a transaction, however many items of that
table it holds, and nothing for a failed write: the bench also computes them by DynamoDB's item
size rules from each request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["action_units", "consumed_units", "item_size", "rule_write_units", "value_size"]

_KB: Final = 1024


def value_size(value: Mapping[str, Any]) -> int:  # noqa: PLR0911 -- one return per type
    """DynamoDB's size of one attribute value (typed JSON), as its item size rules count it."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return 1 + (len(digits) + 1) // 2
    if kind == "B":
        return len(data) if isinstance(data, bytes | bytearray) else len(str(data)) * 3 // 4
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in data)
    if kind in {"SS", "NS", "BS"}:
        return sum(value_size({kind[0]: member}) for member in data)
    return 0


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size: its attribute names' bytes plus its values' sizes."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def action_units(action: Mapping[str, Any]) -> int:
    """Write units of one item written by ``action`` (a PutItem/UpdateItem/DeleteItem request).

    A Put is sized by its item; an Update or Delete by its key, attribute names and values
    (the item it leaves behind is not in the request: a lower bound, exact for items ≤ 1 KB).
    """
    if "Item" in action:
        size = item_size(action["Item"])
    else:
        size = item_size(action.get("Key", {}))
        size += sum(len(n.encode()) for n in action.get("ExpressionAttributeNames", {}).values())
        size += sum(value_size(v) for v in action.get("ExpressionAttributeValues", {}).values())
    return max(1, math.ceil(size / _KB))


def rule_write_units(operation: str, params: Mapping[str, Any]) -> float:
    """Write units a committed request costs by DynamoDB's rule.

    1 unit per KB (rounded up) per item for a standard write, 2 per KB per item written in a
    transaction. Reads and non-write operations cost no write units.
    """
    if operation in {"PutItem", "UpdateItem", "DeleteItem"}:
        return float(action_units(params))
    if operation == "TransactWriteItems":
        return float(
            sum(
                2 * action_units(body)
                for action in params.get("TransactItems", [])
                for body in action.values()
            )
        )
    if operation == "BatchWriteItem":
        return float(
            sum(
                action_units(request.get("PutRequest") or request.get("DeleteRequest") or {})
                for requests in params.get("RequestItems", {}).values()
                for request in requests
            )
        )
    return 0.0


def consumed_units(parsed: Mapping[str, Any], *, writes: bool) -> tuple[float, float]:
    """(write, read) units in a response's ``ConsumedCapacity`` (one entry or a list).

    With ``TOTAL`` an entry names no kind, only ``CapacityUnits``: they are the operation's own
    kind (``writes`` for a write operation).
    """
    consumed = parsed.get("ConsumedCapacity")
    entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
    write = read = 0.0
    for entry in entries:
        write += float(entry.get("WriteCapacityUnits", 0.0))
        read += float(entry.get("ReadCapacityUnits", 0.0))
        if "WriteCapacityUnits" not in entry and "ReadCapacityUnits" not in entry:
            units = float(entry.get("CapacityUnits", 0.0))
            write, read = (write + units, read) if writes else (write, read + units)
    return write, read

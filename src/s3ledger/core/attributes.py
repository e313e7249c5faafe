"""DynamoDB's AttributeValue form, to and from plain Python values, without boto3.

boto3's TypeSerializer would bring the SDK into the core (and turns numbers into ``Decimal``):
these four functions cover the types the tables hold (strings, numbers, booleans, null, maps,
lists), and a number without a fraction reads back as an exact ``int``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type stubs only: the core imports no AWS SDK at run time
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

__all__ = ["from_attribute_value", "from_item", "to_attribute_value", "to_item"]


def to_attribute_value(value: Any) -> AttributeValueTypeDef:
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
    """Read one AttributeValue back into a plain value.

    A number without a fraction or exponent becomes an exact ``int`` (DynamoDB keeps 38 digits;
    going through ``float`` would round ``12345678901234567891``); any other a ``float``.
    """
    ((kind, raw),) = value.items()
    if kind in {"S", "BOOL"}:
        return raw
    if kind == "NULL":
        return None
    if kind == "N":
        text = str(raw)
        if not any(c in text for c in ".eE"):
            return int(text)
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    if kind == "M":
        return {k: from_attribute_value(v) for k, v in raw.items()}
    if kind == "L":
        return [from_attribute_value(v) for v in raw]
    raise TypeError(f"unsupported AttributeValue type {kind}")


def to_item(attributes: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    """Plain attributes in DynamoDB's AttributeValue form."""
    return {name: to_attribute_value(value) for name, value in attributes.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB's AttributeValue form (a read's, or one we built) as plain values."""
    return {name: from_attribute_value(value) for name, value in item.items()}

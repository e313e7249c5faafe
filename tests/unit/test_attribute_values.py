"""Reading DynamoDB's AttributeValues back into plain values (``core/ledger.py``).

Sizes and counters are DynamoDB numbers of up to 38 digits: read back, an integer must be the
exact ``int`` that was stored, never a float's approximation of it.
"""

from __future__ import annotations

from typing import Any

import pytest

from s3ledger.core.ledger import from_attribute_value, from_item, to_item


def test_a_twenty_digit_integer_is_read_back_exactly() -> None:
    """Through ``float`` this would be ``12345678901234567168``: the int must be exact."""
    value = from_attribute_value({"N": "12345678901234567891"})
    assert type(value) is int
    assert value == 12345678901234567891


def test_a_38_digit_integer_survives_a_round_trip() -> None:
    """DynamoDB's largest precision, stored and read back through the item helpers."""
    big = 10**37 + 1
    assert from_item(to_item({"size": big}))["size"] == big
    assert from_attribute_value({"N": "-98765432109876543210"}) == -98765432109876543210


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", 0),
        ("42", 42),
        ("1.5", 1.5),
        ("2.0", 2.0),  # written with a fraction: stays a float
        ("1e3", 1000),  # an exponent without a fraction that lands on a whole number
        ("2.5E-1", 0.25),
    ],
)
def test_numbers_keep_their_kind(raw: str, expected: float) -> None:
    """Whole numbers become ``int``; numbers written with a fraction or a fractional result stay
    ``float``."""
    value = from_attribute_value({"N": raw})
    assert value == expected
    assert type(value) is type(expected)


def test_nested_values_round_trip() -> None:
    """Strings, booleans, null, maps and lists come back as they went in."""
    plain: dict[str, Any] = {
        "s": "café",
        "b": False,
        "n": None,
        "m": {"size": 12345678901234567891, "tags": ["a", 1]},
    }
    assert from_item(to_item(plain)) == plain


def test_an_unknown_attribute_type_is_refused() -> None:
    with pytest.raises(TypeError, match="unsupported AttributeValue type SS"):
        from_attribute_value({"SS": ["a"]})

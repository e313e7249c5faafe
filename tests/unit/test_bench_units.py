"""The bench's arithmetic: write units by DynamoDB's rule, and figures summed over rounds."""

from __future__ import annotations

import pytest

from s3ledger.bench.meters import MeterTotals
from s3ledger.bench.phases import Phase
from s3ledger.bench.units import consumed_units, rule_write_units


def _item(size: int) -> dict[str, dict[str, str]]:
    """An item of exactly ``size`` bytes by DynamoDB's rule (name bytes + value bytes)."""
    return {"id": {"S": "k"}, "blob": {"S": "x" * (size - len("id") - 1 - len("blob"))}}


@pytest.mark.parametrize(
    ("size", "units"),
    [(100, 1.0), (1024, 1.0), (1025, 2.0), (3000, 3.0)],
)
def test_a_put_costs_one_unit_per_kilobyte_rounded_up(size: int, units: float) -> None:
    """PutItem: 1 unit per started KB of the item."""
    assert rule_write_units("PutItem", {"TableName": "t", "Item": _item(size)}) == units


def test_a_transaction_costs_two_units_per_kilobyte_per_item() -> None:
    """TransactWriteItems: 2 units per started KB of each item it writes."""
    params = {
        "TransactItems": [
            {"Put": {"TableName": "audit", "Item": _item(200)}},
            {"Put": {"TableName": "ledger", "Item": _item(1500)}},
        ]
    }
    assert rule_write_units("TransactWriteItems", params) == 2.0 + 4.0


@pytest.mark.parametrize(
    ("consumed", "writes", "expected"),
    [
        ({"TableName": "audit", "CapacityUnits": 2.0}, True, (2.0, 0.0)),
        ([{"TableName": "audit", "CapacityUnits": 4.5}], False, (0.0, 4.5)),
        ({"ReadCapacityUnits": 1.0, "WriteCapacityUnits": 3.0}, True, (3.0, 1.0)),
        (None, False, (0.0, 0.0)),
    ],
    ids=["total-of-a-write", "total-of-a-batch-read", "indexes-named", "none"],
)
def test_consumed_capacity_is_read_by_the_operations_kind(
    consumed: object, writes: bool, expected: tuple[float, float]
) -> None:
    """``TOTAL`` names no kind: a BatchGetItem's CapacityUnits are reads, a write's are writes."""
    assert consumed_units({"ConsumedCapacity": consumed}, writes=writes) == expected


def test_an_update_is_sized_by_its_key_names_and_values() -> None:
    """UpdateItem: the request's key, attribute names and values (a lower bound of the item)."""
    params = {
        "TableName": "ledger",
        "Key": {"id": {"S": "bucket/key"}},
        "UpdateExpression": "SET #s = :s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": "y" * 2000}},
    }
    assert rule_write_units("UpdateItem", params) == 2.0


def test_a_batch_write_costs_each_put_and_delete_and_a_read_costs_nothing() -> None:
    """BatchWriteItem: each request's item (or key); reads cost no write units."""
    params = {
        "RequestItems": {
            "t": [
                {"PutRequest": {"Item": _item(100)}},
                {"PutRequest": {"Item": _item(2000)}},
                {"DeleteRequest": {"Key": {"id": {"S": "k"}}}},
            ]
        }
    }
    assert rule_write_units("BatchWriteItem", params) == 1.0 + 2.0 + 1.0
    assert rule_write_units("GetItem", {"TableName": "t", "Key": {"id": {"S": "k"}}}) == 0.0


def test_meter_totals_sum_over_rounds_and_subtract_back() -> None:
    """Summing two rounds' totals, then taking one away, leaves the other round's."""
    first = MeterTotals(
        requests=3,
        api_calls=3,
        write_units_reported=6.0,
        write_units_rule=6.0,
        call_ms=(1.0, 2.0, 3.0),
        operations={"PutItem": 2, "UpdateItem": 1},
    )
    second = MeterTotals(
        requests=1, api_calls=1, write_units_rule=4.0, call_ms=(5.0,), operations={"PutItem": 1}
    )
    total = first + second
    assert (total.requests, total.api_calls, total.write_units_rule) == (4, 4, 10.0)
    assert total.call_ms == (1.0, 2.0, 3.0, 5.0)
    assert total.operations == {"PutItem": 3, "UpdateItem": 1}
    back = total - first
    assert (back.requests, back.write_units_rule, back.call_ms) == (1, 4.0, (5.0,))
    assert back.operations == {"PutItem": 1}


def test_a_phase_over_two_rounds_adds_time_events_and_each_process_cpu() -> None:
    """Seconds, events, invocations and per-process CPU add up; drained only if every round
    drained."""
    one = Phase(
        seconds=2.0,
        drained=True,
        meter=MeterTotals(requests=10),
        samples_ms=[1.0, 2.0],
        cpu_seconds=0.5,
        handled=2,
        invocations=1,
        process_cpu_seconds={"dynamodb_local": 1.0, "moto": 0.25},
    )
    two = Phase(
        seconds=3.0,
        drained=False,
        meter=MeterTotals(requests=5),
        samples_ms=[4.0],
        cpu_seconds=0.25,
        handled=1,
        invocations=1,
        process_cpu_seconds={"dynamodb_local": 2.0, "bench": 0.5},
    )
    total = Phase.total([one, two])
    assert (total.seconds, total.handled, total.cpu_seconds) == (5.0, 3, 0.75)
    assert total.invocations == 2
    assert total.samples_ms == [1.0, 2.0, 4.0]
    assert total.meter.requests == 15
    assert total.process_cpu_seconds == {"dynamodb_local": 3.0, "moto": 0.25, "bench": 0.5}
    assert total.drained is False

"""One rule, two statements: DynamoDB's evaluation of the ledger's ordering condition agrees
with ``s3ledger.core.order.is_newer`` on every combination of ledger marks and event."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3ledger.core import ledger
from s3ledger.core.events import ObjectEvent
from s3ledger.core.order import LedgerMarks, is_newer
from tests.support.tables import TableNames, create_tables, delete_tables

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Few distinct values, so ties (equal times, equal sequencers) are common.
TIMES = st.sampled_from(
    ["2026-11-26T10:00:00.000Z", "2026-11-26T10:00:00.001Z", "2026-11-26T10:00:01.000Z"]
)
SEQUENCERS = st.sampled_from(["0062E99A88DC407460", "0062E99A88DC4075", "0062E99A88DC40", "01"])
DIGESTS = st.sampled_from(["a", "b"])


@pytest.fixture(scope="module")
def tables(dynamodb_client: DynamoDBClient) -> Iterator[TableNames]:
    names = create_tables(dynamodb_client)
    try:
        yield names
    finally:
        delete_tables(dynamodb_client, names)


@st.composite
def events(draw: st.DrawFn) -> ObjectEvent:
    time = draw(TIMES)
    if draw(st.booleans()):
        return ObjectEvent("b", "k", "ObjectCreated:Put", time, sequencer=draw(SEQUENCERS))
    return ObjectEvent(
        "b", "k", "LifecycleExpiration:DeleteMarkerCreated", time, identity=draw(DIGESTS)
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=st.lists(events(), min_size=0, max_size=3), event=events())
def test_dynamodb_and_python_agree_on_newer(
    dynamodb_client: DynamoDBClient,
    tables: TableNames,
    history: list[ObjectEvent],
    event: ObjectEvent,
) -> None:
    """Build a ledger item from a history (each step applied only if Python says newer), then
    send the event's conditional Update: DynamoDB applies it exactly when Python says newer."""
    marks: LedgerMarks | None = None
    item: dict[str, object] | None = None
    for step in history:
        if is_newer(step.order, marks):
            marks = (marks or LedgerMarks(None, None, "")).after(step.order)
            item = {"id": "b/k", "event_time": marks.event_time, "last_event_id": step.event_id}
            if marks.sequencer is not None:
                item["sequencer"] = marks.sequencer
            if marks.time_mark is not None:
                item["time_mark"] = marks.time_mark
    dynamodb_client.delete_item(TableName=tables.ledger, Key={"id": {"S": "b/k"}})
    if item is not None:
        dynamodb_client.put_item(TableName=tables.ledger, Item=ledger.to_item(item))

    try:
        dynamodb_client.update_item(**ledger.ledger_update(event, tables.ledger))
        applied = True
    except dynamodb_client.exceptions.ConditionalCheckFailedException:
        applied = False

    assert applied == is_newer(event.order, marks), (marks, event.order)

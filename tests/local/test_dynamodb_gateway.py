"""The DynamoDB gateway's operations against DynamoDB Local: a failed condition answers with the
item it failed on, and a batched read asks again for the keys DynamoDB left unprocessed.

DynamoDB Local never leaves keys unprocessed; DynamoDB does when it throttles a batch, answering
200 with the keys in ``UnprocessedKeys`` (BatchGetItem, API Reference). That answer is made here at
the HTTP layer, in DynamoDB's own JSON shape, before the request leaves botocore; every other
request reaches DynamoDB Local.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders

from s3ledger.core.config import RetryPolicy
from s3ledger.core.errors import TransientReadError
from s3ledger.core.ledger import to_item
from s3ledger.pipeline.dynamodb import (
    WRITTEN,
    ConditionFailed,
    batch_get,
    get_items,
    put_item,
    update_item,
)
from s3ledger.workbench.dynamodb_local import dynamodb_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tests.support.tables import TableNames


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Any:
        yield self._payload


class UnprocessedAnswers:
    """Answers the next ``times`` BatchGetItem requests with every key unprocessed."""

    def __init__(self, client: DynamoDBClient, times: int) -> None:
        self.remaining = times
        self.requests = 0
        # botocore uses a non-None answer of a before-send handler as the HTTP response.
        client.meta.events.register("before-send.dynamodb.BatchGetItem", self)

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        self.requests += 1
        if self.remaining == 0:
            return None
        self.remaining -= 1
        asked = json.loads(request.body or b"{}")["RequestItems"]
        body = json.dumps({"Responses": {}, "UnprocessedKeys": asked}).encode()
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(request.url, 200, headers, _Body(body))


@pytest.fixture
def client(dynamodb_endpoint: str) -> DynamoDBClient:
    """A client of its own: the hooks a test registers die with it."""
    return dynamodb_client(dynamodb_endpoint)


def ledger_put(table: str, object_id: str, marker: str) -> Any:
    return {
        "TableName": table,
        "Item": to_item({"id": object_id, "last_event_id": marker}),
        "ConditionExpression": "attribute_not_exists(id)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def test_a_failed_put_condition_answers_with_the_item_it_failed_on(
    client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """The first conditional Put writes; the second fails on the first one's item, no error."""
    assert put_item(client, ledger_put(fresh_tables.ledger, "b/k", "first")) is WRITTEN
    failed = put_item(client, ledger_put(fresh_tables.ledger, "b/k", "second"))
    assert failed == ConditionFailed({"id": "b/k", "last_event_id": "first"}, resent=False)


def test_a_failed_update_condition_answers_with_the_item_it_failed_on(
    client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """An Update pinned to another last event fails on the item as it stands."""
    put_item(client, ledger_put(fresh_tables.ledger, "b/k", "first"))
    update: Any = {
        "TableName": fresh_tables.ledger,
        "Key": {"id": {"S": "b/k"}},
        "UpdateExpression": "SET #last_event_id = :next",
        "ConditionExpression": "#last_event_id = :pinned",
        "ExpressionAttributeNames": {"#last_event_id": "last_event_id"},
        "ExpressionAttributeValues": {":next": {"S": "next"}, ":pinned": {"S": "other"}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    assert update_item(client, update) == ConditionFailed({"id": "b/k", "last_event_id": "first"})
    update["ExpressionAttributeValues"][":pinned"] = {"S": "first"}
    assert update_item(client, update) is WRITTEN


def test_unprocessed_keys_are_asked_for_again_after_growing_pauses(
    client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """Two answers with every key unprocessed, then DynamoDB Local's: three requests, two
    pauses by the policy's full-jitter ceilings, and every item found."""
    for n in range(3):
        put_item(client, ledger_put(fresh_tables.ledger, f"b/{n}", "e"))
    answers = UnprocessedAnswers(client, times=2)
    pauses: list[float] = []
    keys: Any = [{"id": {"S": f"b/{n}"}} for n in range(4)]
    found = batch_get(
        client,
        {fresh_tables.ledger: {"Keys": keys, "ConsistentRead": True}},
        what="read",
        sleep=pauses.append,
        draw=lambda: 1.0,
    )
    assert sorted(item["id"] for item in found[fresh_tables.ledger]) == ["b/0", "b/1", "b/2"]
    assert answers.requests == 3
    assert pauses == pytest.approx([0.05, 0.1])


def test_keys_still_unprocessed_after_the_attempts_are_a_retryable_error(
    client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """Every answer unprocessed: exactly ``attempts`` requests, then ``TransientReadError`` (the
    message comes back), never an empty answer taken for "no item"."""
    answers = UnprocessedAnswers(client, times=99)
    with pytest.raises(TransientReadError, match="read: BatchGetItem left keys unprocessed"):
        batch_get(
            client,
            {fresh_tables.ledger: {"Keys": [{"id": {"S": "b/0"}}], "ConsistentRead": True}},
            what="read",
            retry=RetryPolicy(attempts=3),
            sleep=lambda _: None,
        )
    assert answers.requests == 3


def test_get_items_reads_any_number_of_ids_100_a_request(
    client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """250 ids (two of them repeated, 20 absent) take three requests; absent ids are absent."""
    for n in range(230):
        put_item(client, ledger_put(fresh_tables.ledger, f"b/{n}", "e"))
    answers = UnprocessedAnswers(client, times=0)
    ids = [f"b/{n}" for n in range(250)] + ["b/0", "b/1"]
    found = get_items(client, fresh_tables.ledger, "id", ids)
    assert sorted(found) == sorted(f"b/{n}" for n in range(230))
    assert answers.requests == 3

"""A table's write history, read from its DynamoDB stream (the checker's second witness).

A stream records every *change* to an item (INSERT, MODIFY, REMOVE) with its images. A write that
changes nothing (an identical rewrite) leaves no record, on AWS as on DynamoDB Local.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["stream_records"]


def stream_records(streams: Any, client: DynamoDBClient, table: str) -> Iterator[dict[str, Any]]:
    """Every record of ``table``'s stream, from TRIM_HORIZON, shard by shard (parents first).

    ``streams`` is a boto3 ``dynamodbstreams`` client on the same endpoint. Each shard is read
    until a page comes back empty: right for DynamoDB Local, where a record is readable as soon
    as its write returns; real DynamoDB may return empty pages first, so this is a workbench
    reader, not a general consumer.
    """
    stream_arn = client.describe_table(TableName=table)["Table"].get("LatestStreamArn")
    if not stream_arn:
        raise ValueError(f"table {table} has no stream")
    shards: list[dict[str, Any]] = []
    start: dict[str, str] = {}
    while True:
        description = streams.describe_stream(StreamArn=stream_arn, **start)["StreamDescription"]
        shards.extend(description.get("Shards", []))
        last = description.get("LastEvaluatedShardId")
        if not last:
            break
        start = {"ExclusiveStartShardId": last}
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        ).get("ShardIterator")
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records = page.get("Records", [])
            if not records:
                break
            yield from records
            iterator = page.get("NextShardIterator")

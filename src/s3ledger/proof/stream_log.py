"""A table's stream log: every change DynamoDB Streams recorded (the checker's second witness).

"History" in the proof means the workload's generated events; this module is about streams.

A stream records every *change* to an item (INSERT, MODIFY, REMOVE) with its images. A write that
changes nothing (an identical rewrite) leaves no record, on AWS as on DynamoDB Local.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["StreamCursor", "stream_records"]


def stream_records(streams: Any, client: DynamoDBClient, table: str) -> Iterator[dict[str, Any]]:
    """Every record of ``table``'s stream, from TRIM_HORIZON, shard by shard (parents first).

    ``streams`` is a boto3 ``dynamodbstreams`` client on the same endpoint. Each shard is read
    until a page comes back empty: right for DynamoDB Local, where a record is readable as soon
    as its write returns; real DynamoDB may return empty pages first, so this is a workbench
    reader, not a general consumer.
    """
    yield from StreamCursor(streams, client, table).read()


class StreamCursor:
    """Reads a table's stream in instalments: each ``read()`` returns what came since the last.

    It remembers the last sequence number per shard (not a shard iterator, which expires), so a
    long run can read its log round by round with bounded memory.
    """

    def __init__(self, streams: Any, client: DynamoDBClient, table: str) -> None:
        arn = client.describe_table(TableName=table)["Table"].get("LatestStreamArn")
        if not arn:
            raise ValueError(f"table {table} has no stream")
        self._streams = streams
        self._arn: str = arn
        self._last: dict[str, str] = {}

    def read(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        shards: list[dict[str, Any]] = []
        start: dict[str, str] = {}
        while True:
            description = self._streams.describe_stream(StreamArn=self._arn, **start)[
                "StreamDescription"
            ]
            shards.extend(description.get("Shards", []))
            if not description.get("LastEvaluatedShardId"):
                break
            start = {"ExclusiveStartShardId": description["LastEvaluatedShardId"]}
        for shard in shards:
            shard_id = shard["ShardId"]
            position: dict[str, str] = (
                {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "SequenceNumber": self._last[shard_id],
                }
                if shard_id in self._last
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = self._streams.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard_id, **position
            ).get("ShardIterator")
            while iterator:
                page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                batch = page.get("Records", [])
                if not batch:
                    break
                records.extend(batch)
                self._last[shard_id] = batch[-1]["dynamodb"]["SequenceNumber"]
                iterator = page.get("NextShardIterator")
        return records

"""The bulk engine's reads: ledger items by id (``BatchGetItem``, 100 keys a request) and the
current state of a batch of keys from one walk of ``ListObjectVersions`` over their range.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core.config import RetryPolicy
from s3ledger.core.errors import RetryableError
from s3ledger.core.ledger import PROCESSED, ObjectState, audit_key, from_item, version_of
from s3ledger.core.order import normalize_event_time
from s3ledger.pipeline.bucket import S3VersionsReader, server_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "BATCH_GET_LIMIT",
    "get_audit_items",
    "get_items",
    "listed_state",
    "listed_states",
    "processed_page",
]

# BatchGetItem takes at most 100 keys (DynamoDB API Reference, BatchGetItem).
BATCH_GET_LIMIT: Final = 100
# Unprocessed keys are asked for again with the handler's backoff (full jitter), just more often.
_UNPROCESSED_RETRY = RetryPolicy(attempts=8)
_PAGE: Final = 1000


def get_items(
    client: DynamoDBClient, table: str, key: str, ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The items whose ``key`` attribute (the table's only key) is one of ``ids`` (consistent
    reads), by id. Absent ids are simply missing from the answer."""
    return _batch_get(client, table, key, [{key: {"S": i}} for i in dict.fromkeys(ids)])


def get_audit_items(
    client: DynamoDBClient, table: str, event_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The audit items of ``event_ids`` (consistent reads), by event id."""
    keys = [audit_key(event_id) for event_id in dict.fromkeys(event_ids)]
    return _batch_get(client, table, "event_id", keys)


def _batch_get(
    client: DynamoDBClient, table: str, id_attribute: str, keys: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``BatchGetItem`` of ``keys``, 100 at a time, by ``id_attribute``.

    Throttled keys come back as UnprocessedKeys, not as an error, so only they are asked for
    again, after a jittered, growing pause.
    """
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {
            table: {"Keys": keys[start : start + BATCH_GET_LIMIT], "ConsistentRead": True}
        }
        for attempt in range(_UNPROCESSED_RETRY.attempts):
            response = client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(table, []):
                item = from_item(raw)
                found[item[id_attribute]] = item
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                break
            jitter = random.random()  # noqa: S311 -- a pause, not a secret
            time.sleep(_UNPROCESSED_RETRY.delay(attempt, jitter))
        else:
            raise RetryableError(
                f"{table}: BatchGetItem left keys unprocessed after "
                f"{_UNPROCESSED_RETRY.attempts} attempts"
            )
    return found


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return normalize_event_time(value.isoformat() if hasattr(value, "isoformat") else str(value))


def listed_state(entry: Mapping[str, Any], as_of: str | None) -> ObjectState:
    """The state a listing's entry of a version (or of an unversioned object) says."""
    etag = entry.get("ETag")
    return ObjectState(
        exists=True,
        version_id=version_of(entry.get("VersionId")),
        etag=None if etag is None else str(etag).strip('"'),
        size=entry.get("Size"),
        last_modified=_iso(entry.get("LastModified")),
        as_of=as_of,
    )


def _latest(page: Mapping[str, Any], wanted: set[str], as_of: str | None) -> dict[str, ObjectState]:
    """The latest entry of each wanted key on one ListObjectVersions page."""
    states: dict[str, ObjectState] = {}
    for version in page.get("Versions") or []:
        if version.get("IsLatest") and version["Key"] in wanted:
            states[version["Key"]] = listed_state(version, as_of)
    for marker in page.get("DeleteMarkers") or []:
        if marker.get("IsLatest") and marker["Key"] in wanted:
            states[marker["Key"]] = ObjectState.gone(_iso(marker.get("LastModified")), as_of)
    return states


def listed_states(s3: S3Client, bucket: str, keys: Sequence[str]) -> dict[str, ObjectState]:
    """The current state of each of ``keys`` (a batch of a listing: neighbours in key order),
    from one ``ListObjectVersions`` walk from just before the first key to past the last.

    A Distributed Map's listing (``ItemReader`` over ``ListObjectsV2``) gives neither version
    ids nor S3's clock at the read; this walk gives both, at about one request per 1,000 keys,
    and works whether versioning is on or not (an unversioned object's version is ``null``).
    Each key's latest entry comes first ("ordered first by key and then by version"): a version
    (the object), a delete marker (deleted).
    """
    wanted = set(keys)
    if not wanted:
        return {}
    first, last = min(wanted), max(wanted)
    request: dict[str, Any] = {
        "Bucket": bucket,
        # Character by character on purpose: S3 prefixes are strings, not paths.
        "Prefix": os.path.commonprefix([first, last]),  # noqa: RUF071
        "MaxKeys": _PAGE,
    }
    if first[:-1]:
        request["KeyMarker"] = first[:-1]  # keys sort after their own prefixes: first is next
    states: dict[str, ObjectState] = {}
    while True:
        page = s3.list_object_versions(**request)
        as_of = server_time(page)
        states.update(_latest(page, wanted - states.keys(), as_of))
        following = page.get("NextKeyMarker")
        if not page.get("IsTruncated") or following is None or following > last:
            break
        request["KeyMarker"] = following
        request.pop("VersionIdMarker", None)
        if page.get("NextVersionIdMarker"):
            request["VersionIdMarker"] = page["NextVersionIdMarker"]
    # A key the walk did not meet is read on its own (deleted since it was listed, as a rule):
    # never presumed gone. This also keeps the walk right whatever an emulator makes of a
    # KeyMarker that is no key (moto 5.2.5 drops the first version after it).
    reader = S3VersionsReader(s3)
    for key in wanted - states.keys():
        states[key] = reader.current(bucket, key)
    return states


def processed_page(
    dynamodb: DynamoDBClient,
    table: str,
    bucket: str,
    *,
    prefix: str = "",
    segment: int = 0,
    segments: int = 1,
    start_key: Mapping[str, Any] | None = None,
    limit: int = 1000,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of one segment of a scan for this bucket's ``processed`` ledger items (keys
    under ``prefix``; consistent reads, so a first pass's repairs are seen), and the key to go
    on from (``None``: the segment is done). ``limit`` bounds the items *read*, before the filter
    (DynamoDB API Reference, Scan)."""
    request: dict[str, Any] = {
        "TableName": table,
        "ConsistentRead": True,
        "Limit": limit,
        "FilterExpression": (
            "#bucket = :bucket AND #status = :processed AND begins_with(#key, :prefix)"
        ),
        "ExpressionAttributeNames": {"#bucket": "bucket", "#status": "status", "#key": "key"},
        "ExpressionAttributeValues": {
            ":bucket": {"S": bucket},
            ":processed": {"S": PROCESSED},
            ":prefix": {"S": prefix},
        },
    }
    if segments > 1:
        request.update(Segment=segment, TotalSegments=segments)
    if start_key:
        request["ExclusiveStartKey"] = dict(start_key)
    page = dynamodb.scan(**request)
    following = page.get("LastEvaluatedKey")
    return [from_item(raw) for raw in page.get("Items", [])], dict(following) if following else None

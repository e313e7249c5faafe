"""The bulk engine's reads: the current state of a batch of keys from one walk of
``ListObjectVersions`` over their range, and a page of a bucket's ``processed`` ledger items.
(Ledger items by id: :func:`s3ledger.pipeline.dynamodb.get_items`.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core.ledger import PROCESSED, ObjectState
from s3ledger.pipeline.bucket import S3VersionsReader, iso_time, listed_state, server_time
from s3ledger.pipeline.dynamodb import pages

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = ["listed_states", "processed_page"]

_PAGE: Final = 1000


def _latest(page: Mapping[str, Any], wanted: set[str], as_of: str | None) -> dict[str, ObjectState]:
    """The latest entry of each wanted key on one ListObjectVersions page."""
    states: dict[str, ObjectState] = {}
    for version in page.get("Versions") or []:
        if version.get("IsLatest") and version["Key"] in wanted:
            states[version["Key"]] = listed_state(version, as_of)
    for marker in page.get("DeleteMarkers") or []:
        if marker.get("IsLatest") and marker["Key"] in wanted:
            states[marker["Key"]] = ObjectState.gone(iso_time(marker.get("LastModified")), as_of)
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
    page = next(pages(dynamodb.scan, request, start_key))
    return page.items, page.following

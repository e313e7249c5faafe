"""Reading both sides a page at a time: the bucket's latest states (a listing) and the ledger's
items (batch reads, and a scan of one bucket's ``processed`` items).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from s3ledger.core.ledger import ObjectState
from s3ledger.pipeline.bucket import iso_time, listed_state
from s3ledger.pipeline.bulk.reads import processed_page

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


__all__ = ["is_versioned", "listed_pages", "processed_pages"]

# ----------------------------------------------------------------------------------- S3 side


def is_versioned(s3: S3Client, bucket: str) -> bool:
    # Suspended still counts: versions and delete markers written while it was on remain.
    return s3.get_bucket_versioning(Bucket=bucket).get("Status") in {"Enabled", "Suspended"}


def listed_pages(
    s3: S3Client, bucket: str, *, versioned: bool, page_size: int, prefix: str = ""
) -> Iterator[dict[str, ObjectState]]:
    """The bucket's keys (under ``prefix``) and their latest state, one listing page at a time."""
    if not versioned:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
        ):
            yield {obj["Key"]: listed_state(obj, None) for obj in page.get("Contents") or []}
        return
    for version_page in s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    ):
        # Each key has exactly one IsLatest entry, a version or a delete marker; older
        # versions (possibly on the next page) say nothing about the current state.
        states: dict[str, ObjectState] = {}
        for version in version_page.get("Versions") or []:
            if version.get("IsLatest"):
                states[version["Key"]] = listed_state(version, None)
        for marker in version_page.get("DeleteMarkers") or []:
            if marker.get("IsLatest"):
                states[marker["Key"]] = ObjectState.gone(iso_time(marker.get("LastModified")))
        yield states


# ----------------------------------------------------------------------------- DynamoDB side


def processed_pages(
    dynamodb: DynamoDBClient, table: str, bucket: str, page_size: int, prefix: str = ""
) -> Iterator[list[dict[str, Any]]]:
    """This bucket's ``processed`` ledger items (keys under ``prefix``), one scan page at a time
    (consistent reads, so the first pass's repairs are seen)."""
    start: dict[str, Any] | None = None
    while True:
        items, start = processed_page(
            dynamodb, table, bucket, prefix=prefix, start_key=start, limit=page_size
        )
        yield items
        if start is None:
            return

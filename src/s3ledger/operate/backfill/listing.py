"""Listing a bucket's current versions, page by page, and the units a listing is split into.

**From a listing** (default): the key space under ``--prefix`` is split at its first delimiter
level (``Delimiter="/"``): each common prefix is one unit, listed in full by one of ``workers``
threads, and the objects directly under the prefix are one more unit. Listing is
``ListObjectVersions`` when versioning is or was on, ``ListObjectsV2`` otherwise (at most 1,000
keys a call). A checkpoint file (JSON) records the units finished and, for each unit in
progress, the last key whose page was fully written; after Ctrl-C (or a crash) the next run
with the same file resumes each unit after that key (``StartAfter``/``KeyMarker``) and skips the
finished ones. It holds only bucket, prefix, source, finished units and last keys, never object
data. A checkpoint of a completed run is removed; a second run without one lists everything
again and, because of the pin, writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core.ledger import ObjectState
from s3ledger.pipeline.bucket import listed_state, server_time

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["ROOT_UNIT", "list_page", "listing_units"]

# The unit of the objects directly under the prefix (listed with the delimiter).
ROOT_UNIT: Final = ""


def list_page(
    s3: S3Client,
    bucket: str,
    *,
    versioned: bool,
    prefix: str,
    delimiter: str | None,
    after: str | None,
    token: Mapping[str, Any] | None,
    page_size: int,
) -> tuple[dict[str, ObjectState], list[str], dict[str, Any] | None]:
    """One listing page: current versions by key, common prefixes, the next page's markers."""
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
    if delimiter:
        request["Delimiter"] = delimiter
    states: dict[str, ObjectState] = {}
    if not versioned:
        if token:
            request.update(token)
        elif after:
            request["StartAfter"] = after
        page: Mapping[str, Any] = s3.list_objects_v2(**request)
        as_of = server_time(page)
        for obj in page.get("Contents") or []:
            states[obj["Key"]] = listed_state(obj, as_of)
        following = (
            {"ContinuationToken": page["NextContinuationToken"]}
            if page.get("IsTruncated")
            else None
        )
    else:
        if token:
            request.update(token)
        elif after:
            request["KeyMarker"] = after
        page = s3.list_object_versions(**request)
        as_of = server_time(page)
        for version in page.get("Versions") or []:
            if version.get("IsLatest"):
                states[version["Key"]] = listed_state(version, as_of)
        following = None
        if page.get("IsTruncated"):
            following = {"KeyMarker": page.get("NextKeyMarker")}
            if page.get("NextVersionIdMarker"):
                following["VersionIdMarker"] = page["NextVersionIdMarker"]
    prefixes = [p["Prefix"] for p in page.get("CommonPrefixes") or []]
    return states, prefixes, following


def listing_units(s3: S3Client, bucket: str, prefix: str, *, versioned: bool) -> list[str]:
    """The first delimiter level under ``prefix``: its common prefixes, and the root unit."""
    units: list[str] = [ROOT_UNIT]
    token: dict[str, Any] | None = None
    while True:
        _, prefixes, token = list_page(
            s3,
            bucket,
            versioned=versioned,
            prefix=prefix,
            delimiter="/",
            after=None,
            token=token,
            page_size=1000,
        )
        units.extend(prefixes)
        if token is None:
            return units

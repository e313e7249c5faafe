"""The benchmark's buckets: N objects under 20 prefixes, and a CSV S3 Inventory report of them in
the documented format (gzip, no header, URL-encoded keys, ``files`` of 500 rows)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final
from urllib.parse import quote_plus

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["fill_bucket", "write_csv_inventory"]

_ROWS_PER_FILE: Final = 500
_PREFIXES: Final = 20


def fill_bucket(s3: S3Client, bucket: str, objects: int, *, prefix: str) -> None:
    """``objects`` objects under ``prefix``00/ .. ``prefix``19/; no notification (the bench
    measures backfills, not the live pipeline)."""
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})

    def put(index: int) -> None:
        key = f"{prefix}{index % _PREFIXES:02d}/object {index:07d}.bin"
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * (index % 100))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, range(objects)))


def write_csv_inventory(s3: S3Client, bucket: str) -> str:
    """A CSV inventory report of ``bucket`` (current versions) in ``bucket`` itself, under
    ``inventory/``, which the backfill's listing never sees (it reads the manifest only)."""
    rows: list[list[str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions") or []:
            rows.append(
                [
                    bucket,
                    quote_plus(entry["Key"], safe="/"),
                    entry["VersionId"],
                    str(entry["IsLatest"]).lower(),
                    "false",
                    str(entry["Size"]),
                    entry["LastModified"].isoformat(),
                    entry["ETag"].strip('"'),
                ]
            )
    files = []
    for start in range(0, len(rows), _ROWS_PER_FILE):
        text = io.StringIO()
        csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
            rows[start : start + _ROWS_PER_FILE]
        )
        body = gzip.compress(text.getvalue().encode())
        key = f"inventory/data/part-{start // _ROWS_PER_FILE:05d}.csv.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        files.append({"key": key, "size": len(body), "MD5checksum": ""})
    manifest = {
        "sourceBucket": bucket,
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(time.time() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, "
        "LastModifiedDate, ETag",
        "files": files,
    }
    s3.put_object(Bucket=bucket, Key="inventory/manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{bucket}/inventory/manifest.json"

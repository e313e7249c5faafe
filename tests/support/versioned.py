"""Real versioned histories on the workbench's S3, with the notification record of each request.

Each method performs one real request on moto (a versioned bucket) and returns the S3 event
record AWS documents for it (*Event message structure*; removals per *Deleting object versions*
and *Working with delete markers*; lifecycle per *Configuring S3 Lifecycle event notifications*),
built from what S3 answered (version ids, eTags). Sequencers grow in request order and differ in
length, as S3's do; lifecycle records carry none. The truth a test checks against is the bucket's
own state afterwards (what a GET without a version id returns), never this module's idea of it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from s3ledger.core.ledger import ObjectState, version_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["VersionedKey", "bucket_state"]

_BASE_SECONDS = 10 * 3600


def bucket_state(s3: S3Client, bucket: str, key: str) -> ObjectState:
    """What a GET without a version id returns, asked with HeadObject (a different API from the
    product's ListObjectVersions, so the two cannot share a mistake)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
            return ObjectState.gone()
        raise
    return ObjectState(
        True,
        version_of(head.get("VersionId")),
        head["ETag"].strip('"'),
        head["ContentLength"],
    )


@dataclass
class VersionedKey:
    """One key of a versioned bucket, and the records of the requests made on it."""

    s3: S3Client
    bucket: str
    key: str
    records: list[dict[str, Any]] = field(default_factory=list)
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _record(
        self, name: str, obj: dict[str, Any], *, sequenced: bool = True, principal: str = ""
    ) -> dict[str, Any]:
        tick = next(self._clock)
        seconds = _BASE_SECONDS + tick
        time = f"2026-11-26T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.000Z"
        if sequenced:
            # 16 hex digits that grow, every other one with two more: right-padding orders them.
            value = 0x0062E99A88DC4000 + tick
            obj["sequencer"] = f"{value:016X}" + ("60" if tick % 2 else "")
        record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": time,
            "eventName": name,
            "userIdentity": {"principalId": principal or "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": principal or "127.0.0.1"},
            "responseElements": {"x-amz-request-id": f"REQ{tick:013d}"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "bucket": {"name": self.bucket, "arn": f"arn:aws:s3:::{self.bucket}"},
                "object": {"key": quote_plus(self.key), **obj},
            },
        }
        self.records.append(record)
        return record

    def put(self, body: bytes) -> str:
        answer = self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=body)
        version = answer["VersionId"]
        self._record(
            "ObjectCreated:Put",
            {"size": len(body), "eTag": answer["ETag"].strip('"'), "versionId": version},
        )
        return version

    def delete(self) -> str:
        """DeleteObject without a version id: a delete marker."""
        marker = self.s3.delete_object(Bucket=self.bucket, Key=self.key)["VersionId"]
        self._record("ObjectRemoved:DeleteMarkerCreated", {"versionId": marker})
        return marker

    def delete_version(self, version_id: str) -> None:
        """DeleteObject with a version id: that version (or delete marker) is gone for good."""
        self.s3.delete_object(Bucket=self.bucket, Key=self.key, VersionId=version_id)
        self._record("ObjectRemoved:Delete", {"versionId": version_id})

    def expire_version(self, version_id: str) -> None:
        """S3 Lifecycle removes a noncurrent version: no sequencer."""
        self.s3.delete_object(Bucket=self.bucket, Key=self.key, VersionId=version_id)
        self._record(
            "LifecycleExpiration:Delete",
            {"versionId": version_id},
            sequenced=False,
            principal="s3.amazonaws.com",
        )

    def expire_current(self) -> str:
        """S3 Lifecycle expires the current version: a delete marker, no sequencer."""
        marker = self.s3.delete_object(Bucket=self.bucket, Key=self.key)["VersionId"]
        self._record(
            "LifecycleExpiration:DeleteMarkerCreated",
            {"versionId": marker},
            sequenced=False,
            principal="s3.amazonaws.com",
        )
        return marker

    def state(self) -> ObjectState:
        return bucket_state(self.s3, self.bucket, self.key)

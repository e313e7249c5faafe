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
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote_plus

from s3ledger.core.ledger import ObjectState, version_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Clock", "VersionedKey", "bucket_state", "server_second"]

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


def server_second(answer: Any) -> str:
    """S3's own clock when it answered a request (its ``Date`` header: whole seconds), in the
    form EventBridge gives an S3 event's ``time`` (*EventBridge event message structure*)."""
    date = answer["ResponseMetadata"]["HTTPHeaders"]["date"]
    return parsedate_to_datetime(date).strftime("%Y-%m-%dT%H:%M:%SZ")


# How a record's eventTime is set: one second after the previous record ("ticking": the clock
# always orders them), all in one second ("one-second": it never does), or S3's ``Date`` of the
# request's answer, whole seconds as EventBridge sends them ("server").
Clock = Literal["ticking", "one-second", "server"]


@dataclass
class VersionedKey:
    """One key of a versioned bucket, and the records of the requests made on it."""

    s3: S3Client
    bucket: str
    key: str
    clock: Clock = "ticking"
    records: list[dict[str, Any]] = field(default_factory=list)
    _ticks: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _time(self, tick: int, answer: Any) -> str:
        if self.clock == "server":
            return server_second(answer)
        seconds = _BASE_SECONDS + (1 if self.clock == "one-second" else tick)
        return f"2026-11-26T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.000Z"

    def _record(
        self,
        name: str,
        obj: dict[str, Any],
        answer: Any,
        *,
        sequenced: bool = True,
        principal: str = "",
    ) -> dict[str, Any]:
        tick = next(self._ticks)
        time = self._time(tick, answer)
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
            answer,
        )
        return version

    def delete(self) -> str:
        """DeleteObject without a version id: a delete marker."""
        answer = self.s3.delete_object(Bucket=self.bucket, Key=self.key)
        marker = answer["VersionId"]
        self._record("ObjectRemoved:DeleteMarkerCreated", {"versionId": marker}, answer)
        return marker

    def delete_version(self, version_id: str) -> None:
        """DeleteObject with a version id: that version (or delete marker) is gone for good."""
        answer = self.s3.delete_object(Bucket=self.bucket, Key=self.key, VersionId=version_id)
        self._record("ObjectRemoved:Delete", {"versionId": version_id}, answer)

    def expire_version(self, version_id: str) -> None:
        """S3 Lifecycle removes a noncurrent version: no sequencer."""
        answer = self.s3.delete_object(Bucket=self.bucket, Key=self.key, VersionId=version_id)
        self._record(
            "LifecycleExpiration:Delete",
            {"versionId": version_id},
            answer,
            sequenced=False,
            principal="s3.amazonaws.com",
        )

    def expire_current(self) -> str:
        """S3 Lifecycle expires the current version: a delete marker, no sequencer."""
        answer = self.s3.delete_object(Bucket=self.bucket, Key=self.key)
        marker = answer["VersionId"]
        self._record(
            "LifecycleExpiration:DeleteMarkerCreated",
            {"versionId": marker},
            answer,
            sequenced=False,
            principal="s3.amazonaws.com",
        )
        return marker

    def state(self) -> ObjectState:
        return bucket_state(self.s3, self.bucket, self.key)

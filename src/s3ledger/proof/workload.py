"""A seeded history of real S3 requests on a versioned bucket: the proof's workload.

The workload does not write notifications: it makes real requests on the workbench's S3 (moto,
behind the S3 notifier of :mod:`s3ledger.workbench.moto_s3`), and S3 emits the events. What
the proof knows of the truth it reads back from S3 afterwards (see :mod:`s3ledger.proof.checker`),
so nothing here restates how the writers understand S3.

Each key gets one to six requests: uploads and overwrites, delete markers, removals of the
current version, of a noncurrent version and of a delete marker, and S3 Lifecycle's expirations
(a delete marker, or a noncurrent version removed; their events carry no sequencer). A small
stack of versions per key is kept only to pick requests that S3 accepts and that change
something; which version a removal names is read from S3 itself when the request is made.
Awkward keys (spaces, ``+``, ``%``, non-ASCII, deep paths) are mixed in.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from s3ledger.pipeline.aws import error_code
from s3ledger.proof.checker import BucketTruth
from s3ledger.workbench.moto_s3 import lifecycle_expire

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "REQUEST_KINDS",
    "Request",
    "RequestKind",
    "perform",
    "plan_requests",
    "read_bucket_truth",
    "round_prefix",
]

RequestKind = Literal[
    "put",
    "delete",
    "delete_current",
    "delete_noncurrent",
    "undelete",
    "expire_current",
    "expire_noncurrent",
]
REQUEST_KINDS: Final[tuple[RequestKind, ...]] = get_args(RequestKind)
# How often each request is drawn, when it is possible on the key's versions.
_WEIGHTS: Final[dict[RequestKind, int]] = {
    "put": 10,
    "delete": 3,
    "delete_current": 2,
    "delete_noncurrent": 3,
    "undelete": 2,
    "expire_current": 1,
    "expire_noncurrent": 2,
}

_AWKWARD_STEMS: Final = (
    "q3 summary+final",
    "c++ notes 100%",
    "café 日本語",
    "deep/a/b/c/d/e",
    "plus+and space",
    "percent%2Bliteral",
)


@dataclass(frozen=True, slots=True)
class Request:
    """One request of the workload: ``index`` is its place in the whole history."""

    index: int
    key: str
    kind: RequestKind
    body: bytes = b""


def round_prefix(number: int) -> str:
    """The key prefix of one round of the workload (reconcile and checks go round by round)."""
    return f"r{number:04d}/"


def _key(rng: random.Random, number: int) -> str:
    folder = rng.choice(("in", "out", "archive", "tmp"))
    if number % 7 == 0:
        stem = _AWKWARD_STEMS[(number // 7) % len(_AWKWARD_STEMS)]
        return f"{folder}/{stem} {number}.csv"
    return f"{folder}/file-{number:06d}.csv"


def _possible(stack: list[str]) -> list[RequestKind]:
    """Requests that change the key's versions (``v`` a version, ``m`` a delete marker)."""
    current = stack[-1] if stack else None
    noncurrent_versions = "v" in stack[:-1]
    kinds: list[RequestKind] = ["put"]
    if current == "v":
        kinds += ["delete", "delete_current", "expire_current"]
    if current == "m":
        kinds.append("undelete")
    if noncurrent_versions:
        kinds += ["delete_noncurrent", "expire_noncurrent"]
    return kinds


def _apply(stack: list[str], kind: RequestKind) -> None:
    if kind == "put":
        stack.append("v")
    elif kind in ("delete", "expire_current"):
        stack.append("m")
    elif kind in ("delete_current", "undelete"):
        stack.pop()
    else:  # a noncurrent version: the oldest, as perform() picks it
        stack.remove("v")


def plan_requests(events: int, seed: int, round_size: int = 1000) -> Iterator[list[Request]]:
    """Yield each key's requests (in the order they will be made) until ``events`` exist.

    Every key starts with the prefix of the round (``round_size`` requests) its first request
    falls in, so a long run can be checked and reconciled one round at a time.
    """
    rng = random.Random(seed)
    index = number = 0
    while index < events:
        key = round_prefix(index // round_size) + _key(rng, number)
        number += 1
        count = min(events - index, rng.choice((1, 2, 2, 3, 4, 5, 6)))
        stack: list[str] = []
        history: list[Request] = []
        for position in range(count):
            kinds: list[RequestKind] = _possible(stack) if position else ["put"]
            kind = rng.choices(kinds, weights=[_WEIGHTS[k] for k in kinds])[0]
            body = f"{key} #{position} {rng.random()}".encode() if kind == "put" else b""
            history.append(Request(index, key, kind, body))
            _apply(stack, kind)
            index += 1
        yield history


def _versions(s3: S3Client, bucket: str, key: str) -> list[tuple[str, bool]]:
    """The key's versions and delete markers, newest first: (version id, is a delete marker)."""
    entries: list[tuple[bool, Any, str, bool]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        for version in page.get("Versions", []):
            if version["Key"] == key:
                latest = bool(version.get("IsLatest"))
                entries.append((latest, version["LastModified"], version["VersionId"], False))
        for marker in page.get("DeleteMarkers", []):
            if marker["Key"] == key:
                latest = bool(marker.get("IsLatest"))
                entries.append((latest, marker["LastModified"], marker["VersionId"], True))
    entries.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    return [(version_id, marker) for _, _, version_id, marker in entries]


def perform(s3: S3Client, bucket: str, request: Request) -> str:
    """Make ``request`` on the bucket; return S3's request id (which its event carries)."""
    key = request.key
    if request.kind == "put":
        metadata = s3.put_object(Bucket=bucket, Key=key, Body=request.body)["ResponseMetadata"]
    elif request.kind == "delete":
        metadata = s3.delete_object(Bucket=bucket, Key=key)["ResponseMetadata"]
    elif request.kind == "expire_current":
        metadata = lifecycle_expire(s3, bucket, key)["ResponseMetadata"]
    else:
        versions = _versions(s3, bucket, key)
        if request.kind in ("delete_current", "undelete"):
            version_id = versions[0][0]
        else:  # the oldest noncurrent version (not a delete marker)
            version_id = next(v for v, marker in reversed(versions[1:]) if not marker)
        if request.kind == "expire_noncurrent":
            metadata = lifecycle_expire(s3, bucket, key, version_id)["ResponseMetadata"]
        else:
            answer = s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
            metadata = answer["ResponseMetadata"]
    return str(metadata["RequestId"])


def read_bucket_truth(s3: S3Client, bucket: str, keys: Sequence[str]) -> dict[str, BucketTruth]:
    """What a GET without a version id returns for each key (HeadObject), read after the run.

    The proof's truth. HeadObject is another API than the writers' ListObjectVersions, so the
    two cannot share a mistake about which version is current.
    """
    truth: dict[str, BucketTruth] = {}
    for key in keys:
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except s3.exceptions.ClientError as exc:
            if error_code(exc) not in {"404", "NoSuchKey", "NotFound"}:
                raise
            truth[key] = BucketTruth(exists=False)
            continue
        version = head.get("VersionId")
        truth[key] = BucketTruth(
            exists=True,
            etag=head["ETag"].strip('"'),
            size=head["ContentLength"],
            version_id=None if version in (None, "null") else version,
        )
    return truth

"""What S3 says an object is now: the state a GET without a version id would return.

The writer asks this when an event carries no state of its own: a version or delete marker was
removed for good (``Effect.RESOLVE``), so the object may be unchanged, show an older version, or
be back. Reconcile asks it too.

Why ``ListObjectVersions`` and not ``HeadObject``: its IAM action, ``s3:ListBucketVersions``,
reveals metadata only, while ``HeadObject`` is authorized by ``s3:GetObject``, which would also
let the function download every object's contents. One request answers both cases: the
key's versions and delete markers come "ordered first by key and then by version ... from most
to least recent" (ListObjectVersions, https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html),
so the key's newest entry (``IsLatest``) is a version (the object is that version) or a delete
marker (deleted); no entry means every version is gone (deleted). Listing is strongly consistent
(*Amazon S3 data consistency model*), so the state read is at least as new as the event that
prompted the read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from botocore.exceptions import BotoCoreError, ClientError

from s3ledger.core.errors import TransientReadError
from s3ledger.core.ledger import ObjectState, version_of
from s3ledger.core.order import normalize_event_time
from s3ledger.pipeline.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "S3VersionsReader",
    "StateReader",
    "default_s3_client",
    "iso_time",
    "listed_state",
    "server_time",
]

_GONE_BUCKET: Final = frozenset({"NoSuchBucket"})
# A few entries per page: the key's newest entry comes first, the rest only tells "no entry".
_PAGE: Final = 2


class StateReader(Protocol):
    """Reads an object's current state from its bucket."""

    def current(self, bucket: str, key: str) -> ObjectState: ...


def default_s3_client() -> S3Client:
    """An S3 client with botocore's ``standard`` retries; endpoint from ``AWS_ENDPOINT_URL_S3``.

    Built with botocore rather than boto3, like the handler's DynamoDB client (boto3 imports
    s3transfer), and only when a removal first needs it, so no cold start pays for it.
    """
    import botocore.session  # noqa: PLC0415 -- only when the first removal needs S3
    from botocore.config import Config  # noqa: PLC0415

    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=3,
        read_timeout=10,
        # Path-style works with every endpoint (a workbench on 127.0.0.1 has no bucket DNS).
        s3={"addressing_style": "path"},
    )
    # botocore's create_client is untyped (boto3.client is typed, but imports boto3).
    return cast("S3Client", botocore.session.get_session().create_client("s3", config=config))


def iso_time(value: Any) -> str | None:
    """A listing's ``LastModified`` (a datetime, or its text) in the ledger's time form."""
    if value is None:
        return None
    return normalize_event_time(value.isoformat() if hasattr(value, "isoformat") else str(value))


def listed_state(entry: Mapping[str, Any], as_of: str | None) -> ObjectState:
    """The state a listing's entry of a version (or of an unversioned object) says: that version
    is current. ``as_of``: S3's clock at the listing (:func:`server_time`)."""
    etag = entry.get("ETag")
    return ObjectState(
        exists=True,
        version_id=version_of(entry.get("VersionId")),
        etag=None if etag is None else str(etag).strip('"'),  # S3 APIs quote it
        size=entry.get("Size"),
        last_modified=iso_time(entry.get("LastModified")),
        as_of=as_of,
    )


def server_time(response: Mapping[str, Any]) -> str | None:
    """S3's own clock at the read: the response's ``Date`` header (whole seconds)."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if not date:
        return None
    return normalize_event_time(parsedate_to_datetime(date).isoformat())


class S3VersionsReader:
    """:class:`StateReader` on ``ListObjectVersions``; the client is built on first use."""

    def __init__(self, client: S3Client | Callable[[], S3Client] = default_s3_client) -> None:
        self._client: S3Client | None = None if callable(client) else client
        self._factory = client if callable(client) else None
        self._lock = threading.Lock()

    def _s3(self) -> S3Client:
        with self._lock:
            if self._client is None:
                assert self._factory is not None  # noqa: S101 -- one of the two is always set
                self._client = self._factory()
            return self._client

    def current(self, bucket: str, key: str) -> ObjectState:
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": key, "MaxKeys": _PAGE}
        while True:
            try:
                page = self._s3().list_object_versions(**request)
            except ClientError as exc:
                code = error_code(exc)
                if code in _GONE_BUCKET:
                    return ObjectState.gone()
                raise TransientReadError(f"s3://{bucket}/{key}: ListObjectVersions {code}") from exc
            except BotoCoreError as exc:
                raise TransientReadError(
                    f"s3://{bucket}/{key}: ListObjectVersions {type(exc).__name__}"
                ) from exc
            as_of = server_time(page)
            others = False
            for entry in page.get("Versions") or []:
                if entry.get("Key") != key:
                    others = True
                elif entry.get("IsLatest"):
                    return listed_state(entry, as_of)
            for marker in page.get("DeleteMarkers") or []:
                if marker.get("Key") != key:
                    others = True
                elif marker.get("IsLatest"):
                    return ObjectState.gone(iso_time(marker.get("LastModified")), as_of)
            # Keys sort after their own prefix, so another key's entries mean ours has none.
            if others or not page.get("IsTruncated"):
                return ObjectState.gone(as_of=as_of)
            request["KeyMarker"] = page.get("NextKeyMarker")
            request["VersionIdMarker"] = page.get("NextVersionIdMarker")

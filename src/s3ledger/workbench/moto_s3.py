"""The workbench's S3 notifications, made to look like AWS's: a patch to moto 5.2.5's S3.

moto's S3 notifies object events, but not as AWS does, and the ledger's ordering and delete logic
is exactly what those differences hide. :func:`install_s3_notification_fidelity` patches moto in
the server process (``s3ledger.workbench.moto_main`` calls it) so that:

* every object-event record (SQS, SNS and Lambda destinations alike) has the fields "Event message
  structure" documents (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html):
  ``s3.object.sequencer``, ``s3.object.versionId`` on versioned buckets, ``userIdentity``,
  ``requestParameters.sourceIPAddress`` and ``responseElements`` (``x-amz-request-id`` and
  ``x-amz-id-2``, "the same as those that Amazon S3 returns in the response to the request that
  initiates the events": the S3 responses now carry both headers);
* sequencers grow per key in the order the operations were applied, under S3's documented rule
  (right-pad the shorter with zeros, then compare as strings). Some are 16 hex digits, some 18,
  so a consumer that left-pads (or compares numerically) orders some pairs the wrong way round,
  as it would on AWS;
* removals are notified as AWS notifies them ("Event notification types",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html;
  "Deleting object versions", https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html):
  a DeleteObject without a version on a versioned bucket creates a delete marker and sends
  ``ObjectRemoved:DeleteMarkerCreated`` (moto sent nothing); one with a version id sends
  ``ObjectRemoved:Delete`` for that version (moto sent it only when the key's last version went,
  naming the wrong version); DeleteObjects does the same per object;
* one CompleteMultipartUpload sends one ``ObjectCreated:CompleteMultipartUpload`` (moto also sent
  ``ObjectCreated:Put`` and ``ObjectTagging:Put``), and a request that creates an object sends no
  ``ObjectTagging`` event for the tags it was created with;
* a DeleteObject that carries the header :data:`LIFECYCLE_EXPIRATION_HEADER` stands in for S3
  Lifecycle (moto runs no lifecycle rules): it is notified as ``LifecycleExpiration:Delete`` or
  ``LifecycleExpiration:DeleteMarkerCreated``, by ``s3.amazonaws.com``, with ``eventVersion`` 2.3
  ("Configuring S3 Lifecycle event notifications",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configure-notification.html).
  :func:`lifecycle_expire` sends such a request from any boto3 S3 client;
* EventBridge events ("EventBridge event message structure",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html) carry the same sequencer
  and request id as the records, a fresh ``id`` (moto sent one constant id), ``version-id`` on
  versioned buckets only, ``etag``, ``size`` (created only), ``requester``, ``source-ip-address``
  (not for lifecycle), the documented ``reason`` (moto sent ``ObjectCreated``) and
  ``deletion-type``; they go to the default event bus only, as S3's do. Their ``time`` reaches a
  target in ISO form (moto keeps it a unix timestamp inside EventBridge and converts it there);
* a bucket whose versioning is Suspended behaves as S3 documents
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VersionSuspendedBehavior.html): a PUT
  replaces only the ``null`` version, a DELETE without a version replaces it with a ``null``
  delete marker, a DELETE with a version removes that version (moto replaced or dropped every
  version of the key);
* ``ListObjectVersions`` lists one key's versions newest first even if two were written within
  one microsecond (moto sorts by ``last_modified``, so a tie could make the older one
  ``IsLatest``), and with a ``Prefix`` it deep-copies only the keys under that prefix instead of
  every version in the bucket, object bodies included (on a bucket of 5,000 versions of 1 KiB,
  ``Prefix=<one key>, MaxKeys=10`` went from a median 260 ms to 6 ms over HTTP; a listing
  without a prefix is unchanged, about 530 ms).

Every hook is checked before anything is patched: if moto's internals are not those this was
written for, :func:`install_s3_notification_fidelity` raises and the server does not start.

Not covered, because moto's model does not have it: a DeleteObject of a key that does not exist
creates no delete marker (S3 does create one on a versioned bucket), and nothing else of S3
Lifecycle runs. Outside an HTTP request (moto used in-process), ``sourceIPAddress`` is a fixed
``127.0.0.1``.
"""

from __future__ import annotations

import base64
import contextvars
import datetime
import functools
import hashlib
import inspect
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote_plus

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import DeleteObjectOutputTypeDef

__all__ = [
    "HOOKS",
    "LIFECYCLE_EXPIRATION_HEADER",
    "LIFECYCLE_PRINCIPAL",
    "S3Operation",
    "eventbridge_event",
    "install_s3_notification_fidelity",
    "lifecycle_expire",
    "s3_record",
]

LIFECYCLE_EXPIRATION_HEADER: Final = "x-s3ledger-lifecycle-expiration"
"""A DeleteObject carrying this header (value ``true``) is notified as S3 Lifecycle's expiration."""

LIFECYCLE_PRINCIPAL: Final = "s3.amazonaws.com"
"""Who S3 Lifecycle's events name as principal, source IP and EventBridge requester (see
https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configure-notification.html and
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)."""

_log = logging.getLogger(__name__)

_INSTALLED_MARK: Final = "_s3ledger_notification_fidelity"
_CREATED: Final = "s3:ObjectCreated:"
_REMOVED: Final = "s3:ObjectRemoved:"
_EXPIRED: Final = "s3:LifecycleExpiration:"
_COMPLETE_MULTIPART: Final = "s3:ObjectCreated:CompleteMultipartUpload"
_VERSIONED_STATES: Final = frozenset({"Enabled", "Suspended"})
_NULL_VERSION: Final = "null"
# The ETag of an empty body, which EventBridge's examples give a delete marker (ev-events.html).
_EMPTY_ETAG: Final = "d41d8cd98f00b204e9800998ecf8427e"
# moto's own default when a request carries no credential (BaseResponse.get_access_key).
_ANONYMOUS_ACCESS_KEY: Final = "AKIAEXAMPLE"
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")
_ERROR_REQUEST_ID = re.compile(rb"(?<=<RequestId>)[^<]*(?=</RequestId>)")

# "Event message structure": version 2.3 for S3 Lifecycle, object ACL, object tagging and restore
# delete events, 2.1 for all other event types.
_EVENT_VERSION_2_3: Final = (
    _EXPIRED,
    "s3:ObjectAcl:",
    "s3:ObjectTagging:",
    "s3:ObjectRestore:Delete",
)
# ev-events.html: for Object Created, the API that created the object; for Object Deleted,
# "DeleteObject" for an S3 API call (DeleteObjects included), "Lifecycle Expiration" for S3
# Lifecycle.
_EVENTBRIDGE_REASONS: Final = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    _COMPLETE_MULTIPART: "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
    "s3:LifecycleExpiration:Delete": "Lifecycle Expiration",
    "s3:LifecycleExpiration:DeleteMarkerCreated": "Lifecycle Expiration",
}


# --- what one notified operation is ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class S3Operation:
    """What S3 says about one operation on one object, in every record and event it sends.

    One operation notified to several destinations (queues, topics, functions, EventBridge)
    carries the same sequencer, request id and time in each, as on AWS.
    """

    event_name: str
    """With its prefix, e.g. ``s3:ObjectCreated:Put``."""
    bucket: str
    bucket_arn: str
    region: str
    key: str
    """The object's key, not encoded."""
    event_time: datetime.datetime
    request_id: str
    host_id: str
    principal_id: str
    source_ip: str
    requester: str
    """EventBridge's ``requester``: the caller's account, or S3 itself for lifecycle."""
    owner_id: str
    version_id: str | None = None
    """Only on a bucket that is or was versioned (``null`` for a null version)."""
    sequencer: str | None = None
    """Only for object creations and removals ("only used with PUTs and DELETEs")."""
    size: int | None = None
    etag: str | None = None

    @property
    def created(self) -> bool:
        return self.event_name.startswith(_CREATED)

    @property
    def removed(self) -> bool:
        return self.event_name.startswith((_REMOVED, _EXPIRED))

    @property
    def by_lifecycle(self) -> bool:
        return self.event_name.startswith(_EXPIRED)


def _iso_ms(moment: datetime.datetime) -> str:
    # eventTime: "ISO-8601 format, for example, 1970-01-01T00:00:00.000Z".
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def s3_record(operation: S3Operation, configuration_id: str) -> dict[str, Any]:
    """One record of an S3 event notification (SQS, SNS, Lambda), as "Event message structure"
    documents it (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).

    The key is form-encoded (``quote_plus``, as moto did: a space is ``+``). A removal record has
    the key, ``versionId`` and ``sequencer`` only; a creation also has ``size`` and ``eTag``.
    """
    obj: dict[str, Any] = {"key": quote_plus(operation.key)}
    if not operation.removed:
        if operation.size is not None:
            obj["size"] = operation.size
        if operation.etag is not None:
            obj["eTag"] = operation.etag
    if operation.version_id is not None:
        obj["versionId"] = operation.version_id
    if operation.sequencer is not None:
        obj["sequencer"] = operation.sequencer
    return {
        "eventVersion": "2.3" if operation.event_name.startswith(_EVENT_VERSION_2_3) else "2.1",
        "eventSource": "aws:s3",
        "awsRegion": operation.region,
        "eventTime": _iso_ms(operation.event_time),
        "eventName": operation.event_name.removeprefix("s3:"),
        "userIdentity": {"principalId": operation.principal_id},
        "requestParameters": {"sourceIPAddress": operation.source_ip},
        "responseElements": {
            "x-amz-request-id": operation.request_id,
            "x-amz-id-2": operation.host_id,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": operation.bucket,
                "ownerIdentity": {"principalId": operation.owner_id},
                "arn": operation.bucket_arn,
            },
            "object": obj,
        },
    }


def eventbridge_event(
    operation: S3Operation,
    account_id: str,
    detail_type: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The event S3 puts on EventBridge's default bus, as "EventBridge event message structure"
    documents it (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).

    ``detail_type`` is needed for event types other than creations and removals; ``event_id``
    defaults to a fresh UUID ("A Version 4 UUID generated for every event"). The key is not
    encoded. ``source-ip-address`` is "only present for events triggered by an S3 request", so
    lifecycle events have none.
    """
    if detail_type is None:
        if operation.created:
            detail_type = "Object Created"
        elif operation.removed:
            detail_type = "Object Deleted"
        else:
            raise ValueError(f"give the detail-type of {operation.event_name}")
    obj: dict[str, Any] = {"key": operation.key}
    if operation.size is not None and not operation.removed:
        obj["size"] = operation.size
    if operation.etag is not None:
        obj["etag"] = operation.etag
    if operation.version_id is not None:
        obj["version-id"] = operation.version_id
    if operation.sequencer is not None:
        obj["sequencer"] = operation.sequencer
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": operation.bucket},
        "object": obj,
        "request-id": operation.request_id,
        "requester": operation.requester,
    }
    if not operation.by_lifecycle:
        detail["source-ip-address"] = operation.source_ip
    reason = _EVENTBRIDGE_REASONS.get(operation.event_name)
    if reason is not None:
        detail["reason"] = reason
    if operation.removed:
        marker = operation.event_name.endswith(":DeleteMarkerCreated")
        detail["deletion-type"] = "Delete Marker Created" if marker else "Permanently Deleted"
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": account_id,
        # ev-events.html's examples: "2021-11-12T00:00:00Z", as EventBridge delivers it.
        "time": operation.event_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": operation.region,
        "resources": [operation.bucket_arn],
        "detail": detail,
    }


# --- sequencers and clocks ------------------------------------------------------------------


class _Sequencer:
    """Process-wide, strictly increasing, tied to the clock like S3's; every third is 18 digits.

    The first 16 hex digits grow strictly, so S3's rule (right-pad, then compare) orders any two
    correctly whatever their suffix, while left-padding puts a 16-digit one below an older
    18-digit one: ``0062E99A88DC4075`` (newer) against ``0062E99A88DC407460`` (older). Which
    ones get the suffix follows the count of sequencers issued, not the clock, whose
    milliseconds can keep step with a client's pace.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0
        self._issued = 0

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, int(time.time() * 1000) << 8)
            self._issued += 1
            value, suffixed = self._last, self._issued % 3 == 0
        digits = f"{value:016X}"
        if suffixed:
            digits += f"{value % 255 + 1:02X}"  # never 00, so the two lengths are told apart
        return digits


class _StrictClock:
    """Makes each new ``last_modified`` later than the previous one, by a microsecond if needed.

    moto orders a key's versions by ``last_modified`` (``unix_time_millis``, a float of
    milliseconds that keeps the microseconds); two versions created in the same microsecond (or
    while the wall clock steps back) tie, and the stable sort then calls the older one latest.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: datetime.datetime | None = None

    def after_previous(self, moment: datetime.datetime) -> datetime.datetime:
        with self._lock:
            if self._last is not None and moment <= self._last:
                moment = self._last + datetime.timedelta(microseconds=1)
            self._last = moment
            return moment


_sequencer = _Sequencer()
_clock = _StrictClock()
# One S3 mutation at a time, so that sequencers follow the order S3 applied the operations
# (moto's threaded server runs requests concurrently; its key store has no lock of its own).
_mutation_lock = threading.RLock()


# --- the request being served ---------------------------------------------------------------


@dataclass(slots=True)
class _Request:
    """One S3 API request, as its notifications describe it."""

    request_id: str
    host_id: str
    principal_id: str
    source_ip: str
    lifecycle: bool = False
    created_object: bool = False


def _principal_for(access_key: str) -> str:
    # "Amazon-customer-ID-of-the-user-who-caused-the-event", e.g. AIDAJDPLRKLG7UEXAMPLE: an IAM
    # user id is AIDA and 17 more characters. A stable one per access key stands in for it.
    digest = hashlib.sha256(access_key.encode()).hexdigest().upper()
    return f"AWS:AIDA{digest[:17]}"


def _new_request(
    access_key: str = _ANONYMOUS_ACCESS_KEY,
    source_ip: str = "127.0.0.1",
    lifecycle: bool = False,
) -> _Request:
    return _Request(
        # Like S3's: 16 upper-case hex digits, and a base64 x-amz-id-2.
        request_id=secrets.token_hex(8).upper(),
        host_id=base64.b64encode(secrets.token_bytes(48)).decode(),
        principal_id=_principal_for(access_key),
        source_ip=source_ip,
        lifecycle=lifecycle,
    )


def _request_from_http(request: Any) -> _Request:
    headers = getattr(request, "headers", None) or {}
    match = _ACCESS_KEY.search(str(headers.get("Authorization", "")))
    if match is None:  # a presigned URL carries its credential in the query
        args = getattr(request, "args", None) or {}
        match = _ACCESS_KEY.search(f"Credential={args.get('X-Amz-Credential', '')}")
    flag = str(headers.get(LIFECYCLE_EXPIRATION_HEADER, "")).strip().lower() == "true"
    return _new_request(
        access_key=match.group(1) if match else _ANONYMOUS_ACCESS_KEY,
        source_ip=getattr(request, "remote_addr", None) or "127.0.0.1",
        lifecycle=flag,
    )


# Each of moto's server threads serves one request in its own context.
_request: contextvars.ContextVar[_Request | None] = contextvars.ContextVar(
    "s3ledger_s3_request", default=None
)
# The operation whose notification is being sent (one per send_event, shared by destinations).
_operation: contextvars.ContextVar[S3Operation | None] = contextvars.ContextVar(
    "s3ledger_s3_operation", default=None
)
# Inside the delete_object wrapper: moto's own removal notification is replaced by ours.
_removal_notified_by_wrapper: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "s3ledger_s3_removal_wrapped", default=False
)
# Inside complete_multipart_upload: only its own CompleteMultipartUpload event goes out.
_completing_multipart: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "s3ledger_s3_completing_multipart", default=False
)
# A DeleteObject on a Suspended bucket, which moto treats as unversioned: take its versioned path.
_suspended_as_versioned: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "s3ledger_s3_suspended_as_versioned", default=False
)
# ListObjectVersions with a prefix: the key store yields only the keys under it.
_listing_prefix: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "s3ledger_s3_listing_prefix", default=None
)


# --- the patch ------------------------------------------------------------------------------

# Every attribute the patch replaces, and the leading parameters its wrapper relies on.
_WRAPPED: Final[Mapping[str, tuple[str, ...]]] = {
    "moto.s3.responses.S3Response.get_bucket_notification": ("self",),
    "moto.s3.notifications.send_event": ("account_id", "event_name", "bucket", "key"),
    "moto.s3.notifications._get_s3_event": ("event_name", "bucket", "key", "notification_id"),
    "moto.s3.notifications._send_event_bridge_message": (
        "account_id",
        "bucket",
        "event_name",
        "key",
    ),
    "moto.s3.models.S3Backend.put_object": ("self", "bucket_name", "key_name", "value"),
    "moto.s3.models.S3Backend.delete_object": (
        "self",
        "bucket_name",
        "key_name",
        "version_id",
        "bypass",
    ),
    "moto.s3.models.S3Backend.copy_object": (
        "self",
        "src_key",
        "dest_bucket_name",
        "dest_key_name",
    ),
    "moto.s3.models.S3Backend.complete_multipart_upload": (
        "self",
        "bucket_name",
        "multipart_id",
        "body",
    ),
    "moto.s3.models.S3Backend.list_object_versions": (
        "self",
        "bucket_name",
        "delimiter",
        "key_marker",
        "max_keys",
        "prefix",
        "version_id_marker",
    ),
    "moto.s3.responses.S3Response.key_response": ("self", "request", "full_url", "headers"),
    "moto.s3.responses.S3Response.bucket_response": ("self", "request", "full_url", "headers"),
    "moto.s3.models.FakeKey.__init__": ("self", "name", "value"),
    "moto.s3.models.FakeDeleteMarker.__init__": ("self", "key"),
    "moto.s3.utils._VersionedKeyStore.iterlists": ("self",),
}
_IS_VERSIONED: Final = "moto.s3.models.FakeBucket.is_versioned"
HOOKS: Final = (*_WRAPPED, _IS_VERSIONED)
"""Every attribute of moto's S3 that :func:`install_s3_notification_fidelity` replaces."""

# The event types the patch sends itself, which moto must know.
_EVENT_NAMES: Final = (
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    _COMPLETE_MULTIPART,
)


def _owner_and_name(path: str) -> tuple[Any, str]:
    """``moto.s3.models.S3Backend.put_object`` -> (the S3Backend class, ``put_object``)."""
    import importlib  # noqa: PLC0415 -- only the server process imports moto

    parts = path.split(".")
    try:
        owner: Any = importlib.import_module(".".join(parts[:3]))
    except ImportError:
        owner = None
    for part in parts[3:-1]:
        owner = getattr(owner, part, None)
    return owner, parts[-1]


@dataclass(frozen=True, slots=True)
class _Moto:
    """The parts of moto the patch uses, each checked by :func:`_resolve`."""

    notifications: Any
    delete_marker: type
    originals: Mapping[str, Callable[..., Any]]
    is_versioned: property
    detail_type: Callable[[str], str]


def _resolve() -> _Moto:
    """Find every hook, or raise naming each one that is not what this patch was written for."""
    from moto.s3 import models, notifications  # noqa: PLC0415 -- only the server imports moto

    problems: list[str] = []
    originals: dict[str, Callable[..., Any]] = {}
    for path, expected in _WRAPPED.items():
        owner, name = _owner_and_name(path)
        target = getattr(owner, name, None)
        if not callable(target):
            problems.append(f"{path} is missing")
            continue
        try:
            parameters = tuple(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            parameters = ()
        if parameters[: len(expected)] != expected:
            problems.append(f"{path}{parameters} does not start with {expected}")
            continue
        originals[path] = target
    owner, name = _owner_and_name(_IS_VERSIONED)
    is_versioned = inspect.getattr_static(owner, name, None) if owner is not None else None
    if not isinstance(is_versioned, property) or is_versioned.fget is None:
        problems.append(f"{_IS_VERSIONED} is not a readable property")
    marker = getattr(models, "FakeDeleteMarker", None)
    if not isinstance(inspect.getattr_static(marker, "version_id", None), property):
        problems.append("moto.s3.models.FakeDeleteMarker.version_id is not a property")
    store = _owner_and_name("moto.s3.utils._VersionedKeyStore.getlist")[0]
    for method in ("getlist", "setlist"):
        if not callable(getattr(store, method, None)):
            problems.append(f"moto.s3.utils._VersionedKeyStore.{method} is missing")
    if getattr(models, "notifications", None) is not notifications:
        problems.append("moto.s3.models does not notify through moto.s3.notifications")
    detail_type = getattr(notifications, "_detail_type", None)
    if not callable(detail_type):
        problems.append("moto.s3.notifications._detail_type is missing")
    known = {getattr(m, "value", None) for m in getattr(notifications, "S3NotificationEvent", ())}
    problems.extend(
        f"S3NotificationEvent lacks {name}" for name in _EVENT_NAMES if name not in known
    )
    if problems or not isinstance(is_versioned, property) or not isinstance(marker, type):
        raise RuntimeError(
            "moto's S3 is not what s3ledger's notification fidelity was written for "
            f"(moto 5.2.5): {'; '.join(problems)}"
        )
    return _Moto(
        notifications=notifications,
        delete_marker=marker,
        originals=originals,
        is_versioned=is_versioned,
        detail_type=detail_type,  # type: ignore[arg-type]
    )


def _plain(event_name: Any) -> str:
    # moto passes S3NotificationEvent members (a str Enum); compare and slice their values.
    return str(getattr(event_name, "value", event_name))


def _versioned(bucket: Any) -> bool:
    # A bucket that was ever versioned stays so: Suspended still has versions and null versions.
    return getattr(bucket, "versioning_status", None) in _VERSIONED_STATES


def _cached_etag(key: Any) -> str | None:
    # A removed version's body may be disposed of already: use the ETag only if moto computed it.
    raw = getattr(key, "_etag", None)
    return raw.strip('"') if isinstance(raw, str) else None


def _owner_for(account_id: str) -> str:
    # "Amazon-customer-ID-of-the-bucket-owner" (the documented example: A3NL1KOZZKExample).
    return "A" + hashlib.sha256(account_id.encode()).hexdigest().upper()[:16]


def _operation_for(
    moto: _Moto, account_id: str, event_name: str, bucket: Any, key: Any
) -> S3Operation:
    request = _request.get() or _new_request()
    by_lifecycle = event_name.startswith(_EXPIRED)
    removed = by_lifecycle or event_name.startswith(_REMOVED)
    is_marker = isinstance(key, moto.delete_marker)
    size: int | None = None
    etag: str | None = None
    if removed:
        etag = _EMPTY_ETAG if is_marker else _cached_etag(key)
    elif not is_marker:
        size, etag = int(key.size), str(key.etag).strip('"')
    return S3Operation(
        event_name=event_name,
        bucket=str(bucket.name),
        bucket_arn=str(bucket.arn),
        region=str(bucket.region_name),
        key=str(key.name),
        event_time=datetime.datetime.now(datetime.UTC),
        request_id=request.request_id,
        host_id=request.host_id,
        principal_id=LIFECYCLE_PRINCIPAL if by_lifecycle else request.principal_id,
        source_ip=LIFECYCLE_PRINCIPAL if by_lifecycle else request.source_ip,
        requester=LIFECYCLE_PRINCIPAL if by_lifecycle else account_id,
        owner_id=_owner_for(str(getattr(bucket, "account_id", account_id))),
        version_id=str(key.version_id) if _versioned(bucket) else None,
        # AWS's documents disagree on lifecycle expirations: the field's description says the
        # sequencer is "only used with PUTs and DELETEs" (notification-content-structure.html),
        # while the lifecycle examples show one (lifecycle-configure-notification.html,
        # ev-events.html). The workbench sends none: the product must order these events either
        # way, and the case without a sequencer is the one that can freeze a key if it is wrong,
        # so it is the one the proof must exercise.
        sequencer=(
            _sequencer.next()
            if not by_lifecycle and (removed or event_name.startswith(_CREATED))
            else None
        ),
        size=size,
        etag=etag,
    )


def _wrap_send_event(moto: _Moto, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        name = _plain(event_name)
        request = _request.get()
        if _removal_notified_by_wrapper.get() and name.startswith((_REMOVED, _EXPIRED)):
            return  # delete_object's wrapper notifies what actually changed instead
        if _completing_multipart.get() and name != _COMPLETE_MULTIPART:
            return  # the inner PutObject, tagging and ACL of CompleteMultipartUpload
        if name.startswith(_CREATED):
            if request is not None:
                request.created_object = True
        elif name.startswith("s3:ObjectTagging:") and request and request.created_object:
            return  # tags given at creation: S3 notifies the creation only
        if getattr(bucket, "notification_configuration", None) is None:
            return
        operation = _operation_for(moto, account_id, name, bucket, key)
        token = _operation.set(operation)
        try:
            original(account_id, event_name, bucket, key)
        finally:
            _operation.reset(token)

    return send_event


def _wrap_get_s3_event(moto: _Moto) -> Callable[..., Any]:
    def get_s3_event(
        event_name: Any, bucket: Any, key: Any, notification_id: str
    ) -> dict[str, list[dict[str, Any]]]:
        name = _plain(event_name)
        operation = _operation.get()
        if operation is None or operation.event_name != name:
            operation = _operation_for(moto, str(bucket.account_id), name, bucket, key)
        return {"Records": [s3_record(operation, notification_id)]}

    return get_s3_event


def _wrap_send_event_bridge_message(moto: _Moto) -> Callable[..., Any]:
    def send_event_bridge_message(account_id: str, bucket: Any, event_name: Any, key: Any) -> None:
        name = _plain(event_name)
        try:
            operation = _operation.get()
            if operation is None or operation.event_name != name:
                operation = _operation_for(moto, account_id, name, bucket, key)
            detail_type = None
            if not (operation.created or operation.removed):
                detail_type = moto.detail_type(name)
            event = eventbridge_event(operation, account_id, detail_type)
            # Inside moto's EventBridge an event's time is a unix timestamp, which its targets
            # (SQS, CloudWatch Logs) write out in the ISO form above.
            event["time"] = operation.event_time.timestamp()
            from moto.events.models import events_backends  # noqa: PLC0415

            # "Your account's default event bus receives events from AWS services"
            # (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_EventBus.html);
            # moto sent S3's to every bus.
            bus: Any = events_backends[account_id][bucket.region_name].event_buses.get("default")
            rules: list[Any] = list(bus.rules.values()) if bus is not None else []
            for rule in rules:
                rule.send_to_targets(event, transform_input=False)
        except Exception:  # asynchronous on AWS: a failed delivery must not fail the request
            _log.warning("S3 event %s not delivered to EventBridge", name, exc_info=True)

    return send_event_bridge_message


def _wrap_put_object(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def put_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        with _mutation_lock:
            bucket = self.get_bucket(bucket_name)
            if bucket.versioning_status != "Suspended":
                return original(self, bucket_name, key_name, *args, **kwargs)
            store = bucket.keys
            versions = list(store.getlist(key_name, None) or ())
            kept = [v for v in versions if str(v.version_id) != _NULL_VERSION]
            if not kept:
                return original(self, bucket_name, key_name, *args, **kwargs)
            nulls = [v for v in versions if str(v.version_id) == _NULL_VERSION]
            # Suspended: moto replaces every version of the key; S3 replaces the null version
            # only (https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html).
            # moto replaces what it sees, so it is shown the null version alone and the
            # others are put back underneath the new one (dict's own setter: the store's would
            # append, and its setlist would dispose of what it drops).
            dict.__setitem__(store, key_name, nulls)
            try:
                new_key = original(self, bucket_name, key_name, *args, **kwargs)
            except BaseException:
                dict.__setitem__(store, key_name, versions)
                raise
            dict.__setitem__(store, key_name, kept + list(store.getlist(key_name, None) or ()))
            return new_key

    return put_object


def _notify_removal(
    moto: _Moto, account_id: str, bucket: Any, before: list[Any], after: list[Any]
) -> None:
    """Notify what one DeleteObject changed: a marker added, or versions removed."""
    before_ids, after_ids = {id(v) for v in before}, {id(v) for v in after}
    markers = [v for v in after if id(v) not in before_ids and isinstance(v, moto.delete_marker)]
    removed = [v for v in before if id(v) not in after_ids]
    request = _request.get()
    prefix = _EXPIRED if request is not None and request.lifecycle else _REMOVED
    event_type = moto.notifications.S3NotificationEvent
    send = moto.notifications.send_event  # the wrapped one: it stamps the operation
    if markers:
        # One event per operation: on a Suspended bucket the null version the marker replaces
        # goes silently, as the marker's creation is what S3 notifies.
        send(account_id, event_type(prefix + "DeleteMarkerCreated"), bucket, markers[-1])
        return
    for version in removed:
        send(account_id, event_type(prefix + "Delete"), bucket, version)


def _wrap_delete_object(moto: _Moto, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_object(
        self: Any,
        bucket_name: str,
        key_name: str,
        version_id: str | None = None,
        bypass: bool = False,
    ) -> tuple[bool, dict[str, Any]]:
        with _mutation_lock:
            bucket = self.get_bucket(bucket_name)
            before = list(bucket.keys.getlist(key_name, None) or ())
            suspended = getattr(bucket, "versioning_status", None) == "Suspended"
            wrapped = _removal_notified_by_wrapper.set(True)
            as_versioned = _suspended_as_versioned.set(suspended)
            try:
                deleted, meta = original(
                    self, bucket_name, key_name, version_id=version_id, bypass=bypass
                )
            finally:
                _suspended_as_versioned.reset(as_versioned)
                _removal_notified_by_wrapper.reset(wrapped)
            if deleted and suspended and version_id is None:
                _make_marker_null(moto, bucket, key_name, meta)
            after = list(bucket.keys.getlist(key_name, None) or ())
            _notify_removal(moto, str(self.account_id), bucket, before, after)
            return deleted, meta

    return delete_object


def _make_marker_null(moto: _Moto, bucket: Any, key_name: str, meta: dict[str, Any]) -> None:
    """On a Suspended bucket the new delete marker is the null version, replacing the old one
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectsfromVersioningSuspendedBuckets.html)."""
    versions = list(bucket.keys.getlist(key_name, None) or ())
    if not versions or not isinstance(versions[-1], moto.delete_marker):
        return
    marker: Any = versions[-1]
    marker._version_id = _NULL_VERSION
    others = [v for v in versions[:-1] if str(v.version_id) != _NULL_VERSION]
    bucket.keys.setlist(key_name, [*others, marker])  # disposes of the old null version
    meta["version-id"] = _NULL_VERSION


def _wrap_is_versioned(original: property) -> property:
    getter = original.fget
    assert getter is not None  # noqa: S101 -- checked by _resolve

    def is_versioned(bucket: Any) -> bool:
        if getter(bucket):
            return True
        return _suspended_as_versioned.get() and bucket.versioning_status == "Suspended"

    return property(is_versioned)


def _wrap_in_context(
    original: Callable[..., Any], flag: contextvars.ContextVar[bool]
) -> Callable[..., Any]:
    """Run ``original`` under the mutation lock with ``flag`` set."""

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _mutation_lock:
            token = flag.set(True)
            try:
                return original(*args, **kwargs)
            finally:
                flag.reset(token)

    return call


def _wrap_locked(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _mutation_lock:
            return original(*args, **kwargs)

    return call


def _wrap_list_object_versions(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def list_object_versions(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        prefix, key_marker = bound.arguments["prefix"], bound.arguments["key_marker"]
        # Skipping the keys outside the prefix changes nothing moto answers, as long as the key
        # marker (where a page resumes) is itself under the prefix, or absent.
        narrow = bool(prefix) and (key_marker is None or str(key_marker).startswith(prefix))
        token = _listing_prefix.set(str(prefix) if narrow else None)
        try:
            return original(*args, **kwargs)
        finally:
            _listing_prefix.reset(token)

    return list_object_versions


def _wrap_iterlists(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def iterlists(store: Any) -> Iterator[tuple[str, list[Any]]]:
        prefix = _listing_prefix.get()
        if prefix is None:
            return iter(original(store))
        return _lists_under(store, prefix)

    return iterlists


def _lists_under(store: Any, prefix: str) -> Iterator[tuple[str, list[Any]]]:
    # list() copies the names in one step, as moto's own dict(self) does, for other threads.
    for name in [n for n in list(dict.keys(store)) if n.startswith(prefix)]:
        versions = store.getlist(name, None)
        if versions:
            yield name, versions


def _wrap_strictly_later(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.last_modified = _clock.after_previous(self.last_modified)

    return __init__


def _with_request_headers(response: Any, request: _Request) -> Any:
    """Answer with the request's ids, as S3 does ("Common Response Headers",
    https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonResponseHeaders.html).

    moto's own ``x-amzn-requestid`` goes: S3 sends no such header, and boto3 would read the
    request id from it rather than from ``x-amz-request-id``. An error body's ``<RequestId>``
    gets the same id.
    """
    if not (isinstance(response, tuple) and len(response) == 3 and isinstance(response[1], dict)):
        return response
    status, headers, body = response
    headers = {k: v for k, v in headers.items() if k.lower() != "x-amzn-requestid"}
    headers["x-amz-request-id"] = request.request_id
    headers["x-amz-id-2"] = request.host_id
    if isinstance(body, bytes) and b"<RequestId>" in body:
        body = _ERROR_REQUEST_ID.sub(request.request_id.encode(), body)
    return status, headers, body


def _wrap_serving(original: Callable[..., Any]) -> Callable[..., Any]:
    """Give one S3 request its ids, caller and lifecycle flag, and answer with its ids."""

    @functools.wraps(original)
    def respond(self: Any, request: Any, full_url: str, headers: Any) -> Any:
        if _request.get() is not None:
            return original(self, request, full_url, headers)
        current = _request_from_http(request)
        token = _request.set(current)
        try:
            response = original(self, request, full_url, headers)
        finally:
            _request.reset(token)
        return _with_request_headers(response, current)

    return respond


def _wrap_get_notification(original: Callable[..., Any]) -> Callable[..., Any]:
    """GetBucketNotificationConfiguration answers ``<EventBridgeConfiguration/>`` when the
    bucket's EventBridge delivery is on, as S3 does (moto stores it but leaves it out, so a
    read-merge-write of the document, as ``s3ledger attach`` does, would turn it off)."""

    @functools.wraps(original)
    def get_bucket_notification(response: Any) -> Any:
        answer = original(response)
        config = response.backend.get_bucket_notification_configuration(response.bucket_name)
        if config is None or config.event_bridge is None or not isinstance(answer, tuple):
            return answer
        status, headers, body = answer
        closing = "</NotificationConfiguration>"
        text = body.decode() if isinstance(body, bytes) else str(body)
        if "<EventBridgeConfiguration" not in text:
            # moto writes an empty document as one self-closed element.
            text = re.sub(
                r"<NotificationConfiguration([^>]*)/>",
                r"<NotificationConfiguration\1>" + closing,
                text,
            )
            text = text.replace(closing, "<EventBridgeConfiguration/>" + closing)
        return status, headers, text.encode() if isinstance(body, bytes) else text

    return get_bucket_notification


def install_s3_notification_fidelity() -> None:
    """Patch moto's S3 in this process (idempotent); raise RuntimeError naming every hook that
    is not what this patch was written for, before patching anything."""
    from moto.s3 import notifications  # noqa: PLC0415 -- only the server process imports moto

    if getattr(notifications, _INSTALLED_MARK, False):
        return
    moto = _resolve()
    o = moto.originals
    replacements: dict[str, Any] = {
        "moto.s3.notifications.send_event": _wrap_send_event(
            moto, o["moto.s3.notifications.send_event"]
        ),
        "moto.s3.notifications._get_s3_event": _wrap_get_s3_event(moto),
        "moto.s3.notifications._send_event_bridge_message": _wrap_send_event_bridge_message(moto),
        "moto.s3.models.S3Backend.put_object": _wrap_put_object(
            o["moto.s3.models.S3Backend.put_object"]
        ),
        "moto.s3.models.S3Backend.delete_object": _wrap_delete_object(
            moto, o["moto.s3.models.S3Backend.delete_object"]
        ),
        "moto.s3.models.S3Backend.copy_object": _wrap_locked(
            o["moto.s3.models.S3Backend.copy_object"]
        ),
        "moto.s3.models.S3Backend.complete_multipart_upload": _wrap_in_context(
            o["moto.s3.models.S3Backend.complete_multipart_upload"], _completing_multipart
        ),
        "moto.s3.models.S3Backend.list_object_versions": _wrap_list_object_versions(
            o["moto.s3.models.S3Backend.list_object_versions"]
        ),
        "moto.s3.responses.S3Response.key_response": _wrap_serving(
            o["moto.s3.responses.S3Response.key_response"]
        ),
        "moto.s3.responses.S3Response.bucket_response": _wrap_serving(
            o["moto.s3.responses.S3Response.bucket_response"]
        ),
        "moto.s3.models.FakeKey.__init__": _wrap_strictly_later(
            o["moto.s3.models.FakeKey.__init__"]
        ),
        "moto.s3.models.FakeDeleteMarker.__init__": _wrap_strictly_later(
            o["moto.s3.models.FakeDeleteMarker.__init__"]
        ),
        "moto.s3.utils._VersionedKeyStore.iterlists": _wrap_iterlists(
            o["moto.s3.utils._VersionedKeyStore.iterlists"]
        ),
        "moto.s3.responses.S3Response.get_bucket_notification": _wrap_get_notification(
            o["moto.s3.responses.S3Response.get_bucket_notification"]
        ),
        _IS_VERSIONED: _wrap_is_versioned(moto.is_versioned),
    }
    for path, replacement in replacements.items():
        owner, name = _owner_and_name(path)
        setattr(owner, name, replacement)
    setattr(notifications, _INSTALLED_MARK, True)


# --- the client side ------------------------------------------------------------------------

# Set while lifecycle_expire's DeleteObject is being sent (per thread, so a client shared by
# several threads marks only that call).
_expiring: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "s3ledger_lifecycle_expiring", default=False
)
_LIFECYCLE_HANDLER_ID: Final = "s3ledger-lifecycle-expiration"


def _mark_lifecycle_expiration(request: Any, **_: Any) -> None:
    if _expiring.get():
        request.headers[LIFECYCLE_EXPIRATION_HEADER] = "true"


def lifecycle_expire(
    s3: S3Client, bucket: str, key: str, version_id: str | None = None
) -> DeleteObjectOutputTypeDef:
    """Delete ``key`` (or one version of it) on the workbench as S3 Lifecycle's expiration would.

    The DeleteObject carries :data:`LIFECYCLE_EXPIRATION_HEADER`, added through boto3's event
    system just before signing, so the patched moto notifies it as ``LifecycleExpiration:Delete``
    (a version or an unversioned object removed) or ``LifecycleExpiration:DeleteMarkerCreated``.
    On AWS the header means nothing: it would be an ordinary DeleteObject. Needs no moto.
    """
    # unique_id: registering again on the same client is a no-op.
    s3.meta.events.register(
        "before-sign.s3.DeleteObject",
        _mark_lifecycle_expiration,
        unique_id=_LIFECYCLE_HANDLER_ID,
    )
    token = _expiring.set(True)
    try:
        if version_id is None:
            return s3.delete_object(Bucket=bucket, Key=key)
        return s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
    finally:
        _expiring.reset(token)

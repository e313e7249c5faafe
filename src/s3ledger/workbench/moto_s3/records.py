"""What S3 says about one object operation: :class:`S3Operation`, the notification record it
becomes (SQS, SNS, Lambda) and the event it puts on EventBridge, with the event names and
documented field rules they follow. Needs no moto.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote_plus

__all__ = [
    "COMPLETE_MULTIPART",
    "CREATED",
    "EMPTY_ETAG",
    "EXPIRED",
    "LIFECYCLE_EXPIRATION_HEADER",
    "LIFECYCLE_PRINCIPAL",
    "REMOVED",
    "S3Operation",
    "eventbridge_event",
    "s3_record",
]

LIFECYCLE_EXPIRATION_HEADER: Final = "x-s3ledger-lifecycle-expiration"
"""A DeleteObject carrying this header (value ``true``) is notified as S3 Lifecycle's expiration."""

LIFECYCLE_PRINCIPAL: Final = "s3.amazonaws.com"
"""Who S3 Lifecycle's events name as principal, source IP and EventBridge requester (see
https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configure-notification.html and
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)."""

# Event-name prefixes, as "Event notification types" names them.
CREATED: Final = "s3:ObjectCreated:"
REMOVED: Final = "s3:ObjectRemoved:"
EXPIRED: Final = "s3:LifecycleExpiration:"
COMPLETE_MULTIPART: Final = "s3:ObjectCreated:CompleteMultipartUpload"
# The ETag of an empty body, which EventBridge's examples give a delete marker (ev-events.html).
EMPTY_ETAG: Final = "d41d8cd98f00b204e9800998ecf8427e"

# "Event message structure": version 2.3 for S3 Lifecycle, object ACL, object tagging and restore
# delete events, 2.1 for all other event types.
_EVENT_VERSION_2_3: Final = (
    EXPIRED,
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
    COMPLETE_MULTIPART: "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
    "s3:LifecycleExpiration:Delete": "Lifecycle Expiration",
    "s3:LifecycleExpiration:DeleteMarkerCreated": "Lifecycle Expiration",
}

# ev-events.html's detail types of the other events the workbench sends.
_OTHER_DETAIL_TYPES: Final = {
    "s3:ObjectTagging:Put": "Object Tags Added",
    "s3:ObjectTagging:Delete": "Object Tags Deleted",
    "s3:ObjectAcl:Put": "Object ACL Updated",
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
        return self.event_name.startswith(CREATED)

    @property
    def removed(self) -> bool:
        return self.event_name.startswith((REMOVED, EXPIRED))

    @property
    def by_lifecycle(self) -> bool:
        return self.event_name.startswith(EXPIRED)


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

    ``detail_type`` defaults to the one documented for the event type; ``event_id``
    defaults to a fresh UUID ("A Version 4 UUID generated for every event"). The key is not
    encoded. ``source-ip-address`` is "only present for events triggered by an S3 request", so
    lifecycle events have none.
    """
    if detail_type is None:
        if operation.created:
            detail_type = "Object Created"
        elif operation.removed:
            detail_type = "Object Deleted"
        elif operation.event_name in _OTHER_DETAIL_TYPES:
            detail_type = _OTHER_DETAIL_TYPES[operation.event_name]
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

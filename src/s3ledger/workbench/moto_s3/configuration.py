"""A bucket's notification configuration, kept by the workbench rather than by moto: parsed from
PutBucketNotificationConfiguration's document, answered back by GetBucketNotificationConfiguration,
and matched against each event. Needs no moto.

moto never sees the document, so moto's own notifier (whose records are not AWS's) never fires;
the workbench sends every notification itself (:mod:`.middleware`). Shapes and rules: "Event
notification types and destinations" and "Configuring event notifications using object key
name filtering"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html).
"""

from __future__ import annotations

import secrets
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "BucketNotifications",
    "ConfigurationError",
    "Destination",
    "NotificationStore",
    "parse_configuration",
]

_NS: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
# The document's element for each destination kind, and the element naming its ARN.
_KINDS: Final[dict[Literal["queue", "topic", "function"], tuple[str, str]]] = {
    "queue": ("QueueConfiguration", "Queue"),
    "topic": ("TopicConfiguration", "Topic"),
    "function": ("CloudFunctionConfiguration", "CloudFunction"),
}
# "Supported event types" (notification-how-to-event-types-and-destinations.html).
_EVENT_TYPES: Final = frozenset(
    {
        "s3:TestEvent",
        "s3:ObjectCreated:*",
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:CompleteMultipartUpload",
        "s3:ObjectRemoved:*",
        "s3:ObjectRemoved:Delete",
        "s3:ObjectRemoved:DeleteMarkerCreated",
        "s3:ObjectRestore:*",
        "s3:ObjectRestore:Post",
        "s3:ObjectRestore:Completed",
        "s3:ObjectRestore:Delete",
        "s3:ReducedRedundancyLostObject",
        "s3:Replication:*",
        "s3:Replication:OperationFailedReplication",
        "s3:Replication:OperationMissedThreshold",
        "s3:Replication:OperationReplicatedAfterThreshold",
        "s3:Replication:OperationNotTracked",
        "s3:LifecycleExpiration:*",
        "s3:LifecycleExpiration:Delete",
        "s3:LifecycleExpiration:DeleteMarkerCreated",
        "s3:LifecycleTransition",
        "s3:IntelligentTiering",
        "s3:ObjectTagging:*",
        "s3:ObjectTagging:Put",
        "s3:ObjectTagging:Delete",
        "s3:ObjectAcl:Put",
    }
)


class ConfigurationError(ValueError):
    """A document S3 would refuse: its error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Destination:
    """One queue, topic or function configuration of a bucket."""

    kind: Literal["queue", "topic", "function"]
    id: str
    arn: str
    events: tuple[str, ...]
    filter_rules: tuple[tuple[str, str], ...] = ()
    """``(name, value)`` as the document gives them: ``prefix`` or ``suffix``, any case."""

    @property
    def region(self) -> str:
        return self.arn.split(":")[3] if self.arn.count(":") >= 5 else ""

    def matches(self, event_name: str, key: str) -> bool:
        """Whether an event of this type on ``key`` goes to this destination."""
        wanted = any(
            event_name == e or (e.endswith(":*") and event_name.startswith(e[:-1]))
            for e in self.events
        )
        for name, value in self.filter_rules:
            if name.lower() == "prefix" and not key.startswith(value):
                return False
            if name.lower() == "suffix" and not key.endswith(value):
                return False
        return wanted


@dataclass(frozen=True, slots=True)
class BucketNotifications:
    """A bucket's whole notification document, and the region its events name."""

    destinations: tuple[Destination, ...] = ()
    eventbridge: bool = False
    region: str = "us-east-1"

    @property
    def empty(self) -> bool:
        return not self.destinations and not self.eventbridge

    def to_xml(self) -> bytes:
        """The document GetBucketNotificationConfiguration answers."""
        root = ET.Element("NotificationConfiguration", xmlns=_NS)
        for kind in _KINDS:
            element, arn_element = _KINDS[kind]
            for destination in (d for d in self.destinations if d.kind == kind):
                node = ET.SubElement(root, element)
                ET.SubElement(node, "Id").text = destination.id
                ET.SubElement(node, arn_element).text = destination.arn
                for event in destination.events:
                    ET.SubElement(node, "Event").text = event
                if destination.filter_rules:
                    key = ET.SubElement(ET.SubElement(node, "Filter"), "S3Key")
                    for name, value in destination.filter_rules:
                        rule = ET.SubElement(key, "FilterRule")
                        ET.SubElement(rule, "Name").text = name
                        ET.SubElement(rule, "Value").text = value
        if self.eventbridge:
            ET.SubElement(root, "EventBridgeConfiguration")
        return b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in node if _local(child.tag) == name]


def _text(node: ET.Element, name: str) -> str:
    found = _children(node, name)
    return (found[0].text or "").strip() if found else ""


def _destination(kind: Literal["queue", "topic", "function"], node: ET.Element) -> Destination:
    arn = _text(node, _KINDS[kind][1])
    events = tuple((e.text or "").strip() for e in _children(node, "Event"))
    if not arn or not events:
        raise ConfigurationError("MalformedXML", "The XML you provided was not well-formed")
    unknown = [e for e in events if e not in _EVENT_TYPES]
    if unknown:
        raise ConfigurationError(
            "InvalidArgument", f"The event is not supported for notifications: {unknown[0]}"
        )
    rules = tuple(
        (_text(rule, "Name"), _text(rule, "Value"))
        for flt in _children(node, "Filter")
        for key in _children(flt, "S3Key")
        for rule in _children(key, "FilterRule")
    )
    # S3 names a configuration given without an Id (moto's and AWS's ids are opaque strings).
    given = _text(node, "Id") or secrets.token_urlsafe(36)
    return Destination(kind=kind, id=given, arn=arn, events=events, filter_rules=rules)


def parse_configuration(document: bytes, region: str) -> BucketNotifications:
    """Read a PutBucketNotificationConfiguration body for a bucket in ``region``; raise
    :class:`ConfigurationError` where S3 would refuse it (malformed XML, an unknown event type,
    a destination in another region)."""
    try:
        root = ET.fromstring(document or b"<NotificationConfiguration/>")  # noqa: S314 -- see import
    except ET.ParseError as error:
        raise ConfigurationError(
            "MalformedXML", "The XML you provided was not well-formed"
        ) from error
    destinations = tuple(
        _destination(kind, node)
        for kind, (element, _) in _KINDS.items()
        for node in _children(root, element)
    )
    for destination in destinations:
        if destination.region != region:
            # moto's check, and S3's ("The notification destination service region is not
            # valid for the bucket location constraint").
            raise ConfigurationError(
                "InvalidArgument",
                "The notification destination service region is not valid for the bucket "
                "location constraint",
            )
    return BucketNotifications(
        destinations=destinations,
        eventbridge=bool(_children(root, "EventBridgeConfiguration")),
        region=region,
    )


@dataclass
class NotificationStore:
    """Every bucket's notification document, shared by moto's server threads."""

    _by_bucket: dict[str, BucketNotifications] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, bucket: str) -> BucketNotifications | None:
        with self._lock:
            return self._by_bucket.get(bucket)

    def put(self, bucket: str, notifications: BucketNotifications) -> None:
        with self._lock:
            if notifications.empty:
                self._by_bucket.pop(bucket, None)
            else:
                self._by_bucket[bucket] = notifications

    def forget(self, bucket: str) -> None:
        """The bucket is gone: a new bucket of that name starts without notifications."""
        with self._lock:
            self._by_bucket.pop(bucket, None)

"""Envelopes in, ``ObjectEvent`` out: parsing, identity, and what an event does to the object.

Pure: no boto3, no I/O. S3 object events reach a Lambda function in these envelopes, all parsed
here into the same ``ObjectEvent``:

==========================================  ====================================================
envelope                                    what the handler receives
==========================================  ====================================================
S3 → Lambda                                 ``{"Records": [{"eventSource": "aws:s3", ...}]}``
S3 → SQS → Lambda                           SQS records whose body is that notification (or
                                            ``s3:TestEvent``); one body may hold several records
S3 → SNS → SQS, raw message delivery        the same body as S3 → SQS
S3 → SNS → SQS                              an SNS envelope (``"Type": "Notification"``) whose
                                            ``Message`` is the notification
S3 → EventBridge → Lambda                   an EventBridge event (``"source": "aws.s3"``)
S3 → EventBridge → SQS → Lambda             SQS records whose body is that EventBridge event
==========================================  ====================================================

Event shapes: *Event message structure*
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html) and
*EventBridge event message structure*
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html). The order of one key's
events is :mod:`s3ledger.core.order`'s.

Why the accessors are hand-written rather than Powertools' data classes: a record that cannot be
parsed must fail with an error naming the missing field (Powertools raises a bare ``KeyError``), and
Powertools' EventBridge ``key`` applies ``unquote_plus`` to a key EventBridge sends unencoded, which
turns a literal ``+`` into a space.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal
from urllib.parse import unquote_plus

from s3ledger.core.errors import MalformedRecordError, SequencerError
from s3ledger.core.order import (
    SEQUENCER_WIDTH,
    EventOrder,
    compare_sequencers,
    normalize_event_time,
    pad_sequencer,
)

__all__ = [
    "SEQUENCER_WIDTH",
    "Effect",
    "EnvelopeKind",
    "ObjectEvent",
    "ParsedMessage",
    "compare_sequencers",
    "detect_envelope",
    "event_id_for",
    "identity_digest",
    "pad_sequencer",
    "parse_eventbridge_event",
    "parse_s3_event",
    "parse_s3_record",
    "parse_sqs_body",
]

EnvelopeKind = Literal["s3", "sqs", "eventbridge"]

# Marks an identity built without a sequencer. "~" sorts after every hex digit.
_UNSEQUENCED: Final = "~"
_FIELD_SEPARATOR: Final = "\x1f"
_DIGEST_LENGTH: Final = 24
# The event types that change what a GET without a version id returns (or may: removals).
_OBJECT_EVENT_PREFIXES: Final = ("ObjectCreated:", "ObjectRemoved:", "LifecycleExpiration:")

_EVENTBRIDGE_TYPES: Final = {"Object Created": "ObjectCreated", "Object Deleted": "ObjectRemoved"}
# EventBridge names the API call in `reason`; S3 notifications name the same events this way.
_EVENTBRIDGE_REASONS: Final = {
    "PutObject": "Put",
    "POST Object": "Post",
    "CopyObject": "Copy",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
}
_EVENTBRIDGE_DELETIONS: Final = {
    "Permanently Deleted": "Delete",
    "Delete Marker Created": "DeleteMarkerCreated",
}


class Effect(StrEnum):
    """What an event does to what a GET without a version id returns (the ledger's state).

    See the README's event table. S3's *Deleting object versions* and *Working with delete
    markers* pages: a DELETE without a version id on a versioned bucket adds a delete marker; a
    DELETE of a version id removes that version (or marker) for good, and if it was the current
    one, the version before it becomes current again.
    """

    CURRENT = "current"  # a new version became current: the event carries the new state
    HIDDEN = "hidden"  # a delete marker became current, or an unversioned object went: deleted
    # A version or delete marker was removed for good: the object may be unchanged (it was not
    # current), show an older version, or come back. Only S3 knows: the writer asks it.
    RESOLVE = "resolve"


def event_id_for(object_id: str, token: str) -> str:
    """The audit log's key: one S3 event of one object."""
    return f"{object_id}#{token}"


def identity_digest(*fields: str) -> str:
    """The digest that names an event without a sequencer: sha256 of ``fields`` (joined by the
    unit separator, which no field holds), 24 hex digits. S3's events (:class:`ObjectEvent`) and
    the operator's synthetic ones (:mod:`s3ledger.core.synthetic`) are named by it alike."""
    return hashlib.sha256(_FIELD_SEPARATOR.join(fields).encode()).hexdigest()[:_DIGEST_LENGTH]


def _effect(event_name: str, version_id: str | None) -> Effect:
    if event_name.startswith("ObjectCreated:"):
        return Effect.CURRENT
    if event_name.endswith(":DeleteMarkerCreated"):
        return Effect.HIDDEN
    # ObjectRemoved:Delete / LifecycleExpiration:Delete. Without a version id the bucket is
    # unversioned (S3 sends versionId only "if bucket is versioning-enabled"): the object is gone.
    return Effect.HIDDEN if version_id is None else Effect.RESOLVE


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """One S3 object event, whatever envelope it came in.

    Identity (``event_id``): ``object_id#<padded sequencer>``; without a sequencer,
    ``object_id#~<event time>~<digest>`` with the digest taken over the fields that tell two
    events of one key apart and are the same in every duplicate of one (versionId, eTag,
    eventTime, eventName). md5 of the key, the article's identity, would make a re-upload a
    duplicate. ``identity`` overrides the token for synthetic events (reconcile's repairs).

    Provenance (``requester``, ``source_ip``, ``s3_request_id``) is recorded in the audit log,
    where the event carries it.
    """

    bucket: str
    key: str
    event_name: str
    event_time: str
    sequencer: str | None = None
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    requester: str | None = None
    source_ip: str | None = None
    s3_request_id: str | None = None
    identity: str = field(default="", kw_only=True)
    order: EventOrder = field(init=False)
    event_id: str = field(init=False)

    def __post_init__(self) -> None:
        if "#" in self.identity:  # the audit log splits an event id at its last "#"
            raise ValueError(f"an event identity holds no '#': {self.identity!r}")
        event_time = normalize_event_time(self.event_time)
        if self.sequencer is not None:
            if self.identity:
                raise SequencerError("give an event a sequencer or an explicit identity, not both")
            sequencer = pad_sequencer(self.sequencer)
            object.__setattr__(self, "sequencer", sequencer)
            order = EventOrder(sequencer, event_time, event_time)
            token = sequencer
        else:
            suffix = self.identity or identity_digest(
                self.version_id or "", self.etag or "", self.event_time, self.event_name
            )
            time_key = f"{event_time}{_UNSEQUENCED}{suffix}"
            order = EventOrder(None, event_time, time_key)
            token = _UNSEQUENCED + time_key
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "event_id", event_id_for(self.object_id, token))

    @property
    def object_id(self) -> str:
        """The ledger's key: one object, ``bucket/key`` with the key decoded."""
        return f"{self.bucket}/{self.key}"

    @property
    def is_removal(self) -> bool:
        return not self.event_name.startswith("ObjectCreated:")

    @property
    def effect(self) -> Effect:
        return _effect(self.event_name, self.version_id)


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What one envelope holds: the object events, and what was recognised and set aside."""

    events: tuple[ObjectEvent, ...] = ()
    ignored: tuple[str, ...] = ()


def _get(mapping: Mapping[str, Any], path: str, kind: type | tuple[type, ...] = str) -> Any:
    """Follow a dotted ``path``; name the missing or mistyped field in the error."""
    node: Any = mapping
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise MalformedRecordError(f"record has no {path!r}")
        node = node[part]
    if not isinstance(node, kind):
        raise MalformedRecordError(f"record field {path!r} has type {type(node).__name__}")
    return node


def _optional(mapping: Mapping[str, Any], path: str) -> Any:
    node: Any = mapping
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _optional_str(mapping: Mapping[str, Any], path: str) -> str | None:
    value = _optional(mapping, path)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedRecordError(f"record field {path!r} is not a string")
    return value


def _optional_size(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedRecordError(f"record field {path!r} is not a number")
    try:
        return int(value)
    except ValueError:
        raise MalformedRecordError(f"record field {path!r} is not a number") from None


def parse_s3_record(record: Mapping[str, Any]) -> ObjectEvent | None:
    """Parse one S3 notification record; ``None`` for event types that leave the object as is.

    The key arrives URL-encoded in form style (a space is ``+``, a ``+`` is ``%2B``; moto also
    encodes ``/`` as ``%2F``): ``unquote_plus`` undoes all of it.
    """
    if not isinstance(record, Mapping):
        raise MalformedRecordError("record is not an object")
    event_name = _get(record, "eventName").removeprefix("s3:")
    if not event_name.startswith(_OBJECT_EVENT_PREFIXES):
        return None
    return ObjectEvent(
        bucket=_get(record, "s3.bucket.name"),
        key=unquote_plus(_get(record, "s3.object.key")),
        event_name=event_name,
        event_time=_get(record, "eventTime"),
        sequencer=_optional_str(record, "s3.object.sequencer"),
        size=_optional_size(_optional(record, "s3.object.size"), "s3.object.size"),
        etag=_optional_str(record, "s3.object.eTag"),
        version_id=_optional_str(record, "s3.object.versionId"),
        requester=_optional_str(record, "userIdentity.principalId"),
        source_ip=_optional_str(record, "requestParameters.sourceIPAddress"),
        s3_request_id=_optional_str(record, "responseElements.x-amz-request-id"),
    )


def parse_s3_event(event: Mapping[str, Any]) -> ParsedMessage:
    """Parse an S3 notification (``{"Records": [...]}``) or an ``s3:TestEvent``.

    A notification with one bad record fails as a whole: it is one message, redelivered as one.
    """
    if not isinstance(event, Mapping):
        raise MalformedRecordError("notification is not a JSON object")
    if event.get("Event") == "s3:TestEvent":
        return ParsedMessage(ignored=("s3:TestEvent",))
    records = _get(event, "Records", list)
    events: list[ObjectEvent] = []
    ignored: list[str] = []
    for index, record in enumerate(records):
        try:
            parsed = parse_s3_record(record)
        except MalformedRecordError as exc:
            raise MalformedRecordError(f"Records[{index}]: {exc}") from None
        if parsed is None:
            ignored.append(str(record.get("eventName")))
        else:
            events.append(parsed)
    return ParsedMessage(events=tuple(events), ignored=tuple(ignored))


def parse_sqs_body(body: str) -> ParsedMessage:
    """Parse the body of an SQS message: an S3 notification (directly, or through SNS with or
    without raw delivery) or an EventBridge event (an EventBridge rule with an SQS target)."""
    try:
        payload = json.loads(body)
    except (TypeError, ValueError):
        raise MalformedRecordError("message body is not JSON") from None
    if isinstance(payload, Mapping):
        # S3 → SNS → SQS without raw delivery wraps the notification in an SNS envelope.
        if payload.get("Type") == "Notification":
            return parse_sqs_body(_get(payload, "Message"))
        if "detail-type" in payload:
            return parse_eventbridge_event(payload)
    return parse_s3_event(payload)


def _eventbridge_name(event: Mapping[str, Any], detail_type: str) -> str:
    reason = _optional_str(event, "detail.reason") or ""
    prefix = "LifecycleExpiration" if reason == "Lifecycle Expiration" else None
    if detail_type == "Object Deleted":
        deletion = _optional_str(event, "detail.deletion-type") or ""
        if deletion not in _EVENTBRIDGE_DELETIONS:
            raise MalformedRecordError(f"unknown detail.deletion-type {deletion!r}")
        return f"{prefix or 'ObjectRemoved'}:{_EVENTBRIDGE_DELETIONS[deletion]}"
    return f"ObjectCreated:{_EVENTBRIDGE_REASONS.get(reason, reason.replace(' ', '') or 'Put')}"


def parse_eventbridge_event(event: Mapping[str, Any]) -> ParsedMessage:
    """Parse an S3 event delivered by EventBridge (its key is not URL-encoded)."""
    if not isinstance(event, Mapping):
        raise MalformedRecordError("event is not a JSON object")
    detail_type = _get(event, "detail-type")
    if _get(event, "source") != "aws.s3" or detail_type not in _EVENTBRIDGE_TYPES:
        return ParsedMessage(ignored=(f"{event.get('source')}:{detail_type}",))
    parsed = ObjectEvent(
        bucket=_get(event, "detail.bucket.name"),
        key=_get(event, "detail.object.key"),
        event_name=_eventbridge_name(event, detail_type),
        event_time=_get(event, "time"),
        sequencer=_optional_str(event, "detail.object.sequencer"),
        size=_optional_size(_optional(event, "detail.object.size"), "detail.object.size"),
        etag=_optional_str(event, "detail.object.etag"),
        version_id=_optional_str(event, "detail.object.version-id"),
        requester=_optional_str(event, "detail.requester"),
        source_ip=_optional_str(event, "detail.source-ip-address"),
        s3_request_id=_optional_str(event, "detail.request-id"),
    )
    return ParsedMessage(events=(parsed,))


def detect_envelope(payload: Mapping[str, Any]) -> EnvelopeKind:
    """Tell which Lambda trigger a payload comes from: ``s3``, ``sqs`` or ``eventbridge``."""
    if not isinstance(payload, Mapping):
        raise MalformedRecordError("event is not a JSON object")
    if "detail-type" in payload and "detail" in payload:
        return "eventbridge"
    records = payload.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        source = records[0].get("eventSource")
        if source == "aws:sqs":
            return "sqs"
        if source == "aws:s3":
            return "s3"
    raise MalformedRecordError(
        "event is neither an S3 notification, an SQS batch nor an EventBridge event"
    )

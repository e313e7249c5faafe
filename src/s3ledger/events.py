"""Envelopes in, ``ObjectEvent`` out: parsing, identity and the order of one key's events.

Pure: no boto3, no I/O. Three envelopes carry S3 object events:

* a direct S3 → Lambda event (``{"Records": [{"eventSource": "aws:s3", ...}]}``);
* an SQS message whose body is that same notification (S3 → SQS → Lambda), or ``s3:TestEvent``;
* an EventBridge "Object Created" / "Object Deleted" event (S3 → EventBridge → Lambda).

Why the accessors are hand-written rather than Powertools' data classes: a record that cannot be
parsed must fail with an error naming the missing field (Powertools raises a bare ``KeyError``), and
Powertools' EventBridge ``key`` applies ``unquote_plus`` to a key EventBridge sends unencoded, which
turns a literal ``+`` into a space.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote_plus

from s3ledger.errors import MalformedRecordError, SequencerError

__all__ = [
    "SEQUENCER_WIDTH",
    "EnvelopeKind",
    "ObjectEvent",
    "ParsedMessage",
    "compare_sequencers",
    "detect_envelope",
    "event_id_for",
    "pad_sequencer",
    "parse_eventbridge_event",
    "parse_s3_event",
    "parse_s3_record",
    "parse_sqs_body",
]

# S3 sequencers are hex strings of varying length (commonly 16 to 18 digits). Left-padding to one
# fixed width makes plain string comparison, in Python and in a DynamoDB condition, the right order.
SEQUENCER_WIDTH = 32

# Marks an ordering key built without a sequencer. "~" sorts after every hex digit, so the two kinds
# never interleave; they never meet anyway, since one key's events all come from one source.
_UNSEQUENCED = "~"

_HEX = frozenset(string.hexdigits)

EnvelopeKind = Literal["s3", "sqs", "eventbridge"]

_EVENTBRIDGE_TYPES = {"Object Created": "ObjectCreated", "Object Deleted": "ObjectRemoved"}
# EventBridge gives the API call in `reason`; S3 notifications name the same events this way.
_EVENTBRIDGE_REASONS = {
    "PutObject": "Put",
    "POST Object": "Post",
    "CopyObject": "Copy",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
    "DeleteObject": "Delete",
    "DeleteObjects": "Delete",
    "Lifecycle Expiration": "LifecycleExpiration",
}


def pad_sequencer(sequencer: str) -> str:
    """Return ``sequencer`` upper-cased and left-padded with zeros to ``SEQUENCER_WIDTH``.

    >>> pad_sequencer("9f") < pad_sequencer("0100")
    True
    """
    if not sequencer or len(sequencer) > SEQUENCER_WIDTH:
        raise SequencerError(
            f"sequencer must be 1 to {SEQUENCER_WIDTH} hex digits, got {len(sequencer)}"
        )
    if not _HEX.issuperset(sequencer):
        raise SequencerError(f"sequencer is not hexadecimal: {sequencer!r}")
    return sequencer.upper().rjust(SEQUENCER_WIDTH, "0")


def compare_sequencers(a: str, b: str) -> int:
    """Order two sequencers of one key: negative if ``a`` is older, 0 if equal, positive if newer.

    Sequencers are only comparable within one object key; comparing across keys means nothing.
    """
    pa, pb = pad_sequencer(a), pad_sequencer(b)
    return (pa > pb) - (pa < pb)


def event_id_for(object_id: str, order_key: str) -> str:
    """The audit log's key: one S3 event of one object."""
    return f"{object_id}#{order_key}"


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """One S3 object event, whatever envelope it came in.

    ``order_key`` orders the events of one object. It is the padded sequencer when the record has
    one. Without it (moto, some event types) it is ``~<eventTime>~<digest>``: ordering falls back
    to eventTime, with ties broken by a digest of the fields that identify the event. That order
    is weaker: two writes of one key within one millisecond are ordered arbitrarily (but the same
    way on every delivery, so replicas never diverge).
    """

    bucket: str
    key: str
    event_name: str
    event_time: str
    sequencer: str | None = None
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    order_key: str = field(default="", kw_only=True)
    event_id: str = field(init=False)

    def __post_init__(self) -> None:
        if self.order_key:
            # A synthetic event (reconcile) brings its own order key: no sequencer, no digest.
            if self.sequencer is not None:
                raise SequencerError("give an event a sequencer or an explicit order_key, not both")
            order_key = self.order_key
        elif self.sequencer is not None:
            order_key = pad_sequencer(self.sequencer)
            object.__setattr__(self, "sequencer", order_key)
        else:
            # md5 of the key is the article's mistake (a re-upload is a new event); these fields
            # differ between two events of one key, and are the same in every duplicate of one.
            identity = "\x1f".join(
                (self.version_id or "", self.etag or "", self.event_time, self.event_name)
            )
            digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
            order_key = f"{_UNSEQUENCED}{self.event_time}{_UNSEQUENCED}{digest}"
        object.__setattr__(self, "order_key", order_key)
        object.__setattr__(self, "event_id", event_id_for(self.object_id, order_key))

    @property
    def object_id(self) -> str:
        """The ledger's key: one object, ``bucket/key`` with the key decoded."""
        return f"{self.bucket}/{self.key}"

    @property
    def is_removal(self) -> bool:
        return self.event_name.startswith("ObjectRemoved")


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
    """Parse one S3 notification record; ``None`` for event types that do not change an object.

    The key arrives URL-encoded in form style (a space is ``+``, a ``+`` is ``%2B``; moto also
    encodes ``/`` as ``%2F``): ``unquote_plus`` undoes all of it.
    """
    if not isinstance(record, Mapping):
        raise MalformedRecordError("record is not an object")
    event_name = _get(record, "eventName")
    event_name = event_name.removeprefix("s3:")
    if not event_name.startswith(("ObjectCreated:", "ObjectRemoved:")):
        return None
    sequencer = _optional(record, "s3.object.sequencer")
    if sequencer is not None and not isinstance(sequencer, str):
        raise MalformedRecordError("record field 's3.object.sequencer' is not a string")
    return ObjectEvent(
        bucket=_get(record, "s3.bucket.name"),
        key=unquote_plus(_get(record, "s3.object.key")),
        event_name=event_name,
        event_time=_get(record, "eventTime"),
        sequencer=sequencer or None,
        size=_optional_size(_optional(record, "s3.object.size"), "s3.object.size"),
        etag=_optional(record, "s3.object.eTag") or None,
        version_id=_optional(record, "s3.object.versionId") or None,
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
    """Parse the body of an SQS message that S3 (directly, or through SNS) sent."""
    try:
        payload = json.loads(body)
    except (TypeError, ValueError):
        raise MalformedRecordError("message body is not JSON") from None
    # S3 → SNS → SQS without raw delivery wraps the notification in an SNS envelope.
    if isinstance(payload, Mapping) and payload.get("Type") == "Notification":
        return parse_sqs_body(_get(payload, "Message"))
    return parse_s3_event(payload)


def parse_eventbridge_event(event: Mapping[str, Any]) -> ParsedMessage:
    """Parse an S3 event delivered by EventBridge (its key is not URL-encoded)."""
    detail_type = _get(event, "detail-type")
    if _get(event, "source") != "aws.s3" or detail_type not in _EVENTBRIDGE_TYPES:
        return ParsedMessage(ignored=(f"{event.get('source')}:{detail_type}",))
    reason = _optional(event, "detail.reason") or ""
    if _optional(event, "detail.deletion-type") == "Delete Marker Created":
        action = "DeleteMarkerCreated"
    else:
        action = _EVENTBRIDGE_REASONS.get(reason, reason.replace(" ", "") or "Unknown")
    sequencer = _optional(event, "detail.object.sequencer")
    if sequencer is not None and not isinstance(sequencer, str):
        raise MalformedRecordError("record field 'detail.object.sequencer' is not a string")
    parsed = ObjectEvent(
        bucket=_get(event, "detail.bucket.name"),
        key=_get(event, "detail.object.key"),
        event_name=f"{_EVENTBRIDGE_TYPES[detail_type]}:{action}",
        event_time=_get(event, "time"),
        sequencer=sequencer or None,
        size=_optional_size(_optional(event, "detail.object.size"), "detail.object.size"),
        etag=_optional(event, "detail.object.etag") or None,
        version_id=_optional(event, "detail.object.version-id") or None,
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

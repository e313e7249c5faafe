"""Parsing envelopes into ObjectEvent: keys, identity, ordering, and clear errors."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

from s3ledger.bench.units import rule_write_units
from s3ledger.core.errors import MalformedRecordError, SequencerError
from s3ledger.core.events import (
    Effect,
    ObjectEvent,
    compare_sequencers,
    detect_envelope,
    pad_sequencer,
    parse_eventbridge_event,
    parse_s3_event,
    parse_s3_record,
    parse_sqs_body,
)
from s3ledger.core.ledger import audit_item, to_item

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = "2026-11-27T10:00:00.000+00:00"


def parse_one(record: dict[str, Any]) -> ObjectEvent:
    event = parse_s3_record(record)
    assert event is not None
    return event


def s3_record(
    key: str, *, sequencer: str | None = "0055AED6DCD90281E5", **extra: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e"}
    if sequencer is not None:
        obj["sequencer"] = sequencer
    record: dict[str, Any] = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": "2026-11-26T10:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "bucket"}, "object": obj},
    }
    record.update(extra)
    return record


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("my+file.txt", "my file.txt"),
        ("c%2B%2B.tar.gz", "c++.tar.gz"),
        ("100%25.csv", "100%.csv"),
        ("caf%C3%A9/%E6%97%A5%E6%9C%AC.txt", "café/日本.txt"),
        ("reports%2F2026%2Fq3.csv", "reports/2026/q3.csv"),  # moto encodes "/" too
        ("a+%2B+b", "a + b"),
    ],
)
def test_keys_are_decoded_form_style(encoded: str, decoded: str) -> None:
    """S3 keys arrive URL-encoded form style and are decoded exactly once."""
    event = parse_one(s3_record(encoded))
    assert event is not None
    assert event.key == decoded
    assert event.object_id == f"bucket/{decoded}"


def test_a_1024_byte_key_round_trips() -> None:
    """The longest key S3 allows (1024 UTF-8 bytes) survives encoding and decoding intact."""
    key = ("é" * 511) + "xy"
    assert len(key.encode()) == 1024
    event = parse_one(s3_record(quote_plus(key)))
    assert event is not None
    assert event.key == key


def test_event_id_is_object_and_right_padded_sequencer() -> None:
    """event_id = object_id + '#' + the sequencer upper-cased and right-padded to 32 digits."""
    event = parse_one(s3_record("k", sequencer="9f"))
    assert event is not None
    assert event.event_id == "bucket/k#9F" + "0" * 30


def test_a_reupload_is_a_new_event_and_a_duplicate_is_not() -> None:
    """Two uploads of one key differ in event_id; two deliveries of one upload do not."""
    first = parse_one(s3_record("k", sequencer="0055AED6DCD90281E5"))
    again = parse_one(s3_record("k", sequencer="0055AED6DCD90281E5"))
    reupload = parse_one(s3_record("k", sequencer="0055AED6DCD90281F0"))
    assert first.event_id == again.event_id
    assert first.event_id != reupload.event_id
    assert first.object_id == reupload.object_id


# S3's rule (Event message structure): right-pad the shorter sequencer with zeros, then compare
# lexicographically. The first pair is the one from the corrected design note; left-padding
# would order every pair of different lengths here the other way round.
@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("0062E99A88DC407460", "0062E99A88DC4075"),
        ("0100", "9F"),
        ("100", "ff"),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E6"),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E500000000000001"),
        ("1", "2"),
        ("00ab", "00AC"),
    ],
)
def test_sequencers_of_different_lengths_compare_after_right_padding(
    older: str, newer: str
) -> None:
    """The shorter sequencer is right-padded with zeros before a string comparison."""
    assert compare_sequencers(older, newer) < 0
    assert compare_sequencers(newer, older) > 0
    assert compare_sequencers(older, older) == 0
    assert pad_sequencer(older) < pad_sequencer(newer)


def test_trailing_zeros_do_not_change_a_sequencer() -> None:
    """Right-padding makes ``ABC`` and ``ABC0`` one and the same position."""
    assert compare_sequencers("ABC", "abc0") == 0
    assert pad_sequencer("ABC") == pad_sequencer("ABC000")


@pytest.mark.parametrize("bad", ["", "xyz", "0x12", "1" * 33])
def test_a_bad_sequencer_is_a_specific_error(bad: str) -> None:
    """A sequencer that cannot be ordered is rejected with SequencerError, not mis-ordered."""
    with pytest.raises(SequencerError):
        pad_sequencer(bad)


def test_without_sequencer_identity_is_a_digest_of_identifying_fields() -> None:
    """Without a sequencer the id falls back to time and a digest; different events differ."""
    one = parse_one(s3_record("k", sequencer=None))
    same = parse_one(s3_record("k", sequencer=None))
    later = parse_one(s3_record("k", sequencer=None, eventTime="2026-11-26T10:00:01.000Z"))
    assert one.sequencer is None
    assert one.event_id == same.event_id
    assert one.event_id != later.event_id
    assert one.event_id.startswith("bucket/k#~2026-11-26T10:00:00.000Z~")
    assert one.order.time_key < later.order.time_key  # falls back to eventTime order


def test_event_times_are_normalized_to_milliseconds_utc() -> None:
    """EventBridge's whole seconds and S3's milliseconds sort together as times."""
    seconds = parse_one(s3_record("k", eventTime="2026-11-26T10:00:01Z"))
    millis = parse_one(s3_record("k", eventTime="2026-11-26T10:00:00.999Z"))
    assert seconds.order.event_time == "2026-11-26T10:00:01.000Z"
    assert millis.order.event_time < seconds.order.event_time


def test_an_unreadable_event_time_is_a_malformed_record() -> None:
    with pytest.raises(MalformedRecordError, match="ISO 8601"):
        parse_one(s3_record("k", eventTime="yesterday"))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (("s3", "object", "key"), "'s3.object.key'"),
        (("s3", "bucket"), "'s3.bucket.name'"),
        (("eventTime",), "'eventTime'"),
        (("eventName",), "'eventName'"),
    ],
)
def test_a_missing_field_is_named(path: tuple[str, ...], message: str) -> None:
    """A record missing a field raises MalformedRecordError naming that field."""
    record = s3_record("k")
    node: Any = record
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    with pytest.raises(MalformedRecordError, match=re.escape(message)):
        parse_s3_record(record)


def test_a_mistyped_size_is_named() -> None:
    record = s3_record("k")
    record["s3"]["object"]["size"] = "big"
    with pytest.raises(MalformedRecordError, match=r"s3\.object\.size"):
        parse_s3_record(record)


def test_other_event_types_are_set_aside_not_dropped_silently() -> None:
    """Events that do not change an object (restore, tagging) are listed as ignored."""
    parsed = parse_s3_event(
        {"Records": [s3_record("k"), s3_record("k", eventName="ObjectTagging:Put")]}
    )
    assert len(parsed.events) == 1
    assert parsed.ignored == ("ObjectTagging:Put",)


def test_the_s3_test_event_is_recognised_and_ignored() -> None:
    """s3:TestEvent, which S3 sends when a notification is configured, yields no event."""
    body = (EVENTS / "sqs-test-event.json").read_text()
    message = json.loads(body)["Records"][0]["body"]
    parsed = parse_sqs_body(message)
    assert parsed.events == ()
    assert parsed.ignored == ("s3:TestEvent",)


@pytest.mark.parametrize(
    "body", ["not json", "[]", '{"Records": "x"}', '{"Records": [42]}', "null"]
)
def test_a_malformed_body_is_a_malformed_record_error(body: str) -> None:
    with pytest.raises(MalformedRecordError):
        parse_sqs_body(body)


def test_a_bad_record_names_its_position() -> None:
    """In a notification with several records, the error says which one is bad."""
    bad = s3_record("k")
    del bad["eventTime"]
    with pytest.raises(MalformedRecordError, match=r"Records\[1\]"):
        parse_s3_event({"Records": [s3_record("j"), bad]})


def test_sns_wrapped_notification_is_unwrapped() -> None:
    body = json.dumps(
        {"Type": "Notification", "Message": json.dumps({"Records": [s3_record("k")]})}
    )
    assert len(parse_sqs_body(body).events) == 1


def test_eventbridge_object_created_keeps_its_unencoded_key() -> None:
    """EventBridge keys are not URL-encoded: a literal '+' stays a '+'."""
    payload = json.loads((EVENTS / "eventbridge-object-created.json").read_text())
    payload["detail"]["object"]["key"] = "a+b c.txt"
    (event,) = parse_eventbridge_event(payload).events
    assert event.key == "a+b c.txt"
    assert event.event_name == "ObjectCreated:Put"
    assert event.sequencer is not None


def test_eventbridge_object_deleted_is_a_removal() -> None:
    payload = json.loads((EVENTS / "eventbridge-object-deleted.json").read_text())
    (event,) = parse_eventbridge_event(payload).events
    assert event.is_removal
    assert event.event_name.startswith("ObjectRemoved:")


def test_eventbridge_and_s3_agree_on_identity() -> None:
    """The same S3 event has one event_id whether it came through S3 or EventBridge."""
    via_s3 = ObjectEvent("b", "a b+c", "ObjectCreated:Put", "2026-11-26T10:00:00Z", sequencer="0A")
    record = s3_record("a+b%2Bc", sequencer="0a")
    record["s3"]["bucket"]["name"] = "b"
    parsed = parse_s3_record(record)
    assert parsed is not None
    assert parsed.event_id == via_s3.event_id


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("s3-put.json", "s3"),
        ("s3-delete.json", "s3"),
        ("sqs-s3-put.json", "sqs"),
        ("sqs-test-event.json", "sqs"),
        ("eventbridge-object-created.json", "eventbridge"),
    ],
)
def test_envelopes_are_detected(name: str, kind: str) -> None:
    assert detect_envelope(json.loads((EVENTS / name).read_text())) == kind


def test_an_unknown_envelope_is_refused_clearly() -> None:
    with pytest.raises(MalformedRecordError, match="neither"):
        detect_envelope({"hello": "world"})


def test_provenance_is_read_from_every_envelope() -> None:
    """Requester, source IP and S3 request id come from the S3 record's userIdentity,
    requestParameters and responseElements, or from EventBridge's detail."""
    (via_s3,) = parse_s3_event(json.loads((EVENTS / "s3-put.json").read_text())).events
    assert (via_s3.requester, via_s3.source_ip, via_s3.s3_request_id) == (
        "AWS:AIDAJDPLRKLG7UEXAMPLE",
        "198.51.100.24",
        "C3D13FE58DE4C810",
    )
    payload = json.loads((EVENTS / "eventbridge-object-created.json").read_text())
    (via_eventbridge,) = parse_eventbridge_event(payload).events
    assert (via_eventbridge.requester, via_eventbridge.s3_request_id) == (
        "123456789012",
        "C3D13FE58DE4C810",
    )
    assert via_eventbridge.version_id == via_s3.version_id


@pytest.mark.parametrize(("key_bytes", "units"), [(40, 1), (250, 1), (400, 2)])
def test_a_full_audit_item_costs_one_write_unit_up_to_a_250_byte_key(
    key_bytes: int, units: int
) -> None:
    """Every provenance column set: with a key of up to 250 bytes (a 20-character bucket) the
    audit item stays under 1 KB, one write unit by DynamoDB's size rule (two in a transaction);
    the key appears twice (object_id, event_id), so a 400-byte key costs two."""
    record = json.loads((EVENTS / "s3-put.json").read_text())["Records"][0]
    record["s3"]["object"]["key"] = quote_plus("k" * key_bytes)
    event = parse_one(record)
    item = audit_item(event, outcome="applied", request_id=str(uuid.uuid4()), processed_at=NOW)
    assert {"requester", "source_ip", "s3_request_id", "version_id", "size", "etag"} <= set(item)
    assert rule_write_units("PutItem", {"TableName": "audit", "Item": to_item(item)}) == units


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        ("sqs-sns-wrapped.json", ["ObjectCreated:Put"]),
        ("sqs-sns-raw.json", ["ObjectCreated:Put"]),
        ("sqs-eventbridge.json", ["ObjectCreated:Put", "ObjectRemoved:DeleteMarkerCreated"]),
        (
            "sqs-multi-record.json",
            ["ObjectCreated:Put", "ObjectCreated:Copy", "ObjectRemoved:DeleteMarkerCreated"],
        ),
    ],
)
def test_every_sqs_envelope_yields_its_events(payload: str, names: list[str]) -> None:
    """S3 → SNS → SQS (raw and wrapped), S3 → EventBridge → SQS, several records in one body."""
    records = json.loads((EVENTS / payload).read_text())["Records"]
    parsed = [e.event_name for r in records for e in parse_sqs_body(r["body"]).events]
    assert parsed == names


@pytest.mark.parametrize(
    ("payload", "name", "effect"),
    [
        ("eventbridge-object-deleted.json", "ObjectRemoved:Delete", Effect.RESOLVE),
        ("eventbridge-delete-marker.json", "ObjectRemoved:DeleteMarkerCreated", Effect.HIDDEN),
        (
            "eventbridge-lifecycle-expiration.json",
            "LifecycleExpiration:DeleteMarkerCreated",
            Effect.HIDDEN,
        ),
    ],
)
def test_eventbridge_deletions_reach_the_s3_event_names(
    payload: str, name: str, effect: Effect
) -> None:
    """deletion-type and reason map Object Deleted onto the notification's event names."""
    (event,) = parse_eventbridge_event(json.loads((EVENTS / payload).read_text())).events
    assert (event.event_name, event.effect) == (name, effect)


def test_an_unknown_eventbridge_deletion_type_is_named() -> None:
    payload = json.loads((EVENTS / "eventbridge-delete-marker.json").read_text())
    payload["detail"]["deletion-type"] = "Vanished"
    with pytest.raises(MalformedRecordError, match="deletion-type"):
        parse_eventbridge_event(payload)


def test_lifecycle_events_without_a_sequencer_are_object_events() -> None:
    """LifecycleExpiration:* is parsed (it changes what a GET returns); no sequencer needed."""
    (event,) = parse_s3_event(
        json.loads((EVENTS / "s3-lifecycle-delete-marker.json").read_text())
    ).events
    assert event.sequencer is None
    assert event.requester == "s3.amazonaws.com"
    assert event.effect is Effect.HIDDEN

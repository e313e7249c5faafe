"""The workbench's S3 notifications (``s3ledger.workbench.moto_s3``): what AWS S3 sends, over HTTP.

Each test drives the session's moto server with real S3 calls and reads what its notifications
put on an SQS queue (or, through an EventBridge rule, on another queue). Every record is matched
to the request that caused it by ``x-amz-request-id``, which the S3 response carries too. What
"right" means comes from AWS's documentation:

* "Event message structure":
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
* "Event notification types and destinations":
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html
* "Configuring S3 Lifecycle event notifications":
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configure-notification.html
* "EventBridge event message structure":
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
"""

from __future__ import annotations

import importlib
import itertools
import json
import re
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from s3ledger.workbench import moto_s3
from s3ledger.workbench.moto_process import aws_client
from s3ledger.workbench.moto_s3 import LIFECYCLE_PRINCIPAL, lifecycle_expire

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

EVENTS = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:LifecycleExpiration:*"]
# moto's account for the dummy credentials: EventBridge's requester for API calls.
ACCOUNT = "123456789012"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_S = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UPPER_HEX = re.compile(r"^[0-9A-F]+$")
PART = 5 * 1024 * 1024  # S3's smallest part but the last


def later(a: str, b: str) -> bool:
    """Whether sequencer ``a`` is later than ``b`` by S3's documented rule: right-pad the
    shorter with zeros, then compare as strings (notification-content-structure.html)."""
    width = max(len(a), len(b))
    return a.ljust(width, "0") > b.ljust(width, "0")


def later_left_padded(a: str, b: str) -> bool:
    """The rule S3 does not use (left-padding, i.e. comparing as numbers)."""
    width = max(len(a), len(b))
    return a.rjust(width, "0") > b.rjust(width, "0")


def request_id(response: Any) -> str:
    return str(response["ResponseMetadata"]["RequestId"])


@dataclass
class Watched:
    """A bucket whose object events go to a queue of its own."""

    s3: S3Client
    sqs: SQSClient
    bucket: str
    queue_url: str

    def messages(self) -> list[Any]:
        """Every message body the queue got since the last call (hidden for 5 minutes after)."""
        bodies: list[Any] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300
            ).get("Messages", [])
            if not batch:
                return bodies
            bodies.extend(json.loads(message["Body"]) for message in batch)

    def records(self) -> list[dict[str, Any]]:
        """The records of every new message (the configuration's s3:TestEvent left out)."""
        return [r for body in self.messages() for r in body.get("Records", [])]

    def by_request(self) -> dict[str, list[dict[str, Any]]]:
        """The new records, grouped by the request that caused them."""
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in self.records():
            grouped[record["responseElements"]["x-amz-request-id"]].append(record)
        return dict(grouped)


def _queue(sqs: SQSClient, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


@pytest.fixture
def watch(aws_endpoint: str) -> Iterator[Callable[..., Watched]]:
    """Make a bucket (versioning ``Enabled``, ``Suspended`` after ``Enabled``, or never) whose
    events in ``events`` go to a fresh queue; the queues are deleted afterwards."""
    s3 = aws_client("s3", aws_endpoint)
    sqs = aws_client("sqs", aws_endpoint)
    queues: list[str] = []

    def make(versioning: str | None = "Enabled", events: list[str] = EVENTS) -> Watched:
        bucket = f"events-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=bucket)
        if versioning is not None:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": versioning})
        url, arn = _queue(sqs, bucket)
        queues.append(url)
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [{"Id": "ledger", "QueueArn": arn, "Events": events}]
            },
        )
        watched = Watched(s3, sqs, bucket, url)
        (test_event,) = watched.messages()
        assert test_event["Event"] == "s3:TestEvent"
        return watched

    try:
        yield make
    finally:
        for url in queues:
            sqs.delete_queue(QueueUrl=url)


def _object(record: dict[str, Any]) -> dict[str, Any]:
    return dict(record["s3"]["object"])


# ------------------------------------------------------------------------- sequencers, versions


def test_one_keys_sequencers_grow_under_the_right_pad_rule_with_two_lengths(
    watch: Callable[..., Watched],
) -> None:
    """Ten operations on one key: each record's sequencer is upper-case hex, later than the one
    before by the right-pad rule; some are 16 digits and some 18, and for at least one pair
    left-padding would give the wrong order (as it can on AWS)."""
    w = watch()
    requests = []
    for n in range(7):
        requests.append(request_id(w.s3.put_object(Bucket=w.bucket, Key="k", Body=b"x" * n)))
        if n % 3 == 2:
            requests.append(request_id(w.s3.delete_object(Bucket=w.bucket, Key="k")))
    sent = w.by_request()

    sequencers = [_object(sent[r][0])["sequencer"] for r in requests]
    assert all(UPPER_HEX.match(s) for s in sequencers)
    assert all(later(b, a) for a, b in itertools.pairwise(sequencers))
    assert {len(s) for s in sequencers} == {16, 18}
    pairs = list(itertools.combinations(sequencers, 2))
    assert any(not later_left_padded(newer, older) for older, newer in pairs)


def test_a_versioned_keys_life_is_notified_with_the_version_ids_s3_returned(
    watch: Callable[..., Watched],
) -> None:
    """Put twice, delete (a marker), then delete by id a noncurrent version, the marker and the
    current version: one record per request, named as AWS names them, each carrying the version
    id S3 returned to the client, with sequencers in the order of the requests."""
    w = watch()
    s3, b = w.s3, w.bucket
    first = s3.put_object(Bucket=b, Key="doc.txt", Body=b"one")
    second = s3.put_object(Bucket=b, Key="doc.txt", Body=b"second")
    marker = s3.delete_object(Bucket=b, Key="doc.txt")
    assert marker["DeleteMarker"] is True
    steps = [
        (first, "ObjectCreated:Put", first["VersionId"]),
        (second, "ObjectCreated:Put", second["VersionId"]),
        (marker, "ObjectRemoved:DeleteMarkerCreated", marker["VersionId"]),
    ]
    for version in (first["VersionId"], marker["VersionId"], second["VersionId"]):
        removal = s3.delete_object(Bucket=b, Key="doc.txt", VersionId=version)
        steps.append((removal, "ObjectRemoved:Delete", version))
    sent = w.by_request()

    assert sum(len(records) for records in sent.values()) == len(steps)
    sequencers = []
    for response, event_name, version in steps:
        (record,) = sent[request_id(response)]
        assert record["eventName"] == event_name
        assert _object(record)["versionId"] == version
        assert _object(record)["key"] == "doc.txt"
        sequencers.append(_object(record)["sequencer"])
    assert all(later(b, a) for a, b in itertools.pairwise(sequencers))
    assert "Versions" not in s3.list_object_versions(Bucket=b, Prefix="doc.txt")


def test_records_carry_their_provenance_and_creations_their_size_and_etag(
    watch: Callable[..., Watched],
) -> None:
    """userIdentity, sourceIPAddress and responseElements as AWS documents them: the request and
    host ids are those of the S3 response, unique per request; creations carry size and eTag,
    removals only key, versionId and sequencer; the key is form-encoded."""
    w = watch()
    put = w.s3.put_object(Bucket=w.bucket, Key="a b+c/d.txt", Body=b"hello")
    deleted = w.s3.delete_object(Bucket=w.bucket, Key="a b+c/d.txt")
    sent = w.by_request()
    (created,) = sent[request_id(put)]
    (removed,) = sent[request_id(deleted)]

    for record, response in ((created, put), (removed, deleted)):
        assert record["eventVersion"] == "2.1"
        assert record["eventSource"] == "aws:s3"
        assert ISO_MS.match(record["eventTime"])
        assert record["userIdentity"]["principalId"].startswith("AWS:AIDA")
        assert record["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
        elements = record["responseElements"]
        assert elements["x-amz-request-id"] == response["ResponseMetadata"]["RequestId"]
        assert elements["x-amz-id-2"] == response["ResponseMetadata"]["HostId"]
        assert record["s3"]["configurationId"] == "ledger"
        assert record["s3"]["bucket"]["name"] == w.bucket
        assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{w.bucket}"
    assert created["userIdentity"] == removed["userIdentity"]  # one caller, one stable id
    assert created["responseElements"] != removed["responseElements"]
    assert _object(created) == {
        "key": "a+b%2Bc%2Fd.txt",
        "size": 5,
        "eTag": put["ETag"].strip('"'),
        "versionId": put["VersionId"],
        "sequencer": _object(created)["sequencer"],
    }
    assert set(_object(removed)) == {"key", "versionId", "sequencer"}


def test_request_ids_are_unique_per_request_and_shared_by_one_requests_records(
    watch: Callable[..., Watched],
) -> None:
    """DeleteObjects of three keys is one request: its three records (a marker, a version
    removed, a marker) share its request id and have sequencers of their own; twenty single
    requests have twenty ids."""
    w = watch()
    puts = [w.s3.put_object(Bucket=w.bucket, Key=f"k{n}", Body=b"x") for n in range(20)]
    batch = w.s3.delete_objects(
        Bucket=w.bucket,
        Delete={
            "Objects": [
                {"Key": "k0"},
                {"Key": "k1", "VersionId": puts[1]["VersionId"]},
                {"Key": "k2"},
            ]
        },
    )
    sent = w.by_request()

    assert len({request_id(p) for p in puts} | {request_id(batch)}) == 21
    assert all(len(sent[request_id(p)]) == 1 for p in puts)
    records = {_object(r)["key"]: r for r in sent[request_id(batch)]}
    assert len(sent[request_id(batch)]) == 3
    answered = {d["Key"]: d for d in batch["Deleted"]}
    assert records["k0"]["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert _object(records["k0"])["versionId"] == answered["k0"]["DeleteMarkerVersionId"]
    assert records["k1"]["eventName"] == "ObjectRemoved:Delete"
    assert _object(records["k1"])["versionId"] == puts[1]["VersionId"]
    assert records["k2"]["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert len({_object(r)["sequencer"] for r in records.values()}) == 3


def test_one_operation_to_two_queues_carries_one_sequencer_and_request_id(
    aws_endpoint: str,
) -> None:
    """An upload notified to two destinations is one operation: both records carry the same
    sequencer, request id and event time."""
    s3, sqs = aws_client("s3", aws_endpoint), aws_client("sqs", aws_endpoint)
    bucket = f"twice-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    queues = [_queue(sqs, f"{bucket}-{n}") for n in range(2)]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]} for _, arn in queues
            ]
        },
    )
    try:
        put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
        records = []
        for url, _ in queues:
            watched = Watched(s3, sqs, bucket, url)
            (record,) = watched.records()
            records.append(record)
    finally:
        for url, _ in queues:
            sqs.delete_queue(QueueUrl=url)
    first, second = records
    assert first["responseElements"]["x-amz-request-id"] == request_id(put)
    assert first["responseElements"] == second["responseElements"]
    assert _object(first)["sequencer"] == _object(second)["sequencer"]
    assert first["eventTime"] == second["eventTime"]


# ----------------------------------------------------------------- other buckets, other APIs


def test_a_never_versioned_bucket_sends_no_version_ids(watch: Callable[..., Watched]) -> None:
    """Without versioning, a put and a delete are ObjectCreated:Put and ObjectRemoved:Delete,
    neither with a versionId, both with sequencers in order."""
    w = watch(versioning=None)
    put = w.s3.put_object(Bucket=w.bucket, Key="k", Body=b"x")
    deleted = w.s3.delete_object(Bucket=w.bucket, Key="k")
    sent = w.by_request()
    (created,) = sent[request_id(put)]
    (removed,) = sent[request_id(deleted)]

    assert created["eventName"] == "ObjectCreated:Put"
    assert removed["eventName"] == "ObjectRemoved:Delete"
    assert "versionId" not in _object(created)
    assert set(_object(removed)) == {"key", "sequencer"}
    assert later(_object(removed)["sequencer"], _object(created)["sequencer"])


def test_a_suspended_bucket_replaces_only_the_null_version(watch: Callable[..., Watched]) -> None:
    """VersionSuspendedBehavior: after Enabled then Suspended, a put writes (and overwrites) the
    null version and keeps the older one; a delete replaces the null version by a null delete
    marker (DeleteMarkerCreated, versionId "null"); a delete by id removes that version."""
    w = watch()
    s3, b = w.s3, w.bucket
    kept = s3.put_object(Bucket=b, Key="k", Body=b"enabled")["VersionId"]
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    puts = [s3.put_object(Bucket=b, Key="k", Body=body) for body in (b"null 1", b"null 2")]
    assert [p.get("VersionId", "null") for p in puts] == ["null", "null"]
    listed = s3.list_object_versions(Bucket=b, Prefix="k")
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [
        ("null", True),
        (kept, False),
    ]
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"null 2"

    marker = s3.delete_object(Bucket=b, Key="k")
    assert (marker["DeleteMarker"], marker["VersionId"]) == (True, "null")
    listed = s3.list_object_versions(Bucket=b, Prefix="k")
    assert [v["VersionId"] for v in listed["Versions"]] == [kept]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [("null", True)]
    removal = s3.delete_object(Bucket=b, Key="k", VersionId=kept)
    sent = w.by_request()

    names = [(r["eventName"], _object(r)["versionId"]) for p in puts for r in sent[request_id(p)]]
    assert names == [("ObjectCreated:Put", "null")] * 2
    (record,) = sent[request_id(marker)]
    assert (record["eventName"], _object(record)["versionId"]) == (
        "ObjectRemoved:DeleteMarkerCreated",
        "null",
    )
    (record,) = sent[request_id(removal)]
    assert (record["eventName"], _object(record)["versionId"]) == ("ObjectRemoved:Delete", kept)
    assert "Versions" not in s3.list_object_versions(Bucket=b, Prefix="k")


def test_a_multipart_upload_a_copy_and_tagged_put_send_one_creation_each(
    watch: Callable[..., Watched],
) -> None:
    """CompleteMultipartUpload sends one ObjectCreated:CompleteMultipartUpload (moto also sent
    a Put and an ObjectTagging:Put), CopyObject one ObjectCreated:Copy, a PutObject with tags one
    ObjectCreated:Put; only PutObjectTagging sends an ObjectTagging event."""
    w = watch(events=[*EVENTS, "s3:ObjectTagging:*"])
    s3, b = w.s3, w.bucket
    upload = s3.create_multipart_upload(Bucket=b, Key="big.bin", Tagging="kind=big")
    parts = []
    for number, body in ((1, b"a" * PART), (2, b"tail")):
        part = s3.upload_part(
            Bucket=b, Key="big.bin", UploadId=upload["UploadId"], PartNumber=number, Body=body
        )
        parts.append({"ETag": part["ETag"], "PartNumber": number})
    done = s3.complete_multipart_upload(
        Bucket=b, Key="big.bin", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    copied = s3.copy_object(Bucket=b, Key="copy.bin", CopySource={"Bucket": b, "Key": "big.bin"})
    tagged_put = s3.put_object(Bucket=b, Key="t.txt", Body=b"t", Tagging="a=1")
    tagging = s3.put_object_tagging(
        Bucket=b, Key="t.txt", Tagging={"TagSet": [{"Key": "a", "Value": "2"}]}
    )
    sent = w.by_request()

    assert sum(len(records) for records in sent.values()) == 4
    (record,) = sent[request_id(done)]
    assert record["eventName"] == "ObjectCreated:CompleteMultipartUpload"
    assert _object(record)["size"] == PART + 4
    assert _object(record)["eTag"] == done["ETag"].strip('"')
    assert _object(record)["eTag"].endswith("-2")
    assert _object(record)["versionId"] == done["VersionId"]
    (record,) = sent[request_id(copied)]
    assert record["eventName"] == "ObjectCreated:Copy"
    assert _object(record)["versionId"] == copied["VersionId"]
    (record,) = sent[request_id(tagged_put)]
    assert record["eventName"] == "ObjectCreated:Put"
    (record,) = sent[request_id(tagging)]
    assert record["eventName"] == "ObjectTagging:Put"
    assert "sequencer" not in _object(record)  # "only used with PUTs and DELETEs"


# ---------------------------------------------------------------------------------- lifecycle


def test_lifecycle_expire_is_notified_as_s3_lifecycle(watch: Callable[..., Watched]) -> None:
    """lifecycle_expire without a version creates a marker (LifecycleExpiration:
    DeleteMarkerCreated), with one removes that version (LifecycleExpiration:Delete), and on an
    unversioned bucket removes the object (LifecycleExpiration:Delete, no versionId). The records
    are eventVersion 2.3, by s3.amazonaws.com from s3.amazonaws.com, and carry no sequencer:
    the field's description limits it to PUTs and DELETEs (AWS's lifecycle example shows one;
    the workbench takes the case the product must survive without it)."""
    w = watch()
    put = w.s3.put_object(Bucket=w.bucket, Key="old.log", Body=b"x")
    marker = lifecycle_expire(w.s3, w.bucket, "old.log")
    removal = lifecycle_expire(w.s3, w.bucket, "old.log", put["VersionId"])
    plain = w.s3.delete_object(Bucket=w.bucket, Key="old.log")  # the header is per call
    sent = w.by_request()
    unversioned = watch(versioning=None)
    unversioned.s3.put_object(Bucket=unversioned.bucket, Key="old.log", Body=b"x")
    gone = lifecycle_expire(unversioned.s3, unversioned.bucket, "old.log")
    (gone_record,) = unversioned.by_request()[request_id(gone)]

    (created,) = sent[request_id(put)]
    (marked,) = sent[request_id(marker)]
    (removed,) = sent[request_id(removal)]
    assert marker["DeleteMarker"] is True
    assert marked["eventName"] == "LifecycleExpiration:DeleteMarkerCreated"
    assert _object(marked)["versionId"] == marker["VersionId"]
    assert removed["eventName"] == "LifecycleExpiration:Delete"
    assert _object(removed)["versionId"] == put["VersionId"]
    assert gone_record["eventName"] == "LifecycleExpiration:Delete"
    assert set(_object(gone_record)) == {"key"}
    for record in (marked, removed, gone_record):
        assert record["eventVersion"] == "2.3"
        assert record["userIdentity"] == {"principalId": LIFECYCLE_PRINCIPAL}
        assert record["requestParameters"] == {"sourceIPAddress": LIFECYCLE_PRINCIPAL}
        assert "sequencer" not in _object(record)
    assert "sequencer" in _object(created)
    (record,) = sent[request_id(plain)]
    assert record["eventName"] == "ObjectRemoved:DeleteMarkerCreated"


# ------------------------------------------------------------------------ ListObjectVersions


def test_rapid_puts_list_newest_first_with_only_the_last_latest(
    watch: Callable[..., Watched],
) -> None:
    """Forty puts of one key as fast as the client goes, then a marker: ListObjectVersions with
    the key as Prefix lists the versions newest first, the marker alone IsLatest; paging by
    MaxKeys and the unprefixed listing agree with it."""
    w = watch()
    s3, b = w.s3, w.bucket
    s3.put_object(Bucket=b, Key="j", Body=b"another key, listed first")
    versions = [s3.put_object(Bucket=b, Key="k", Body=b"%d" % n)["VersionId"] for n in range(40)]
    marker = s3.delete_object(Bucket=b, Key="k")["VersionId"]
    s3.put_object(Bucket=b, Key="l", Body=b"another key, listed after")

    listed = s3.list_object_versions(Bucket=b, Prefix="k")
    assert [v["VersionId"] for v in listed["Versions"]] == versions[::-1]
    assert not any(v["IsLatest"] for v in listed["Versions"])
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(marker, True)]

    everything = s3.list_object_versions(Bucket=b)
    assert [v["VersionId"] for v in everything["Versions"] if v["Key"] == "k"] == versions[::-1]
    paged: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = s3.list_object_versions(Bucket=b, Prefix="k", MaxKeys=7, **kwargs)
        paged += [v["VersionId"] for v in page.get("Versions", [])]
        paged += [m["VersionId"] for m in page.get("DeleteMarkers", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {
            "KeyMarker": page["NextKeyMarker"],
            "VersionIdMarker": page["NextVersionIdMarker"],
        }
    assert sorted(paged) == sorted([*versions, marker])
    assert len(paged) == len(set(paged))


# ------------------------------------------------------------------------------- EventBridge


def test_eventbridge_gets_the_same_operations_in_its_own_shape(aws_endpoint: str) -> None:
    """S3 → EventBridge (default bus) → rule → SQS: a put, a delete (marker), a delete of a
    version and a lifecycle expiration arrive as "Object Created"/"Object Deleted" with the
    fields ev-events.html lists, the same sequencer and request id as the SQS record of the same
    operation, and no "Object Tags Added" for the put."""
    s3 = aws_client("s3", aws_endpoint)
    sqs = aws_client("sqs", aws_endpoint)
    events = aws_client("events", aws_endpoint)
    bucket = f"bridge-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    (bridged_url, bridged_arn), (queue_url, queue_arn) = (
        _queue(sqs, f"{bucket}-eb"),
        _queue(sqs, f"{bucket}-q"),
    )
    rule = f"{bucket}-rule"
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps({"source": ["aws.s3"], "detail": {"bucket": {"name": [bucket]}}}),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": bridged_arn}])
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "EventBridgeConfiguration": {},
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": EVENTS}],
        },
    )
    try:
        put = s3.put_object(Bucket=bucket, Key="a b.txt", Body=b"hello", Tagging="t=1")
        marker = s3.delete_object(Bucket=bucket, Key="a b.txt")
        removal = s3.delete_object(Bucket=bucket, Key="a b.txt", VersionId=put["VersionId"])
        expired = lifecycle_expire(s3, bucket, "a b.txt", marker["VersionId"])
        bridged = Watched(s3, sqs, bucket, bridged_url).messages()
        records = Watched(s3, sqs, bucket, queue_url).by_request()
    finally:
        events.remove_targets(Rule=rule, Ids=["queue"])
        events.delete_rule(Name=rule)
        for url in (bridged_url, queue_url):
            sqs.delete_queue(QueueUrl=url)

    assert len(bridged) == 4
    by_request = {event["detail"]["request-id"]: event for event in bridged}
    assert len({event["id"] for event in bridged}) == 4
    for event in bridged:
        assert event["version"] == "0"
        assert event["source"] == "aws.s3"
        assert event["account"] == ACCOUNT
        assert ISO_S.match(event["time"])
        assert event["region"] == "us-east-1"
        assert event["resources"] == [f"arn:aws:s3:::{bucket}"]
        assert event["detail"]["version"] == "0"
        assert event["detail"]["bucket"] == {"name": bucket}
        assert event["detail"]["object"]["key"] == "a b.txt"  # not encoded
        (record,) = records[event["detail"]["request-id"]]
        assert event["detail"]["object"].get("sequencer") == _object(record).get("sequencer")
        assert event["detail"]["object"]["version-id"] == _object(record)["versionId"]

    created = by_request[request_id(put)]
    assert created["detail-type"] == "Object Created"
    assert created["detail"]["object"] == {
        "key": "a b.txt",
        "size": 5,
        "etag": put["ETag"].strip('"'),
        "version-id": put["VersionId"],
        "sequencer": created["detail"]["object"]["sequencer"],
    }
    assert created["detail"]["requester"] == ACCOUNT
    assert created["detail"]["source-ip-address"] == "127.0.0.1"
    assert created["detail"]["reason"] == "PutObject"
    assert "deletion-type" not in created["detail"]
    deletions = [
        (marker, "DeleteObject", "Delete Marker Created", marker["VersionId"]),
        (removal, "DeleteObject", "Permanently Deleted", put["VersionId"]),
        (expired, "Lifecycle Expiration", "Permanently Deleted", marker["VersionId"]),
    ]
    for response, reason, deletion_type, version in deletions:
        event = by_request[request_id(response)]
        assert event["detail-type"] == "Object Deleted"
        assert event["detail"]["reason"] == reason
        assert event["detail"]["deletion-type"] == deletion_type
        assert event["detail"]["object"]["version-id"] == version
        assert "size" not in event["detail"]["object"]
    assert by_request[request_id(marker)]["detail"]["object"]["etag"] == (
        "d41d8cd98f00b204e9800998ecf8427e"  # an empty body's, as ev-events.html shows
    )
    lifecycle = by_request[request_id(expired)]["detail"]
    assert lifecycle["requester"] == LIFECYCLE_PRINCIPAL
    assert "source-ip-address" not in lifecycle  # "only present for events triggered by an S3
    #                                             request"


# -------------------------------------------------------- what still patches moto: Suspended


def _resolve(path: str) -> tuple[Any, str]:
    parts = path.split(".")
    owner: Any = importlib.import_module(".".join(parts[:3]))
    for part in parts[3:-1]:
        owner = getattr(owner, part)
    return owner, parts[-1]


@pytest.fixture
def restored_moto(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """moto's S3 in this (test) process, put back as it was after the test, whatever the test
    installs: every hook and the installed mark are recorded by monkeypatch."""
    from moto.s3 import models  # noqa: PLC0415 -- moto's internals, for these checks only

    current: dict[str, Any] = {}
    for path in moto_s3.HOOKS:
        owner, name = _resolve(path)
        value = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        monkeypatch.setattr(owner, name, value)
        current[path] = value
    monkeypatch.setattr(models, "_s3ledger_suspended_versioning", False, raising=False)
    return current


def _installed(path: str) -> Any:
    owner, name = _resolve(path)
    return owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)


def test_install_is_idempotent(restored_moto: dict[str, Any]) -> None:
    """Installing twice wraps each hook once: the second call changes nothing."""
    moto_s3.install_suspended_versioning()
    first = {path: _installed(path) for path in moto_s3.HOOKS}
    moto_s3.install_suspended_versioning()
    assert {path: _installed(path) for path in moto_s3.HOOKS} == first
    assert all(first[path] is not restored_moto[path] for path in moto_s3.HOOKS)


def test_install_refuses_moto_internals_it_was_not_written_for(
    restored_moto: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a hooked attribute is missing, or takes other parameters, installing raises naming it,
    and patches nothing."""
    from moto.s3 import models  # noqa: PLC0415 -- moto's internals

    monkeypatch.delattr(models.S3Backend, "put_object")
    monkeypatch.setattr(models.S3Backend, "delete_object", lambda self, bucket, key: None)
    with pytest.raises(RuntimeError, match="not what s3ledger's Suspended-versioning") as raised:
        moto_s3.install_suspended_versioning()
    assert "moto.s3.models.S3Backend.put_object is missing" in str(raised.value)
    assert "moto.s3.models.S3Backend.delete_object" in str(raised.value)
    assert (
        _installed("moto.s3.models.FakeBucket.is_versioned")
        is restored_moto["moto.s3.models.FakeBucket.is_versioned"]
    )  # nothing was patched


def test_lifecycle_expire_needs_no_moto() -> None:
    """Harness code can import the module (and lifecycle_expire) without loading moto."""
    check = "import sys, s3ledger.workbench.moto_s3; assert 'moto' not in sys.modules"
    subprocess.run([sys.executable, "-c", check], check=True, timeout=60)  # noqa: S603 - our interpreter


def test_the_notification_document_shows_eventbridge_when_it_is_on(aws_endpoint: str) -> None:
    """GetBucketNotificationConfiguration answers EventBridgeConfiguration once it is on, alone
    or beside a queue, as S3 does (moto 5.2.5 left it out)."""
    s3 = aws_client("s3", aws_endpoint)
    bucket = f"eb-doc-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    alone = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert alone["EventBridgeConfiguration"] == {}
    sqs = aws_client("sqs", aws_endpoint)
    url = sqs.create_queue(QueueName=f"eb-doc-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "EventBridgeConfiguration": {},
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}],
        },
    )
    both = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert both["EventBridgeConfiguration"] == {}
    assert [c["QueueArn"] for c in both["QueueConfigurations"]] == [arn]


def test_the_notification_document_is_checked_and_kept_per_bucket(aws_endpoint: str) -> None:
    """The workbench keeps the document as S3 does: a missing bucket is NoSuchBucket, an event
    type S3 does not know is refused, and a bucket deleted and made again starts with none."""
    from botocore.exceptions import ClientError  # noqa: PLC0415 -- this test only

    s3, sqs = aws_client("s3", aws_endpoint), aws_client("sqs", aws_endpoint)
    bucket = f"doc-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError, match="NoSuchBucket"):
        s3.get_bucket_notification_configuration(Bucket=bucket)
    s3.create_bucket(Bucket=bucket)
    url, arn = _queue(sqs, bucket)
    try:
        with pytest.raises(ClientError, match="InvalidArgument"):
            s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration={
                    "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectMoved:*"]}]
                },
            )
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"Id": "q", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
        kept = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
        assert [(c["Id"], c["QueueArn"], c["Events"]) for c in kept] == [
            ("q", arn, ["s3:ObjectCreated:*"])
        ]
        s3.delete_bucket(Bucket=bucket)
        s3.create_bucket(Bucket=bucket)
        assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    finally:
        sqs.delete_queue(QueueUrl=url)


def test_a_notification_that_cannot_be_delivered_never_fails_the_request(
    watch: Callable[..., Watched],
) -> None:
    """S3 notifies asynchronously: with its queue gone, a PutObject and a DeleteObject still
    succeed, and the object is written and removed."""
    w = watch()
    url, arn = _queue(w.sqs, f"{w.bucket}-gone")
    w.s3.put_bucket_notification_configuration(
        Bucket=w.bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": EVENTS}]},
    )
    w.sqs.delete_queue(QueueUrl=url)
    put = w.s3.put_object(Bucket=w.bucket, Key="k", Body=b"x")
    assert w.s3.head_object(Bucket=w.bucket, Key="k")["VersionId"] == put["VersionId"]
    assert w.s3.delete_object(Bucket=w.bucket, Key="k")["DeleteMarker"] is True

"""The workbench: moto's server, provisioning from ``template.yaml``, and the two together.

The moto tests pin down what the workbench's moto (5.2.5, with :mod:`s3ledger.workbench.moto_s3`)
really does with S3 notifications and SQS redrive, so a version bump that changes it fails here
rather than in an end-to-end test.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from s3ledger.core.events import pad_sequencer, parse_sqs_body
from s3ledger.workbench.dynamodb_local import free_port
from s3ledger.workbench.errors import PortInUseError, WorkbenchError
from s3ledger.workbench.moto_process import MotoServer, aws_client
from s3ledger.workbench.provision import Resources, drop_tables, provision, resource_names
from s3ledger.workbench.template import PipelineSpec, load_pipeline_spec
from s3ledger.workbench.workbench import Workbench

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

AWKWARD_KEY = "in box/a+b c/été 日本.csv"


@pytest.fixture(scope="module")
def s3(aws_endpoint: str) -> S3Client:
    """An S3 client for the session's moto server."""
    return aws_client("s3", aws_endpoint)


@pytest.fixture(scope="module")
def sqs(aws_endpoint: str) -> SQSClient:
    """An SQS client for the session's moto server."""
    return aws_client("sqs", aws_endpoint)


@contextlib.contextmanager
def _provisioned(
    dynamodb: DynamoDBClient, s3: S3Client, sqs: SQSClient, spec: PipelineSpec
) -> Iterator[Resources]:
    # A fresh prefix per test: moto and DynamoDB Local are shared by the whole session.
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    resources = provision(dynamodb, s3, sqs, spec, prefix=prefix)
    try:
        yield resources
    finally:
        drop_tables(dynamodb, spec, resources.tables)


@pytest.fixture(scope="module")
def spec() -> PipelineSpec:
    """The pipeline as the repository's template.yaml declares it, with its defaults."""
    return load_pipeline_spec()


@pytest.fixture
def pipeline(
    dynamodb_client: DynamoDBClient, s3: S3Client, sqs: SQSClient, spec: PipelineSpec
) -> Iterator[Resources]:
    """One pipeline provisioned from the real template, under a unique prefix."""
    with _provisioned(dynamodb_client, s3, sqs, spec) as resources:
        yield resources


def _drain(sqs: SQSClient, queue_url: str) -> list[MessageTypeDef]:
    """Every message visible now, hidden for 30 s so none is returned twice."""
    messages: list[MessageTypeDef] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)


def _bodies(messages: list[MessageTypeDef]) -> list[Any]:
    return [json.loads(message["Body"]) for message in messages]


def _count(sqs: SQSClient, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _busy_port() -> socket.socket:
    """A socket listening on a free 127.0.0.1 port; close it to release the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


# ----------------------------------------------------------------------------------- provision


def test_default_names_are_the_templates_and_a_prefix_goes_on_every_name(
    spec: PipelineSpec,
) -> None:
    """Without a prefix: the tables of the default stack (s3ledger-ledger, ...),
    s3ledger-local-bucket, s3ledger-events(-dlq);
    a prefix is put in front of all six names."""
    assert resource_names(spec) == {
        "bucket": "s3ledger-local-bucket",
        "queue": "s3ledger-events",
        "dlq": "s3ledger-events-dlq",
        "ledger": "s3ledger-ledger",
        "audit": "s3ledger-audit",
        "idempotency": "s3ledger-idempotency",
    }
    prefixed = resource_names(spec, "naive-")
    assert all(name.startswith("naive-") for name in prefixed.values())
    with pytest.raises(WorkbenchError, match="prefix"):
        resource_names(spec, "Naive_")


def test_tables_have_the_templates_keys_streams_and_ttl(
    pipeline: Resources, spec: PipelineSpec, dynamodb_client: DynamoDBClient
) -> None:
    """Each table has the template's keys (the audit log: by object, then by event), on-demand
    billing, its stream view type (none for the idempotency store) and, for the idempotency
    store only, TTL on ``expiration``."""
    expected = {
        "ledger": ([("id", "HASH")], "NEW_AND_OLD_IMAGES", None),
        "audit": ([("object_id", "HASH"), ("event_key", "RANGE")], "NEW_AND_OLD_IMAGES", None),
        "idempotency": ([("id", "HASH")], None, "expiration"),
    }
    for role, name in pipeline.tables.items():
        assert name.endswith(spec.tables[role].name)
        table = dynamodb_client.describe_table(TableName=name)["Table"]
        keys, stream, ttl = expected[role]
        assert table["KeySchema"] == [{"AttributeName": k, "KeyType": kind} for k, kind in keys]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table.get("StreamSpecification", {}).get("StreamViewType") == stream
        ttl_description = dynamodb_client.describe_time_to_live(TableName=name)
        description = ttl_description["TimeToLiveDescription"]
        if ttl is None:
            assert description["TimeToLiveStatus"] == "DISABLED"
        else:
            assert description == {"TimeToLiveStatus": "ENABLED", "AttributeName": ttl}


def test_provisioning_twice_raises_unless_exist_ok(
    pipeline: Resources,
    spec: PipelineSpec,
    dynamodb_client: DynamoDBClient,
    s3: S3Client,
    sqs: SQSClient,
) -> None:
    """A second provision under the same prefix is refused with a clear error; exist_ok=True
    accepts the existing resources and returns the same names."""
    prefix = pipeline.bucket.removesuffix("s3ledger-local-bucket")
    with pytest.raises(WorkbenchError, match="already exists"):
        provision(dynamodb_client, s3, sqs, spec, prefix=prefix)
    again = provision(dynamodb_client, s3, sqs, spec, prefix=prefix, exist_ok=True)
    assert again == pipeline


def test_queue_has_the_templates_visibility_timeout_retention_and_redrive_policy(
    pipeline: Resources, spec: PipelineSpec, sqs: SQSClient
) -> None:
    """The events queue has VisibilityTimeout 180, 14-day retention (the template's) and a
    redrive policy to the DLQ with maxReceiveCount 5; the DLQ keeps messages 14 days."""
    queue = sqs.get_queue_attributes(QueueUrl=pipeline.queue_url, AttributeNames=["All"])
    dlq = sqs.get_queue_attributes(QueueUrl=pipeline.dlq_url, AttributeNames=["All"])
    attributes, dlq_attributes = queue["Attributes"], dlq["Attributes"]
    assert attributes["VisibilityTimeout"] == "180" == str(spec.queue.visibility_timeout)
    assert attributes["MessageRetentionPeriod"] == "1209600"
    assert spec.queue.message_retention_seconds == 1209600
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_attributes["QueueArn"],
        "maxReceiveCount": 5,
    }
    assert dlq_attributes["MessageRetentionPeriod"] == "1209600"


def test_bucket_has_versioning_encryption_and_a_full_public_access_block(
    pipeline: Resources, s3: S3Client
) -> None:
    """The bucket is versioned, AES256-encrypted by default, blocks all public access, and
    notifies the queue of ObjectCreated:*, ObjectRemoved:* and LifecycleExpiration:*."""
    assert s3.get_bucket_versioning(Bucket=pipeline.bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=pipeline.bucket)["ServerSideEncryptionConfiguration"]
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=pipeline.bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    notification = s3.get_bucket_notification_configuration(Bucket=pipeline.bucket)
    events = sorted(e for c in notification["QueueConfigurations"] for e in c["Events"])
    assert events == ["s3:LifecycleExpiration:*", "s3:ObjectCreated:*", "s3:ObjectRemoved:*"]


# ------------------------------------------------------------------- moto's S3 notifications


def test_configuring_the_notification_sends_one_test_event_the_parser_ignores(
    pipeline: Resources, sqs: SQSClient
) -> None:
    """Right after provisioning the queue holds exactly one ``s3:TestEvent`` naming the bucket;
    parse_sqs_body sets it aside."""
    messages = _drain(sqs, pipeline.queue_url)
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert body["Event"] == "s3:TestEvent"
    assert body["Bucket"] == pipeline.bucket
    parsed = parse_sqs_body(messages[0]["Body"])
    assert parsed.events == ()
    assert parsed.ignored == ("s3:TestEvent",)


def test_upload_notification_parses_to_the_decoded_key_with_sequencer_and_version(
    pipeline: Resources, s3: S3Client, sqs: SQSClient
) -> None:
    """An upload sends ObjectCreated:Put with the key quote_plus-encoded (space ``+``, ``+``
    ``%2B``, ``/`` ``%2F``, UTF-8 percent-encoded), a sequencer and (the bucket is versioned) the
    versionId S3 returned; the parser decodes the key exactly."""
    _drain(sqs, pipeline.queue_url)  # the s3:TestEvent
    put = s3.put_object(Bucket=pipeline.bucket, Key=AWKWARD_KEY, Body=b"a,b\n")

    messages = _drain(sqs, pipeline.queue_url)
    assert len(messages) == 1
    (record,) = json.loads(messages[0]["Body"])["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == (
        "in+box%2Fa%2Bb+c%2F%C3%A9t%C3%A9+%E6%97%A5%E6%9C%AC.csv"
    )
    sequencer = record["s3"]["object"]["sequencer"]
    assert record["s3"]["object"]["versionId"] == put["VersionId"]

    (event,) = parse_sqs_body(messages[0]["Body"]).events
    assert event.bucket == pipeline.bucket
    assert event.key == AWKWARD_KEY
    assert event.event_name == "ObjectCreated:Put"
    assert event.size == 4
    assert event.sequencer == pad_sequencer(sequencer)
    assert event.version_id == put["VersionId"]


def test_deleting_the_only_version_sends_object_removed_delete(
    pipeline: Resources, s3: S3Client, sqs: SQSClient
) -> None:
    """In the (versioned) bucket, deleting an object's only version by VersionId sends
    ObjectRemoved:Delete for the decoded key."""
    put = s3.put_object(Bucket=pipeline.bucket, Key=AWKWARD_KEY, Body=b"x")
    _drain(sqs, pipeline.queue_url)  # the s3:TestEvent and the upload
    s3.delete_object(Bucket=pipeline.bucket, Key=AWKWARD_KEY, VersionId=put["VersionId"])

    (message,) = _drain(sqs, pipeline.queue_url)
    (event,) = parse_sqs_body(message["Body"]).events
    assert event.event_name == "ObjectRemoved:Delete"
    assert event.key == AWKWARD_KEY
    assert event.is_removal


def test_a_delete_in_a_versioned_bucket_sends_delete_marker_created(
    pipeline: Resources, s3: S3Client, sqs: SQSClient
) -> None:
    """A plain delete in a versioned bucket creates a delete marker and, as on AWS, sends
    ObjectRemoved:DeleteMarkerCreated with the marker's version id (moto alone sends nothing)."""
    s3.put_object(Bucket=pipeline.bucket, Key="k", Body=b"x")
    _drain(sqs, pipeline.queue_url)
    deleted = s3.delete_object(Bucket=pipeline.bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    (message,) = _drain(sqs, pipeline.queue_url)
    (event,) = parse_sqs_body(message["Body"]).events
    assert event.event_name == "ObjectRemoved:DeleteMarkerCreated"
    assert event.version_id == deleted["VersionId"]


# ---------------------------------------------------------------------------- moto's redrive


@pytest.mark.slow
def test_message_moves_to_the_dlq_on_the_receive_after_max_receive_count(
    dynamodb_client: DynamoDBClient, s3: S3Client, sqs: SQSClient
) -> None:
    """A message received maxReceiveCount (5) times without delete is handed out 5 times; it
    stays in the queue until the next ReceiveMessage, which returns nothing and moves it to the
    DLQ, where its ApproximateReceiveCount carries on from 5."""
    # The loader does not enforce the 6x rule, so 1 s / 1 s keeps this test short.
    fast = load_pipeline_spec(overrides={"QueueVisibilityTimeout": "1", "FunctionTimeout": "1"})
    assert fast.queue.visibility_timeout == 1
    max_receive_count = fast.queue.max_receive_count
    assert max_receive_count == 5
    with _provisioned(dynamodb_client, s3, sqs, fast) as pipeline:
        _drain(sqs, pipeline.queue_url)  # the s3:TestEvent (hidden 30 s, out of the way)
        sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody="poison")

        for attempt in range(1, max_receive_count + 1):
            received = sqs.receive_message(
                QueueUrl=pipeline.queue_url, WaitTimeSeconds=3, AttributeNames=["All"]
            ).get("Messages", [])
            assert [m["Body"] for m in received] == ["poison"]
            assert received[0]["Attributes"]["ApproximateReceiveCount"] == str(attempt)

        time.sleep(1.2)  # visible again; moto moves it lazily, not when the timeout expires
        assert _count(sqs, pipeline.queue_url) == 1
        assert _count(sqs, pipeline.dlq_url) == 0

        assert sqs.receive_message(QueueUrl=pipeline.queue_url).get("Messages", []) == []
        assert _count(sqs, pipeline.queue_url) == 0
        parked = sqs.receive_message(QueueUrl=pipeline.dlq_url, AttributeNames=["All"])
        (message,) = parked["Messages"]
        assert message["Body"] == "poison"
        assert message["Attributes"]["ApproximateReceiveCount"] == str(max_receive_count + 1)


# ------------------------------------------------------------------------------- processes


def test_moto_server_on_a_busy_port_raises_port_in_use_naming_the_flag() -> None:
    """Starting moto on a port something listens on raises PortInUseError naming the port and
    --aws-port, and starts no process."""
    with _busy_port() as sock:
        port = sock.getsockname()[1]
        server = MotoServer(port)
        with pytest.raises(PortInUseError, match=rf"port {port} is in use.*--aws-port"):
            server.start()
        assert not server.running
        assert server.pid is None


def test_moto_server_binds_loopback_and_stop_frees_the_port(moto_server: MotoServer) -> None:
    """The session's server answers on 127.0.0.1; a second one starts and stops, and its port
    can be bound again afterwards."""
    assert moto_server.running
    assert moto_server.endpoint_url.startswith("http://127.0.0.1:")
    with MotoServer() as other:
        assert other.running
        aws_client("sqs", other.endpoint_url).list_queues()
        port = other.port
    assert not other.running
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


@pytest.mark.slow
@pytest.mark.dynamodb
def test_workbench_stops_dynamodb_local_when_the_moto_port_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If moto cannot start, Workbench.start raises PortInUseError after stopping the DynamoDB
    Local it had already started: no child process is left running."""
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        process: subprocess.Popen[bytes] = real_popen(*args, **kwargs)
        started.append(process)
        return process

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    with _busy_port() as sock:
        workbench = Workbench(dynamodb_port=free_port(), aws_port=sock.getsockname()[1])
        with pytest.raises(PortInUseError, match="--aws-port"):
            workbench.start()
    assert len(started) == 1  # DynamoDB Local was started, moto never was
    assert started[0].poll() is not None
    assert not workbench.dynamodb_local.running
    assert not workbench.moto_server.running


@pytest.mark.slow
@pytest.mark.dynamodb
def test_workbench_starts_both_provisions_and_exports_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Workbench runs both emulators, provisions a pipeline through its own clients, and
    env() points boto3 at it; dummy credentials appear only where the environment has none."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with Workbench(dynamodb_port=free_port(), aws_port=free_port()) as workbench:
        assert workbench.running
        spec = load_pipeline_spec()
        resources = provision(workbench.dynamodb(), workbench.s3(), workbench.sqs(), spec)
        env = workbench.env(resources)
        queues = set(workbench.sqs().list_queues()["QueueUrls"])
        assert queues == {resources.queue_url, resources.dlq_url}
    assert not workbench.running
    assert env == {
        "AWS_ENDPOINT_URL_S3": workbench.aws_endpoint,
        "AWS_ENDPOINT_URL_SQS": workbench.aws_endpoint,
        "AWS_ENDPOINT_URL_EVENTBRIDGE": workbench.aws_endpoint,
        "AWS_ENDPOINT_URL_CLOUDFORMATION": workbench.aws_endpoint,
        "AWS_ENDPOINT_URL_CLOUDWATCH": workbench.aws_endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": workbench.dynamodb_endpoint,
        "S3LEDGER_BUCKET": "s3ledger-local-bucket",
        "S3LEDGER_LEDGER_TABLE": "s3ledger-ledger",
        "S3LEDGER_AUDIT_TABLE": "s3ledger-audit",
        "S3LEDGER_IDEMPOTENCY_TABLE": "s3ledger-idempotency",
        "S3LEDGER_QUEUE_URL": resources.queue_url,
        "S3LEDGER_DLQ_URL": resources.dlq_url,
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

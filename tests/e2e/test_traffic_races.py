"""The README's existing-bucket flow while a client writes, as a user runs it on the workbench.

An existing versioned bucket with 40 objects is attached (EventBridge delivery on: whole-second
``time``), then ``backfill`` (or ``reconcile --apply``) runs while a client thread overwrites and
deletes those keys about 30 times a second; the events flow S3 → EventBridge → SQS → the runner
→ the handler. Once the traffic stops and the queue has drained, every key's ledger item must
be what a GET returns (HeadObject), and ``check`` must find nothing. Before the order rule asked
S3 (issue 17), 4 to 6 keys of 40 ended wrong here: the operator command's whole-second time mark
sorted after the client's requests of its own second.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final

import pytest

from s3ledger.core.ledger import ObjectState, from_item
from s3ledger.operate.attach import attach
from s3ledger.operate.backfill import backfill
from s3ledger.operate.reconcile import reconcile
from s3ledger.operate.scan import check_tables
from s3ledger.workbench.moto_process import aws_client
from s3ledger.workbench.provision import Resources, provision, route_s3_events_to_queue
from s3ledger.workbench.runner import LocalRunner
from s3ledger.workbench.session import start_runner
from s3ledger.workbench.template import load_pipeline_spec
from tests.support.versioned import bucket_state

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

KEYS: Final = [f"reports/{n:02d} q3+final.csv" for n in range(40)]
# The operator races at least this many of the client's requests, for at most MAX_SECONDS.
MIN_REQUESTS: Final = 30
MAX_SECONDS: Final = 30.0
FAST: Final = {"FunctionTimeout": "1", "QueueVisibilityTimeout": "2", "MaxReceiveCount": "5"}


class Client(threading.Thread):
    """A user's client: PUTs and DELETEs of the keys, about ``rate`` a second, until stopped."""

    def __init__(self, s3: S3Client, bucket: str, rate: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.s3, self.bucket, self.pause = s3, bucket, 1 / rate
        self.rng = random.Random(seed)
        self.halt = threading.Event()
        self.requests = 0

    def run(self) -> None:
        while not self.halt.is_set():
            key = self.rng.choice(KEYS)
            if self.rng.random() < 0.3:
                self.s3.delete_object(Bucket=self.bucket, Key=key)
            else:
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=f"{self.rng.random()}")
            self.requests += 1
            time.sleep(self.pause)


@pytest.fixture(params=["inbox", "lean", "inbox-batch"])
def attached(
    request: pytest.FixtureRequest,
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
) -> Iterator[tuple[str, Resources, LocalRunner]]:
    """A pipeline in the mode under test, and an existing bucket of 40 objects attached to it."""
    spec = load_pipeline_spec(overrides={**FAST, "Mode": request.param})
    s3, sqs = aws_client("s3", aws_endpoint), aws_client("sqs", aws_endpoint)
    suffix = uuid.uuid4().hex[:8]
    resources = provision(dynamodb_client, s3, sqs, spec, prefix=f"x{suffix}-")
    route_s3_events_to_queue(
        aws_client("events", aws_endpoint), resources.queue_url, sqs, f"races-{suffix}"
    )
    bucket = f"existing-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key in KEYS:  # there before s3ledger: their events never reach it
        s3.put_object(Bucket=bucket, Key=key, Body=b"from before")
    attach(s3, bucket)
    runner = start_runner(
        spec,
        resources,
        dynamodb_endpoint=dynamodb_endpoint,
        aws_endpoint=aws_endpoint,
        sqs_factory=lambda: aws_client("sqs", aws_endpoint),
        workers=2,
    )
    try:
        yield bucket, resources, runner
    finally:
        runner.stop()
    assert runner.errors == []


def under_traffic(
    s3: S3Client, bucket: str, operator: Callable[[], Any], *, seconds: float = 2.5
) -> None:
    """Run ``operator`` (once, then again until the traffic stops) while a client writes, for
    ``seconds`` and at least ``MIN_REQUESTS`` of the client's requests (a loaded machine serves
    fewer a second), at most ``MAX_SECONDS``."""
    client = Client(s3, bucket, rate=30, seed=17)
    client.start()
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds or client.requests <= MIN_REQUESTS:
            if time.monotonic() - started > MAX_SECONDS:
                break
            operator()
    finally:
        client.halt.set()
        client.join()
    assert client.requests > MIN_REQUESTS


def assert_every_key_is_what_a_get_returns(
    s3: S3Client, dynamodb: DynamoDBClient, bucket: str, resources: Resources
) -> None:
    wrong = []
    for key in KEYS:
        item = dynamodb.get_item(
            TableName=resources.ledger_table,
            Key={"id": {"S": f"{bucket}/{key}"}},
            ConsistentRead=True,
        ).get("Item")
        shown = ObjectState.of_ledger(None if item is None else from_item(item))
        truth = bucket_state(s3, bucket, key)
        if shown != truth:
            wrong.append((key, shown, truth))
    assert wrong == [], f"{len(wrong)} of {len(KEYS)} keys not what GET returns: {wrong[:3]}"
    report = check_tables(
        dynamodb, ledger_table=resources.ledger_table, audit_table=resources.audit_table
    )
    assert report.anomalies_total == 0, report.to_json()


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("command", ["backfill", "reconcile"])
def test_an_operator_command_during_traffic_ends_with_the_ledger_as_get_returns_it(
    attached: tuple[str, Resources, LocalRunner],
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
    command: str,
) -> None:
    """``s3ledger backfill`` (or ``reconcile --apply``, no settle window) runs again and again
    while the client writes; once the queue has drained, every key is what a GET returns."""
    bucket, resources, runner = attached
    s3 = aws_client("s3", aws_endpoint)
    tables = {"ledger_table": resources.ledger_table, "audit_table": resources.audit_table}

    def operator() -> None:
        if command == "backfill":
            backfill(s3, dynamodb_client, bucket=bucket, workers=2, **tables)
        else:
            reconcile(s3, dynamodb_client, bucket=bucket, apply=True, settle_seconds=0, **tables)

    under_traffic(s3, bucket, operator)
    assert runner.wait_until_drained(aws_client("sqs", aws_endpoint), timeout=60)
    assert_every_key_is_what_a_get_returns(s3, dynamodb_client, bucket, resources)

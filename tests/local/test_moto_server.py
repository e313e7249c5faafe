"""The workbench's moto server (``workbench.moto_app``): moto's answers, minus its slow path.

The speed-up skips moto's queue counts inside SendMessage and ReceiveMessage only; these tests
check, over HTTP on the session's server, that every count a client can read is still exact.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from s3ledger.workbench import moto_speedups
from s3ledger.workbench.moto_process import MotoServer, aws_client

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@pytest.fixture
def queue(aws_endpoint: str) -> Iterator[tuple[SQSClient, str]]:
    sqs = aws_client("sqs", aws_endpoint)
    url = sqs.create_queue(QueueName=f"counts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    try:
        yield sqs, url
    finally:
        sqs.delete_queue(QueueUrl=url)


def _counts(sqs: SQSClient, url: str) -> tuple[int, int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    visible, in_flight, delayed = (int(attributes[name]) for name in COUNTS)
    return visible, in_flight, delayed


def test_the_workbench_runs_moto_through_the_speedup_entry_point() -> None:
    """MotoServer starts ``s3ledger.workbench.moto_app`` on 127.0.0.1, not ``moto.server``."""
    command = MotoServer(port=4599).command()
    assert command[1:3] == ["-m", "s3ledger.workbench.moto_app"]
    assert command[command.index("-H") + 1] == "127.0.0.1"


def test_queue_counts_stay_exact_through_sends_receives_and_deletes(
    queue: tuple[SQSClient, str],
) -> None:
    """Visible, in-flight and delayed counts read by GetQueueAttributes are moto's real ones."""
    sqs, url = queue
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)]
    )
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"n{i}"} for i in range(5)]
    )
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    assert _counts(sqs, url) == (15, 0, 1)

    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
    messages = received["Messages"]
    assert len(messages) == 10
    assert _counts(sqs, url) == (5, 10, 1)

    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ],
    )
    assert _counts(sqs, url) == (5, 0, 1)


def test_a_received_message_is_not_received_again_while_in_flight(
    queue: tuple[SQSClient, str],
) -> None:
    """Receives hand out each visible message once; the rest of moto's receive is untouched."""
    sqs, url = queue
    bodies = {f"body-{i}" for i in range(12)}
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    seen: list[str] = []
    for _ in range(3):
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        seen.extend(m["Body"] for m in response.get("Messages", []))
    assert sorted(seen) == sorted(bodies)


def test_the_server_routes_requests_without_an_access_log_line_each(
    moto_server: MotoServer, queue: tuple[SQSClient, str]
) -> None:
    """With moto's module listing taken once, S3 and SQS requests still reach their backends,
    and the server's log gains no line per request."""
    sqs, url = queue
    log = moto_server.log_path
    assert log is not None
    before = log.read_text(encoding="utf-8", errors="replace").count("POST / HTTP")
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    s3 = aws_client("s3", moto_server.endpoint_url)
    s3.create_bucket(Bucket=f"routed-{uuid.uuid4().hex[:8]}")
    assert _counts(sqs, url) == (5, 0, 0)
    assert log.read_text(encoding="utf-8", errors="replace").count("POST / HTTP") == before


def test_the_speedup_refuses_moto_internals_it_was_not_written_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If a count is no longer a property, installing raises instead of running unpatched."""
    from moto.sqs import models  # noqa: PLC0415 -- moto's internals, for this check only

    monkeypatch.setattr(models.Queue, "approximate_number_of_messages", 0)
    with pytest.raises(RuntimeError, match="not those s3ledger's speed-up was written for"):
        moto_speedups.install_sqs_speedups()
    assert models.Queue.approximate_number_of_messages == 0  # nothing was patched

"""The local runner polls and deletes apart from its sandboxes, as Lambda's event source mapping
does.

The handler here is a test double that blocks on an event: what is under test is the runner's
scheduling on moto's real queue, not the handler.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from s3ledger.pipeline.handlers import Handler
from s3ledger.workbench.moto_process import aws_client
from s3ledger.workbench.runner import ExecutionEnvironment, LocalRunner, RunnerSettings
from s3ledger.workbench.session import queue_arn
from tests.support.waiting import wait_for

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class _BlockingHandler:
    """Blocks every invocation until released; records each batch's message ids."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.batches: list[list[str]] = []

    def handle_sqs(self, event: Mapping[str, Any], _context: object) -> dict[str, Any]:
        self.batches.append([record["messageId"] for record in event["Records"]])
        self.started.set()
        self.release.wait(timeout=30)
        return {"batchItemFailures": []}


def _in_flight(sqs: SQSClient, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _queue_with_batches(sqs: SQSClient, batches: int) -> str:
    url = sqs.create_queue(
        QueueName=f"runner-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "60"}
    )["QueueUrl"]
    for start in range(0, 10 * batches, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)],
        )
    return url


def _one_sandbox(sqs: SQSClient, url: str) -> RunnerSettings:
    return RunnerSettings(
        queue_url=url,
        queue_arn=queue_arn(sqs, url),
        batch_size=10,
        function_timeout=60.0,
        workers=1,
    )


def test_the_next_batch_is_received_while_the_sandbox_is_busy(aws_endpoint: str) -> None:
    """With its one sandbox busy, the runner already holds the next batch; both then complete.

    One batch is in the handler and one waits for it (both in flight, neither visible), the
    third is left in the queue, and only one invocation has started. Once released, every
    message is handled once and deleted.
    """
    sqs = aws_client("sqs", aws_endpoint)
    url = _queue_with_batches(sqs, 3)
    handler = _BlockingHandler()
    settings = _one_sandbox(sqs, url)
    environment = ExecutionEnvironment(pipeline=cast("Handler", handler))
    runner = LocalRunner(settings, lambda: aws_client("sqs", aws_endpoint), lambda _: environment)
    with runner:
        assert handler.started.wait(timeout=15)
        assert wait_for(lambda: _in_flight(sqs, url) == 20, timeout=15)
        time.sleep(1.5)  # a poller's next receive (1 s long poll) would show by now
        assert _in_flight(sqs, url) == 20  # one batch ahead, not more: the third stays queued
        assert len(handler.batches) == 1  # the second batch waits for the sandbox
        assert runner.busy
        handler.release.set()
        assert runner.wait_until_drained(sqs, timeout=20)
    assert runner.errors == []
    handled = [message for batch in handler.batches for message in batch]
    assert len(handled) == len(set(handled)) == 30
    assert runner.stats.messages_deleted == 30
    sqs.delete_queue(QueueUrl=url)


def test_the_sandbox_goes_on_while_its_last_batch_is_deleted(aws_endpoint: str) -> None:
    """Deleting a finished batch is the mapping's work: with DeleteMessageBatch held up, the one
    sandbox still runs the next batch, the runner stays busy, and once the deletes go through
    every message is deleted exactly once."""
    sqs = aws_client("sqs", aws_endpoint)
    url = _queue_with_batches(sqs, 2)
    handler = _BlockingHandler()
    handler.release.set()
    deletes_may_go = threading.Event()

    def sqs_factory() -> SQSClient:
        client = aws_client("sqs", aws_endpoint)
        client.meta.events.register(
            "before-call.sqs.DeleteMessageBatch",
            lambda **_: deletes_may_go.wait(timeout=30) and None,
        )
        return cast("SQSClient", client)

    environment = ExecutionEnvironment(pipeline=cast("Handler", handler))
    runner = LocalRunner(_one_sandbox(sqs, url), sqs_factory, lambda _: environment)
    with runner:
        assert wait_for(lambda: len(handler.batches) == 2, timeout=15)
        assert runner.stats.messages_deleted == 0
        assert runner.busy
        deletes_may_go.set()
        assert runner.wait_until_drained(sqs, timeout=20)
    assert runner.errors == []
    assert runner.stats.messages_deleted == 20
    assert _in_flight(sqs, url) == 0
    sqs.delete_queue(QueueUrl=url)

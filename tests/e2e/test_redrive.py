"""``s3ledger redrive`` on the workbench: the DLQ's messages go back to the events queue.

moto has no StartMessageMoveTask (it answers a bare HTTP 500), so this runs the receive, send,
delete path, through the CLI with the variables `s3ledger up` prints.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from s3ledger.workbench.moto_process import aws_client
from tests.e2e.test_cli import base_env

ROOT = Path(__file__).resolve().parents[2]


def test_redrive_moves_every_message_back_once(aws_endpoint: str) -> None:
    """25 parked messages (bodies and attributes kept) end in the events queue, the DLQ empty."""
    sqs = aws_client("sqs", aws_endpoint)
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"redrive-dlq-{suffix}")["QueueUrl"]
    queue = sqs.create_queue(QueueName=f"redrive-q-{suffix}")["QueueUrl"]
    bodies = {json.dumps({"Records": [{"n": n}]}) for n in range(25)}
    for start in range(0, 25, 10):
        chunk = sorted(bodies)[start : start + 10]
        sqs.send_message_batch(
            QueueUrl=dlq,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": body,
                    "MessageAttributes": {"origin": {"DataType": "String", "StringValue": "s3"}},
                }
                for i, body in enumerate(chunk)
            ],
        )
    env = {
        **base_env(),
        "AWS_ENDPOINT_URL_SQS": aws_endpoint,
        "S3LEDGER_DLQ_URL": dlq,
        "S3LEDGER_QUEUE_URL": queue,
    }
    result = subprocess.run(
        [sys.executable, "-m", "s3ledger.cli", "redrive", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "method": "copy",
        "to_move": 25,
        "moved": 25,
        "failed": 0,
    }
    moved = []
    while messages := sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        moved += messages
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
    assert sorted(m["Body"] for m in moved) == sorted(bodies)
    assert all(m["MessageAttributes"]["origin"]["StringValue"] == "s3" for m in moved)
    left = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_redrive_without_queues_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "s3ledger.cli", "redrive"],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--dlq-url and --queue-url are required" in result.stderr

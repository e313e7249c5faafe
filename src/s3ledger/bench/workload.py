"""The bench's workload: S3 notifications of distinct new objects, sent as S3 would send them."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["bench_events", "enqueue"]


def bench_events(events: int, seed: int, bucket: str) -> list[str]:
    """``events`` S3 notifications (SQS bodies) of uploads of distinct keys, each with a
    real-shaped (18 hex digit) sequencer, as S3 sends them (*Event message structure*).

    Distinct keys keep every mode able to apply every fresh event: ``transact`` and
    ``powertools`` reject a second event of one key by design, which ``chaos`` measures.
    """
    rng = random.Random(seed)  # noqa: S311 -- a replayable workload, not a secret
    folders = ("in", "out", "archive", "tmp")
    bodies = []
    for index in range(events):
        key = f"{folders[index % len(folders)]}/bench-{index:06d} {rng.randrange(10**6)}.csv"
        body = f"bench {index} {rng.random()}".encode()
        record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": f"2026-11-26T10:{index // 60000 % 60:02d}:{index // 1000 % 60:02d}."
            f"{index % 1000:03d}Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:BENCH"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": f"BENCH{index:011d}"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "s3ledger-bench",
                "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                "object": {
                    "key": quote_plus(key),
                    "size": len(body),
                    "eTag": hashlib.md5(body, usedforsecurity=False).hexdigest(),
                    "sequencer": f"{rng.getrandbits(64):018X}",
                },
            },
        }
        bodies.append(json.dumps({"Records": [record]}))
    return bodies


def enqueue(sqs: SQSClient, queue_url: str, bodies: Sequence[str]) -> None:
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
        )
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused messages: {response['Failed']}")

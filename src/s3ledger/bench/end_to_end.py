"""End to end: from an upload's response to a ledger read that shows it, per mode.

Each mode gets a pipeline of its own (``e2e-<mode>-`` bucket, queues and tables provisioned from
``template.yaml``, the bucket notifying the queue as it declares), and the product's runner on it
(:func:`~s3ledger.workbench.session.start_runner`: the template's batch size, ``workers``
sandboxes, long polls of :data:`RUNNER_WAIT_SECONDS`). Then, one upload at a time:

1. ``PutObject`` of a new key to the bucket; the clock starts when its response arrives;
2. moto's S3 sends the notification to the queue (before it answers; on AWS, S3's own delivery
   comes on top: "Typically, event notifications are delivered in seconds but can sometimes
   take a minute or longer", https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html);
3. a poller of the runner receives it, a sandbox runs the handler, which writes the ledger;
4. this thread reads the ledger item (``GetItem``, strongly consistent) every
   :data:`POLL_INTERVAL_S` seconds; the clock stops at the first read that shows the upload's
   version id.

So a sample overstates the lag by at most one poll interval plus one read. Not emulated, as in
the runner: Lambda's batching window (the template's ``MaximumBatchingWindowInSeconds: 1`` makes
the event source wait up to a second to fill a batch). :data:`WARMUP_UPLOADS` uploads are not
counted. One upload at a time, :data:`PAUSE_S` apart: the lag of a quiet pipeline, not of a
backlog.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, TypedDict

from s3ledger.bench.modes import BENCH_OVERRIDES, MODE_OVERRIDES
from s3ledger.core.config import Mode
from s3ledger.operate.scan import check_tables
from s3ledger.workbench.provision import Resources, provision
from s3ledger.workbench.runner import RunnerSettings
from s3ledger.workbench.session import start_runner
from s3ledger.workbench.template import load_pipeline_spec

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

    from s3ledger.workbench.workbench import Workbench

__all__ = [
    "PAUSE_S",
    "POLL_INTERVAL_S",
    "RUNNER_WAIT_SECONDS",
    "WARMUP_UPLOADS",
    "EndToEnd",
    "measure_end_to_end",
    "percentile",
]

POLL_INTERVAL_S: Final = 0.005
PAUSE_S: Final = 0.02
WARMUP_UPLOADS: Final = 5
TIMEOUT_S: Final = 30.0
# The runner's ReceiveMessage WaitTimeSeconds (long polling), as RunnerSettings sets it.
RUNNER_WAIT_SECONDS: Final = RunnerSettings("", "", batch_size=1, function_timeout=1).wait_seconds


class EndToEnd(TypedDict):
    """One mode's end-to-end lags (ms) and what its tables hold after them."""

    p50: float
    p99: float
    max: float
    samples: int
    timed_out: int
    ledger_items: int
    anomalies_total: int


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (nearest rank); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _one_upload(
    s3: S3Client, dynamodb: DynamoDBClient, resources: Resources, key: str
) -> float | None:
    """Milliseconds from ``key``'s PutObject response to a ledger read showing its version."""
    answer = s3.put_object(Bucket=resources.bucket, Key=key, Body=key.encode())
    done = time.perf_counter()
    version = answer.get("VersionId")
    item_key = {"id": {"S": f"{resources.bucket}/{key}"}}
    while True:
        item = dynamodb.get_item(
            TableName=resources.ledger_table, Key=item_key, ConsistentRead=True
        ).get("Item")
        if item is not None and item.get("version_id", {}).get("S") == version:
            return (time.perf_counter() - done) * 1000
        if time.perf_counter() - done > TIMEOUT_S:
            return None
        time.sleep(POLL_INTERVAL_S)


def measure_end_to_end(
    workbench: Workbench, mode: Mode, *, uploads: int, workers: int, batch: int
) -> EndToEnd:
    """Upload ``uploads`` new objects to ``mode``'s own pipeline, one at a time, and time each
    (see the module's docstring)."""
    overrides = {**BENCH_OVERRIDES, **MODE_OVERRIDES.get(mode, {})}
    spec = load_pipeline_spec(overrides={**overrides, "Mode": mode, "BatchSize": str(batch)})
    spec = spec.without_streams()
    dynamodb, s3 = workbench.dynamodb(), workbench.s3()
    resources = provision(dynamodb, s3, workbench.sqs(), spec, prefix=f"e2e-{mode}-")
    workbench.sqs().purge_queue(QueueUrl=resources.queue_url)  # moto's s3:TestEvent
    runner = start_runner(
        spec,
        resources,
        dynamodb_endpoint=workbench.dynamodb_endpoint,
        aws_endpoint=workbench.aws_endpoint,
        sqs_factory=workbench.sqs,
        workers=workers,
    )
    samples: list[float] = []
    timed_out = 0
    try:
        for index in range(WARMUP_UPLOADS + uploads):
            lag = _one_upload(s3, dynamodb, resources, f"e2e/{index:06d}.csv")
            if index < WARMUP_UPLOADS:
                continue
            if lag is None:
                timed_out += 1
            else:
                samples.append(lag)
            time.sleep(PAUSE_S)
    finally:
        runner.stop()
    report = check_tables(
        dynamodb, ledger_table=resources.ledger_table, audit_table=resources.audit_table
    )
    return {
        "p50": round(percentile(samples, 50), 1),
        "p99": round(percentile(samples, 99), 1),
        "max": round(max(samples, default=0.0), 1),
        "samples": len(samples),
        "timed_out": timed_out,
        "ledger_items": report.ledger_items,
        "anomalies_total": report.anomalies_total,
    }

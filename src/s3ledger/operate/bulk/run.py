"""Starting a run of the bulk state machine and following it to its end.

Progress comes from the Map Runs' item counts (``ListMapRuns``, ``DescribeMapRun``), the way the
console shows them; the execution itself runs on Step Functions whatever happens to the caller
(Ctrl-C stops following, never the run).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlparse

from s3ledger.core.errors import ConfigurationError

__all__ = ["Progress", "follow", "run_input", "start_run"]

_POLL_SECONDS: Final = 1.0


@dataclass(frozen=True)
class Progress:
    """Items of all the run's Map Runs so far: finished (succeeded, failed or aborted) and
    total (grows while the item reader reads), and the execution's status."""

    done: int
    total: int
    failed: int
    status: str


def run_input(
    *,
    job: str,
    bucket: str,
    prefix: str = "",
    inventory: str | None = None,
    apply: bool = False,
    settle_seconds: float = 0.0,
    segments: int = 16,
    max_concurrency: int | None = None,
) -> dict[str, Any]:
    """The execution input the state machine's first state reads."""
    document: dict[str, Any] = {
        "job": job,
        "bucket": bucket,
        "prefix": prefix,
        "apply": apply,
        "settle_seconds": settle_seconds,
        "segments": segments,
    }
    if inventory is not None:
        parsed = urlparse(inventory)
        if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
            raise ConfigurationError(f"--inventory {inventory!r}: expected s3://bucket/key")
        document["manifest"] = {"Bucket": parsed.netloc, "Key": parsed.path.lstrip("/")}
    if max_concurrency is not None:
        document["max_concurrency"] = max_concurrency
    return document


def start_run(sfn: Any, state_machine_arn: str, document: Mapping[str, Any]) -> str:
    """Start an execution; its ARN."""
    name = f"{document['job']}-{uuid.uuid4()}"
    answer = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(document)
    )
    return str(answer["executionArn"])


def _progress(sfn: Any, execution_arn: str, status: str) -> Progress:
    done = total = failed = 0
    for item in sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", []):
        counts = sfn.describe_map_run(mapRunArn=item["mapRunArn"])["itemCounts"]
        finished = counts["failed"] + counts["aborted"] + counts["timedOut"]
        done += counts["succeeded"] + finished
        failed += finished
        total += counts["total"]
    return Progress(done=done, total=total, failed=failed, status=status)


def follow(
    sfn: Any,
    execution_arn: str,
    on_progress: Callable[[Progress], None],
    *,
    poll_seconds: float = _POLL_SECONDS,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Poll the execution until it ends (or ``stop`` is set); its last ``DescribeExecution``."""
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        on_progress(_progress(sfn, execution_arn, str(described["status"])))
        if described["status"] != "RUNNING" or (stop is not None and stop.is_set()):
            return described
        time.sleep(poll_seconds)

"""``s3ledger demo``: the article's problem, happening and disappearing, on one machine.

Every mode gets its own pipeline on one throwaway workbench (prefixed bucket, queue, DLQ and
tables, provisioned from ``template.yaml``) and the same seeded workload of real requests on
its versioned bucket: a few dozen uploads with awkward keys, three uploads of one key, and the
versioned histories a real bucket sees (a delete marker, a removal of the current version, of a
noncurrent version and of a delete marker, a lifecycle expiry). S3 (the workbench's moto)
emits the events. While the runner works the queues, two faults that AWS really produces are
injected, identically for every mode:

* **duplicate delivery**: some S3 notifications arrive a second time, in a different message;
* **a crash between the two writes**: the invocation dies right after its first successful write
  of an event (after ``naive``'s ledger put; after the transaction in the other modes). Most such
  crashes hit the first attempt only; one file crashes on every attempt that writes.

Once the queues have drained, the tables are checked, each object's ledger state is compared
with what a GET returns from the bucket, and the figures are printed side by side.
The template's timeouts are scaled down (as ``sam deploy --parameter-overrides`` would) so that
redeliveries come within seconds: the 6x visibility rule and the rest stay as declared.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from s3ledger.core.config import ARTICLE_MODES, Mode
from s3ledger.core.events import parse_sqs_body
from s3ledger.operate.queues import queue_depth
from s3ledger.operate.scan import check_tables, get_items, scan_items
from s3ledger.proof.stream_log import stream_records
from s3ledger.proof.summary import DemoModeResult, DemoSummary, Symptom
from s3ledger.proof.workload import Request, RequestKind, perform, read_bucket_truth
from s3ledger.workbench.console import handler_logs_silenced
from s3ledger.workbench.dynamodb_local import (
    free_port,
)
from s3ledger.workbench.provision import Resources, provision
from s3ledger.workbench.runner import ExecutionEnvironment, LocalRunner
from s3ledger.workbench.session import start_runner
from s3ledger.workbench.template import load_pipeline_spec
from s3ledger.workbench.workbench import Workbench

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

__all__ = ["DEMO_OVERRIDES", "demo_workload", "run_demo"]

DEMO_OVERRIDES: Final = {
    "FunctionTimeout": "1",
    "QueueVisibilityTimeout": "6",
    "MaxReceiveCount": "3",
}
_DUPLICATE_RATE: Final = 0.3
_CRASH_RATE: Final = 0.15
_DUPLICATE_MARK: Final = "s3ledger-duplicate"
REUPLOADED_KEY: Final = "reports/daily totals.csv"
ALWAYS_CRASHES_KEY: Final = "invoices/INV-0007 (final).pdf"
_AWKWARD: Final = (
    "q3 summary+final.csv",
    "c++/notes 100%.txt",
    "café/日本語 ファイル.txt",
    "deep/a/b/c/d/e/f/file (1).json",
    "plus+and space.log",
    "percent%2Bliteral.txt",
    "x" * 180 + ".bin",
)


# Versioned histories, one key each: (what happens, the requests in order).
_VERSIONED: Final[tuple[tuple[str, tuple[RequestKind, ...]], ...]] = (
    ("versions/deleted (a delete marker).csv", ("put", "delete")),
    ("versions/current version removed.csv", ("put", "put", "delete_current")),
    ("versions/noncurrent version removed.csv", ("put", "put", "delete_noncurrent")),
    ("versions/delete marker removed.csv", ("put", "delete", "undelete")),
    ("versions/expired by lifecycle.csv", ("put", "put", "expire_current")),
)


def demo_workload(files: int, seed: int) -> list[Request]:
    """``files`` uploads (three of one key, one with a crash on every write), then the versioned
    histories, in the order the requests are made."""
    rng = random.Random(seed)
    distinct = max(files - 3, 2)
    keys = [ALWAYS_CRASHES_KEY] + [
        f"{rng.choice(('in', 'out', 'archive'))}/{_AWKWARD[i % len(_AWKWARD)]}".replace(
            "file", f"file-{i}"
        )
        if i < len(_AWKWARD)
        else f"{rng.choice(('in', 'out', 'archive'))}/file-{i:03d} {rng.randint(0, 999)}.csv"
        for i in range(distinct - 1)
    ]
    planned: list[tuple[str, RequestKind, bytes]] = [
        (key, "put", f"demo {key}".encode()) for key in keys
    ]
    planned += [(REUPLOADED_KEY, "put", f"version {v}".encode()) for v in (1, 2, 3)]
    for key, kinds in _VERSIONED:
        planned += [(key, kind, f"{key} {n}".encode()) for n, kind in enumerate(kinds)]
    return [Request(index, key, kind, body) for index, (key, kind, body) in enumerate(planned)]


def _chance(seed: int, what: str, text: str) -> float:
    """A draw in [0, 1) fixed by the seed and the message: the same for every mode and run."""
    digest = hashlib.sha256(f"{seed}:{what}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class _ModeRun:
    mode: Mode
    resources: Resources
    runner: LocalRunner
    environments: list[ExecutionEnvironment]


class _Injector:
    """The before-invoke hook of one mode's runner: duplicates and crashes, by the seed."""

    def __init__(self, workbench: Workbench, queue_url: str, seed: int, crash_once: str) -> None:
        self._sqs = workbench.sqs()
        self._queue_url = queue_url
        self._seed = seed
        self._crash_once_etag = crash_once
        self._lock = threading.Lock()
        self.duplicates = 0

    def __call__(self, messages: Sequence[MessageTypeDef], env: ExecutionEnvironment) -> None:
        assert env.faults is not None  # noqa: S101 -- the demo's environments always have hooks
        env.faults.clear()
        for message in messages:
            first_receive = message.get("Attributes", {}).get("ApproximateReceiveCount") == "1"
            is_copy = _DUPLICATE_MARK in message.get("MessageAttributes", {})
            body = message["Body"]
            try:
                events = parse_sqs_body(body).events
            except Exception:  # noqa: S112 -- a malformed body is the handler's to report
                continue
            # Decided by what the event is, not by its message, so every mode gets the same.
            identity = "|".join(f"{e.key}:{e.etag}:{e.event_name}" for e in events)
            if (
                first_receive
                and not is_copy
                and _chance(self._seed, "dup", identity) < _DUPLICATE_RATE
            ):
                self._sqs.send_message(
                    QueueUrl=self._queue_url,
                    MessageBody=body,
                    MessageAttributes={_DUPLICATE_MARK: {"DataType": "String", "StringValue": "1"}},
                )
                with self._lock:
                    self.duplicates += 1
            for event in events:
                always = event.key == ALWAYS_CRASHES_KEY and not event.is_removal
                once = first_receive and (
                    event.etag == self._crash_once_etag
                    or (
                        event.key not in (REUPLOADED_KEY, ALWAYS_CRASHES_KEY)
                        and _chance(self._seed, "crash", event.key) < _CRASH_RATE
                    )
                )
                if always or once:
                    env.faults.crash_after_write(json.dumps(event.event_id)[1:-1])


def _run_workload(workbench: Workbench, runs: Sequence[_ModeRun], steps: Sequence[Request]) -> None:
    s3 = workbench.s3()
    for step in steps:
        for run in runs:
            perform(s3, run.resources.bucket, step)


def _symptom(workbench: Workbench, resources: Resources, object_id: str) -> Symptom:
    """The article's ``{"main_records", "audit_log"}`` for one object, from the stream logs."""
    streams = workbench.streams()
    ledger_writes = sum(
        1
        for record in stream_records(streams, workbench.dynamodb(), resources.ledger_table)
        if record["dynamodb"]["Keys"]["id"]["S"] == object_id
    )
    audit_entries = sum(
        1
        for item in scan_items(workbench.dynamodb(), resources.audit_table)
        if item["object_id"] == object_id and item.get("outcome") == "applied"
    )
    return {
        "object_id": object_id,
        "shape": {"main_records": ledger_writes, "audit_log": audit_entries},
    }


def _verdict(result: DemoModeResult) -> tuple[str, bool]:
    anomalies = {k: v for k, v in result["anomalies"].items() if v}
    problems = []
    if anomalies:
        problems.append("tables disagree: " + ", ".join(f"{v} {k}" for k, v in anomalies.items()))
    if result["wrong_state"]:
        problems.append(f"{result['wrong_state']} objects not as S3 has them")
    if result["dlq_messages"]:
        problems.append(
            f"{result['dlq_messages']} messages parked in the DLQ "
            "(duplicates, re-uploads or removals rejected)"
        )
    if problems:
        return "; ".join(problems), False
    return "exactly once: tables agree with each other and with S3, nothing in the DLQ", True


def run_demo(
    *, files: int, seed: int, as_json: bool, workers: int = 2, verbose: bool = False
) -> DemoSummary:
    """Run the demo and return its summary (the CLI prints it); progress goes to stderr unless
    ``as_json``."""
    started = time.monotonic()
    console = Console(stderr=True)
    steps = demo_workload(files, seed)
    events = len(steps)
    # The first of the three uploads of one key crashes once: its retry comes after the newer
    # uploads were applied, which is what turns naive's late retry into a stale ledger.
    first_version = next(
        hashlib.md5(step.body, usedforsecurity=False).hexdigest()
        for step in steps
        if step.key == REUPLOADED_KEY
    )
    # Each rejected duplicate would print a log line; the table says it all.
    quiet = contextlib.nullcontext() if verbose else handler_logs_silenced()
    with quiet, Workbench(dynamodb_port=free_port(), aws_port=free_port()) as workbench:
        runs: list[_ModeRun] = []
        injectors: dict[str, _Injector] = {}
        for mode in ARTICLE_MODES:
            spec = load_pipeline_spec(overrides={**DEMO_OVERRIDES, "Mode": mode})
            resources = provision(
                workbench.dynamodb(), workbench.s3(), workbench.sqs(), spec, prefix=f"{mode}-"
            )
            environments: list[ExecutionEnvironment] = []
            injector = _Injector(workbench, resources.queue_url, seed, crash_once=first_version)
            injectors[mode] = injector
            runner = start_runner(
                spec,
                resources,
                dynamodb_endpoint=workbench.dynamodb_endpoint,
                aws_endpoint=workbench.aws_endpoint,
                sqs_factory=workbench.sqs,
                workers=workers,
                environments=environments,
                before_invoke=injector,
                fault_hooks=True,
            )
            runs.append(_ModeRun(mode, resources, runner, environments))
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as progress:
            task = progress.add_task(f"uploading {files} files to 4 buckets", total=None)
            _run_workload(workbench, runs, steps)
            progress.update(task, description="draining the queues (redeliveries after crashes)")
            sqs = workbench.sqs()
            with ThreadPoolExecutor(len(runs)) as pool:
                drained = list(pool.map(lambda r: r.runner.wait_until_drained(sqs, 90.0), runs))
            for run in runs:
                run.runner.stop()
        if not all(drained):
            console.print("[yellow]warning: a queue did not drain within 90 s[/yellow]")
        keys = sorted({step.key for step in steps})
        return _summarise(workbench, runs, injectors, events, files, seed, started, keys)


def _wrong_state_keys(workbench: Workbench, run: _ModeRun, keys: Sequence[str]) -> list[str]:
    """The keys whose ledger item does not show what a GET returns (the tables alone cannot
    tell)."""
    truth = read_bucket_truth(workbench.s3(), run.resources.bucket, keys)
    items = get_items(
        workbench.dynamodb(),
        run.resources.ledger_table,
        "id",
        (f"{run.resources.bucket}/{key}" for key in keys),
    )
    return [
        key for key in keys if not truth[key].shown_by(items.get(f"{run.resources.bucket}/{key}"))
    ]


def _mode_result(
    workbench: Workbench, run: _ModeRun, events: int, keys: Sequence[str], *, duplicates: int
) -> DemoModeResult:
    """One mode's figures; its verdict is left for :func:`_verdict`."""
    report = check_tables(
        workbench.dynamodb(),
        ledger_table=run.resources.ledger_table,
        audit_table=run.resources.audit_table,
    )
    requests = sum(len(env.faults.calls) for env in run.environments if env.faults)
    wrong = _wrong_state_keys(workbench, run, keys)
    return {
        # report.to_json(), key by key: a TypedDict takes no dict[str, Any] unpacked.
        "ledger_items": report.ledger_items,
        "audit_items": report.audit_items,
        "anomalies": dict(report.anomalies),
        "anomalies_total": report.anomalies_total,
        "examples": {kind: list(ids) for kind, ids in report.examples.items()},
        # What the tables alone cannot show: the ledger against what a GET returns.
        "wrong_state": len(wrong),
        "wrong_state_examples": wrong[:5],
        "events": events,
        # Audit items are one per event, so the difference is what never got recorded.
        "events_unrecorded": events - report.audit_items,
        "failed_invocations": run.runner.stats.failed_invocations,
        "dlq_messages": queue_depth(workbench.sqs(), run.resources.dlq_url),
        "requests_per_event": round(requests / events, 2),
        "duplicates_delivered": duplicates,
        "crashes": sum(
            env.faults.injected.get("crash", 0) for env in run.environments if env.faults
        ),
        "symptom": _symptom(workbench, run.resources, f"{run.resources.bucket}/{REUPLOADED_KEY}"),
        "verdict": "",  # written by the caller, from the result
        "verdict_ok": False,
    }


def _summarise(  # noqa: PLR0917 -- private, called once, with every figure of the run
    workbench: Workbench,
    runs: Sequence[_ModeRun],
    injectors: dict[str, _Injector],
    events: int,
    files: int,
    seed: int,
    started: float,
    keys: Sequence[str],
) -> DemoSummary:
    modes: dict[str, DemoModeResult] = {}
    for run in runs:
        result = _mode_result(
            workbench, run, events, keys, duplicates=injectors[run.mode].duplicates
        )
        result["verdict"], result["verdict_ok"] = _verdict(result)
        modes[run.mode] = result
    return {
        "seed": seed,
        "files": files,
        "events": events,
        "elapsed_seconds": round(time.monotonic() - started, 1),
        "faults": {
            mode: {"duplicates": r["duplicates_delivered"], "crashes": r["crashes"]}
            for mode, r in modes.items()
        },
        "modes": modes,
    }

"""``s3ledger chaos``: a known history, the faults AWS produces, and a count of what went wrong.

For each mode, on its own pipeline (prefixed bucket and tables provisioned from template.yaml):

1. the workload makes N real requests on the versioned bucket (uploads, overwrites, delete
   markers, removals of current and noncurrent versions and of delete markers, lifecycle
   expirations), and S3 (the workbench's moto, which emits events as AWS documents them)
   sends one event per request to the pipeline's queue, from where they are collected;
2. those events are delivered at least once through ``delivery.Lane``s, with duplicates
   (sequential and concurrent), reordering, crashes, lost responses, errors, deadline overruns,
   dropped events and poison messages;
3. the history checker compares the tables and their streams with S3: the events it emitted,
   and the state a GET returns for every key at the end;
4. reconcile repairs the ledger from the bucket, and the checker runs again.

The same seed gives the same requests, faults and counts.
"""

from __future__ import annotations

import json
import random
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rich.console import Console
from rich.progress import Progress

from s3ledger.core.config import Mode
from s3ledger.operate.reconcile import reconcile
from s3ledger.operate.scan import get_items
from s3ledger.proof.checker import (
    HISTORY_ANOMALIES,
    BucketTruth,
    HistoryReport,
    Notification,
    Truth,
    check_history,
)
from s3ledger.proof.delivery import FAULT_KINDS, FaultRates, Lane, Message
from s3ledger.proof.stream_log import StreamCursor
from s3ledger.proof.summary import ChaosMeasured, ChaosModeResult, ChaosSummary, ChaosTally
from s3ledger.proof.windows import observed, two_write_windows
from s3ledger.proof.workload import (
    Request,
    perform,
    plan_requests,
    read_bucket_truth,
    round_prefix,
)
from s3ledger.workbench.console import counting_progress, handler_logs_silenced
from s3ledger.workbench.dynamodb_local import (
    free_port,
)
from s3ledger.workbench.emulators import Workbench
from s3ledger.workbench.provision import Resources, provision
from s3ledger.workbench.session import environment_factory
from s3ledger.workbench.template import load_pipeline_spec

__all__ = ["CHAOS_OVERRIDES", "ChaosPlan", "plan_deliveries", "run_chaos"]

# The function timeout bounds what a retry must wait for (Powertools' in-progress expiry) and
# what a deadline fault costs; two seconds keeps both cheap and leaves the handler's own retry
# budget (it stops one second before the deadline) room to work. Visibility and redelivery are
# played by the lanes (see delivery.py), so no other parameter needs scaling.
CHAOS_OVERRIDES: Final = {"FunctionTimeout": "2", "QueueVisibilityTimeout": "12"}
# Checked and reconciled one round at a time, so memory does not grow with --events.
ROUND_EVENTS: Final = 1000
_POISON_BODIES: Final = ("{not json", '{"Records": [{"eventName": 42}]}', '{"Records": "x"}')


@dataclass
class ChaosPlan:
    """Who gets what: the lanes' messages, and the workload faults decided up front."""

    lanes: list[list[Message]]
    truth: Truth
    injected: Counter[str]


def _lane_of(key: str, lanes: int) -> int:
    return zlib.crc32(key.encode()) % lanes


def plan_deliveries(
    histories: Sequence[list[Notification]],
    rates: FaultRates,
    seed: int,
    lanes: int,
    bucket: str,
) -> ChaosPlan:
    """Turn each key's events (in S3's order) into messages per lane, with the workload faults
    (reordering, drops, duplicates, poison) decided by the seed."""
    rng = random.Random(seed * 7919 + 1)
    timed: list[list[tuple[float, Message]]] = [[] for _ in range(lanes)]
    truth = Truth(bucket=bucket)
    injected: Counter[str] = Counter()
    for history in histories:
        lane = _lane_of(history[0].key, lanes)
        start = float(history[0].index)
        times = [start + position * rng.uniform(5, 60) for position in range(len(history))]
        if len(history) > 1 and rng.random() < rates["reorder"]:
            rng.shuffle(times)
            injected["reorder"] += 1
            for notification in history:
                notification.faults.add("reorder")
        for notification, at in zip(history, times, strict=True):
            truth.notifications.append(notification)
            if rng.random() < rates["drop"]:
                notification.faults.add("drop")
                injected["drop"] += 1
                continue
            truth.delivered.add(notification.index)
            body = notification.body
            duplicate = rng.random() < rates["duplicate"]
            concurrent = duplicate and rng.random() < 0.5
            timed[lane].append(
                (at, Message(body, notification, concurrent_twin=concurrent, order=at))
            )
            if duplicate:
                injected["duplicate"] += 1
                if not concurrent:
                    notification.faults.add("duplicate")
                    later = at + rng.uniform(1, 200)
                    timed[lane].append((later, Message(body, notification, order=later)))
            if rng.random() < rates["poison"]:
                injected["poison"] += 1
                timed[lane].append((at + 0.5, Message(rng.choice(_POISON_BODIES), order=at + 0.5)))
    ordered = [[m for _, m in sorted(t, key=lambda pair: pair[0])] for t in timed]
    return ChaosPlan(ordered, truth, injected)


def _make_requests(
    workbench: Workbench, queue_url: str, bucket: str, histories: Sequence[list[Request]]
) -> list[list[Notification]]:
    """Make every request on the bucket, in order; collect the event S3 sent for each.

    An event is tied to its request by S3's request id (which the event carries), so the key is
    the one the workload used, not one decoded from the event.
    """
    s3, sqs = workbench.s3(), workbench.sqs()
    by_request_id: dict[str, Request] = {}
    for history in histories:
        for request in history:
            by_request_id[perform(s3, bucket, request)] = request
    found: dict[int, Notification] = {}
    deadline = time.monotonic() + 30
    while len(found) < len(by_request_id) and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            payload = json.loads(message["Body"])
            for record in payload.get("Records", []):
                request_id = record["responseElements"]["x-amz-request-id"]
                request = by_request_id[request_id]
                found[request.index] = Notification(
                    index=request.index,
                    key=request.key,
                    request_id=request_id,
                    event_name=record["eventName"],
                    body=json.dumps({"Records": [record]}),
                )
    if len(found) < len(by_request_id):
        raise RuntimeError(
            f"S3 sent {len(found)} events for {len(by_request_id)} requests within 30 s"
        )
    return [[found[request.index] for request in history] for history in histories]


def _drain(workbench: Workbench, queue_url: str) -> None:
    """Empty the queue (the lanes deliver; the queue only collects what S3 sends)."""
    workbench.sqs().purge_queue(QueueUrl=queue_url)


class _Tally:
    """Counts summed over rounds: a round's state is dropped once it is counted."""

    def __init__(self) -> None:
        self.anomalies: Counter[str] = Counter(dict.fromkeys(HISTORY_ANOMALIES, 0))
        self.by_fault: dict[str, Counter[str]] = {}

    def add(self, report: HistoryReport) -> None:
        self.anomalies.update(report.anomalies)
        for fault, counts in report.by_fault.items():
            self.by_fault.setdefault(fault, Counter()).update(counts)

    def to_json(self) -> ChaosTally:
        return {
            "anomalies": {kind: self.anomalies[kind] for kind in HISTORY_ANOMALIES},
            "anomalies_total": sum(self.anomalies.values()),
            "by_fault": {f: dict(sorted(c.items())) for f, c in sorted(self.by_fault.items())},
        }


class _RoundChecker:
    """Checks one round's objects from the items and the stream logs of that round only."""

    def __init__(self, workbench: Workbench, resources: Resources) -> None:
        self._dynamodb = workbench.dynamodb()
        self._resources = resources
        streams = workbench.streams()
        self._ledger_log = StreamCursor(streams, self._dynamodb, resources.ledger_table)
        self._audit_log = StreamCursor(streams, self._dynamodb, resources.audit_table)
        self.ledger_records: list[dict[str, Any]] = []
        self.audit_records: list[dict[str, Any]] = []

    def start_round(self) -> None:
        self.ledger_records, self.audit_records = [], []

    def check(
        self, truth: Truth, bucket_state: dict[str, BucketTruth], *, reconciled: bool
    ) -> HistoryReport:
        self.ledger_records += self._ledger_log.read()
        self.audit_records += self._audit_log.read()
        object_ids = {f"{truth.bucket}/{key}" for key in bucket_state}
        # The audit items this round wrote (the stream has every write of the round).
        event_ids = {r["dynamodb"]["Keys"]["event_id"]["S"] for r in self.audit_records}
        return check_history(
            truth,
            ledger_items=list(
                get_items(self._dynamodb, self._resources.ledger_table, "id", object_ids).values()
            ),
            audit_items=list(
                get_items(
                    self._dynamodb, self._resources.audit_table, "event_id", event_ids
                ).values()
            ),
            ledger_stream=self.ledger_records,
            audit_stream=self.audit_records,
            bucket_state=bucket_state,
            reconciled=reconciled,
        )


def _rounds(histories: Iterator[list[Request]], round_size: int) -> Iterator[list[list[Request]]]:
    """Group the histories by the round their key belongs to."""
    current: list[list[Request]] = []
    number = 0
    for history in histories:
        if history[0].index // round_size != number and current:
            yield current
            current = []
        number = history[0].index // round_size
        current.append(history)
    if current:
        yield current


def _run_mode(
    workbench: Workbench,
    mode: Mode,
    *,
    events: int,
    rates: FaultRates,
    seed: int,
    workers: int,
    progress: Progress,
) -> tuple[ChaosModeResult, ChaosMeasured]:
    spec = load_pipeline_spec(overrides={**CHAOS_OVERRIDES, "Mode": mode})
    resources = provision(
        workbench.dynamodb(), workbench.s3(), workbench.sqs(), spec, prefix=f"chaos-{mode}-"
    )
    _drain(workbench, resources.queue_url)  # the s3:TestEvent of the notification's set-up
    settings = resources.settings(mode)
    sandboxes = environment_factory(
        workbench.dynamodb_endpoint,
        settings,
        aws_endpoint=workbench.aws_endpoint,
        fault_hooks=True,
    )
    task = progress.add_task(mode, total=events)
    windows = two_write_windows(mode, resources)
    lanes = [
        Lane(
            mode=mode,
            sandboxes=lambda: observed(sandboxes(0), windows),
            rates=rates,
            seed=seed * 1_000 + index,
            batch_size=spec.function.batch_size,
            max_receive_count=spec.queue.max_receive_count,
            function_timeout=float(spec.function.timeout),
            between_writes=resources.audit_table if windows is not None else None,
        )
        for index in range(workers)
    ]
    checker = _RoundChecker(workbench, resources)
    before, after = _Tally(), _Tally()
    injected: Counter[str] = Counter()
    reconciled = poison_parked = 0
    requests = plan_requests(events, seed, ROUND_EVENTS)
    for number, round_requests in enumerate(_rounds(requests, ROUND_EVENTS)):
        round_histories = _make_requests(
            workbench, resources.queue_url, resources.bucket, round_requests
        )
        keys = [history[0].key for history in round_histories]
        plan = plan_deliveries(
            round_histories, rates, seed * 10_007 + number, workers, resources.bucket
        )
        injected.update(plan.injected)
        checker.start_round()
        threads = [
            threading.Thread(target=lane.run, args=(messages,))
            for lane, messages in zip(lanes, plan.lanes, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for lane in lanes:
            for message in lane.dlq:
                if message.notification is not None:
                    plan.truth.parked.add(message.notification.index)
                else:
                    plan.truth.poison_parked += 1
            lane.dlq.clear()
        poison_parked += plan.truth.poison_parked
        bucket_state = read_bucket_truth(workbench.s3(), resources.bucket, keys)
        before.add(checker.check(plan.truth, bucket_state, reconciled=False))
        repaired = reconcile(
            workbench.s3(),
            workbench.dynamodb(),
            bucket=resources.bucket,
            ledger_table=resources.ledger_table,
            audit_table=resources.audit_table,
            apply=True,
            prefix=round_prefix(number),
            settle_seconds=0,  # the lanes are drained: no event of this round is in flight
        )
        reconciled += repaired.repaired
        after.add(checker.check(plan.truth, bucket_state, reconciled=True))
        progress.advance(task, len(plan.truth.notifications))
    for lane in lanes:
        injected.update(lane.injected)
    progress.update(task, description=f"{mode}: done")
    result: ChaosModeResult = {
        **after.to_json(),
        "before_reconcile": before.to_json(),
        "reconciled": reconciled,
        "faults_injected": {kind: injected.get(kind, 0) for kind in FAULT_KINDS},
        "poison_parked": poison_parked,
    }
    measured: ChaosMeasured = {
        "requests_per_event": round(sum(lane.requests for lane in lanes) / max(events, 1), 2)
    }
    if windows is not None:
        measured["disagreement"] = windows.summary()
    return result, measured


def run_chaos(
    *,
    events: int,
    modes: Sequence[Mode],
    rates: FaultRates,
    seed: int,
    workers: int,
    as_json: bool,
) -> ChaosSummary:
    """Run chaos for ``modes`` and return its summary (the CLI prints it); progress goes to stderr
    unless ``as_json``."""
    console = Console(stderr=True)
    results: dict[str, ChaosModeResult] = {}
    # Counts are fixed by the seed. Request counts are not quite: two sandboxes racing on one
    # item (concurrent duplicates, deadline overruns) may retry a conflict or not.
    measured: dict[str, ChaosMeasured] = {}
    with (
        handler_logs_silenced(),  # failures are counted, not logged
        Workbench(dynamodb_port=free_port(), aws_port=free_port()) as workbench,
        counting_progress(console, disable=as_json, unit="events") as progress,
    ):
        for mode in modes:
            results[mode], measured[mode] = _run_mode(
                workbench,
                mode,
                events=events,
                rates=rates,
                seed=seed,
                workers=workers,
                progress=progress,
            )
    return {
        "seed": seed,
        "events": events,
        "workers": workers,
        "rates": {kind: rates[kind] for kind in FAULT_KINDS},
        "modes": results,
        "measured": measured,
    }

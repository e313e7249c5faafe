"""``s3ledger chaos``: a known history, the faults AWS produces, and a count of what went wrong.

For each mode, on its own pipeline (prefixed bucket and tables provisioned from template.yaml):

1. the workload makes N real requests on the versioned bucket (uploads, overwrites, delete
   markers, removals of current and noncurrent versions and of delete markers, lifecycle
   expirations), and S3 (the workbench's moto, which emits events as AWS documents them)
   sends each event three ways (S3 → SQS, S3 → SNS → SQS, S3 → EventBridge → SQS:
   :mod:`s3ledger.proof.paths`), of which each key keeps one, chosen by the seed; between
   the requests, seeded ``backfill`` and ``reconcile --apply`` runs of a key race the requests
   after them (the operator commands themselves, reading S3 as it is at that moment);
2. those events are delivered at least once through ``delivery.Lane``s, with duplicates
   (sequential and concurrent), reordering, crashes, lost responses, errors, deadline overruns,
   dropped events and poison messages, and seeded ``reconcile --apply`` runs of a key between
   a lane's batches, while its other events are still in flight;
3. the history checker compares the tables and their streams with S3: the events it emitted,
   and the state a GET returns for every key at the end;
4. reconcile repairs the ledger from the bucket, and the checker runs again.

The same seed gives the same requests, faults and counts.
"""

from __future__ import annotations

import json
import random
import threading
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rich.console import Console
from rich.progress import Progress

from s3ledger.core.config import Mode
from s3ledger.operate.backfill import backfill
from s3ledger.operate.reconcile import reconcile
from s3ledger.operate.scan import get_audit_items, get_items
from s3ledger.proof.checker import (
    HISTORY_ANOMALIES,
    BucketTruth,
    HistoryReport,
    Notification,
    Truth,
    check_history,
)
from s3ledger.proof.delivery import FAULT_KINDS, FaultRates, Lane, Message
from s3ledger.proof.paths import PATHS, Collectors, Path, open_paths
from s3ledger.proof.stream_log import StreamCursor
from s3ledger.proof.summary import ChaosAnomalyCounts, ChaosMeasured, ChaosModeResult, ChaosSummary
from s3ledger.proof.windows import WindowObserver, observed, two_write_windows
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
from s3ledger.workbench.provision import Resources, provision
from s3ledger.workbench.session import environment_factory
from s3ledger.workbench.template import PipelineSpec, load_pipeline_spec
from s3ledger.workbench.workbench import Workbench

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


# How often each delivery path is a key's (EventBridge's whole-second times are the ones the
# clocks cannot order, so it gets the largest share; SNS carries S3's own notification).
PATH_WEIGHTS: Final[dict[Path, int]] = {"s3": 2, "sns": 1, "eventbridge": 2}


def path_of(key: str, seed: int) -> Path:
    """The path a key's events take, fixed by the seed and the key (as its lane is)."""
    point = zlib.crc32(f"{seed}:{key}".encode()) % sum(PATH_WEIGHTS.values())
    for path in PATHS:
        point -= PATH_WEIGHTS[path]
        if point < 0:
            return path
    raise AssertionError("unreachable: the weights cover every point")  # pragma: no cover


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


class Repairs:
    """The operator commands chaos runs while traffic flows: ``backfill`` and ``reconcile
    --apply`` of one key, as a user runs them (the real commands, no settle window)."""

    def __init__(self, workbench: Workbench, resources: Resources, rates: FaultRates) -> None:
        self._s3, self._dynamodb = workbench.s3(), workbench.dynamodb()
        self._resources = resources
        self._rates = rates
        self._lock = threading.Lock()
        self.runs: Counter[str] = Counter()
        self.written = 0

    def after_request(self, key: str, rng: random.Random) -> None:
        """Right after a request of ``key``: a seeded backfill or reconcile of it, or nothing
        (both draws are made every time, so the seed's stream never depends on outcomes)."""
        backfilling = rng.random() < self._rates["backfill"]
        reconciling = rng.random() < self._rates["reconcile"]
        if backfilling:
            self.backfill(key)
        elif reconciling:
            self.reconcile(key)

    def backfill(self, key: str) -> None:
        report = backfill(
            self._s3,
            self._dynamodb,
            bucket=self._resources.bucket,
            ledger_table=self._resources.ledger_table,
            audit_table=self._resources.audit_table,
            prefix=key,
            workers=1,
        )
        self._count("backfill", report.objects_written)

    def reconcile(self, key: str) -> None:
        report = reconcile(
            self._s3,
            self._dynamodb,
            bucket=self._resources.bucket,
            ledger_table=self._resources.ledger_table,
            audit_table=self._resources.audit_table,
            apply=True,
            prefix=key,
            settle_seconds=0,  # no window: the point is to race the events in flight
        )
        self._count("reconcile", report.repaired)

    def _count(self, kind: str, written: int) -> None:
        with self._lock:
            self.runs[kind] += 1
            self.written += written


def _make_requests(
    workbench: Workbench,
    collectors: Collectors,
    histories: Sequence[list[Request]],
    *,
    seed: int,
    repairs: Repairs,
) -> list[list[Notification]]:
    """Make every request on the bucket, in order (with the seeded repairs between them);
    collect the event S3 sent for each, by the path its key takes.

    An event is tied to its request by S3's request id (which the event carries), so the key is
    the one the workload used, not one decoded from the event.
    """
    s3 = workbench.s3()
    rng = random.Random(seed * 31 + 7)
    by_request_id: dict[str, Request] = {}
    for history in histories:
        for request in history:
            by_request_id[perform(s3, collectors.bucket, request)] = request
            repairs.after_request(request.key, rng)
    bodies = collectors.collect(workbench, set(by_request_id))
    found: dict[int, Notification] = {}
    for request_id, request in by_request_id.items():
        path = path_of(request.key, seed)
        record = json.loads(bodies[request_id]["s3"])["Records"][0]
        found[request.index] = Notification(
            index=request.index,
            key=request.key,
            request_id=request_id,
            event_name=record["eventName"],
            body=bodies[request_id][path],
            path=path,
        )
    return [[found[request.index] for request in history] for history in histories]


def _drain(workbench: Workbench, queue_url: str) -> None:
    """Empty the queue (the lanes deliver; the queue only collects what S3 sends)."""
    workbench.sqs().purge_queue(QueueUrl=queue_url)


class _AnomalyTotals:
    """One mode's anomalies, in all and by fault, summed over its rounds (a round's state is
    dropped once it is counted)."""

    def __init__(self) -> None:
        self.anomalies: Counter[str] = Counter(dict.fromkeys(HISTORY_ANOMALIES, 0))
        self.by_fault: dict[str, Counter[str]] = {}

    def add(self, report: HistoryReport) -> None:
        self.anomalies.update(report.anomalies)
        for fault, counts in report.by_fault.items():
            self.by_fault.setdefault(fault, Counter()).update(counts)

    def to_json(self) -> ChaosAnomalyCounts:
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
        event_ids = {r["dynamodb"]["NewImage"]["event_id"]["S"] for r in self.audit_records}
        return check_history(
            truth,
            ledger_items=list(
                get_items(self._dynamodb, self._resources.ledger_table, "id", object_ids).values()
            ),
            audit_items=list(
                get_audit_items(self._dynamodb, self._resources.audit_table, event_ids).values()
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


def _lanes(
    mode: Mode, rates: FaultRates, seed: int, workers: int, context: _ModeContext
) -> list[Lane]:
    """One lane per worker, each with its own sandboxes (fault hooks on) and seed."""
    spec, resources = context.spec, context.resources
    sandboxes = environment_factory(
        context.workbench.dynamodb_endpoint,
        resources.settings(mode),
        aws_endpoint=context.workbench.aws_endpoint,
        fault_hooks=True,
    )
    windows = context.windows
    return [
        Lane(
            mode=mode,
            sandboxes=lambda: observed(sandboxes(0), windows),
            rates=rates,
            seed=seed * 1_000 + index,
            batch_size=spec.function.batch_size,
            max_receive_count=spec.queue.max_receive_count,
            function_timeout=float(spec.function.timeout),
            between_writes=resources.audit_table if windows is not None else None,
            repair=context.repairs.reconcile,
        )
        for index in range(workers)
    ]


@dataclass
class _ModeContext:
    """One mode's pipeline on the workbench: its resources, paths, repairs and windows."""

    workbench: Workbench
    spec: PipelineSpec
    resources: Resources
    collectors: Collectors
    repairs: Repairs
    windows: WindowObserver | None

    @classmethod
    def provision(cls, workbench: Workbench, mode: Mode, rates: FaultRates) -> _ModeContext:
        spec = load_pipeline_spec(overrides={**CHAOS_OVERRIDES, "Mode": mode})
        resources = provision(
            workbench.dynamodb(), workbench.s3(), workbench.sqs(), spec, prefix=f"chaos-{mode}-"
        )
        _drain(workbench, resources.queue_url)  # the s3:TestEvent of the notification's set-up
        return cls(
            workbench,
            spec,
            resources,
            open_paths(workbench, resources, spec.notification.events),
            Repairs(workbench, resources, rates),
            two_write_windows(mode, resources),
        )


class _ModeRun:
    """Chaos for one mode, round by round: requests, deliveries, checks, reconcile."""

    def __init__(
        self, context: _ModeContext, lanes: list[Lane], *, seed: int, rates: FaultRates
    ) -> None:
        self.context, self.lanes, self.seed, self.rates = context, lanes, seed, rates
        self.checker = _RoundChecker(context.workbench, context.resources)
        self.before, self.after = _AnomalyTotals(), _AnomalyTotals()
        self.injected: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()
        self.reconciled = self.poison_parked = 0

    def round(self, number: int, round_requests: list[list[Request]]) -> int:
        """Run one round; return how many events it had."""
        workbench, resources = self.context.workbench, self.context.resources
        histories = _make_requests(
            workbench,
            self.context.collectors,
            round_requests,
            seed=self.seed * 10_007 + number,
            repairs=self.context.repairs,
        )
        plan = plan_deliveries(
            histories, self.rates, self.seed * 10_007 + number, len(self.lanes), resources.bucket
        )
        self.injected.update(plan.injected)
        self.paths.update(h[0].path for h in histories for _ in h)
        self.checker.start_round()
        self._deliver(plan)
        keys = [history[0].key for history in histories]
        bucket_state = read_bucket_truth(workbench.s3(), resources.bucket, keys)
        self.before.add(self.checker.check(plan.truth, bucket_state, reconciled=False))
        self.reconciled += reconcile(
            workbench.s3(),
            workbench.dynamodb(),
            bucket=resources.bucket,
            ledger_table=resources.ledger_table,
            audit_table=resources.audit_table,
            apply=True,
            prefix=round_prefix(number),
            settle_seconds=0,  # the lanes are drained: no event of this round is in flight
        ).repaired
        self.after.add(self.checker.check(plan.truth, bucket_state, reconciled=True))
        return len(plan.truth.notifications)

    def _deliver(self, plan: ChaosPlan) -> None:
        threads = [
            threading.Thread(target=lane.run, args=(messages,))
            for lane, messages in zip(self.lanes, plan.lanes, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for lane in self.lanes:
            for message in lane.dlq:
                if message.notification is not None:
                    plan.truth.parked.add(message.notification.index)
                else:
                    plan.truth.poison_parked += 1
            lane.dlq.clear()
        self.poison_parked += plan.truth.poison_parked

    def result(self, events: int) -> tuple[ChaosModeResult, ChaosMeasured]:
        for lane in self.lanes:
            self.injected.update(lane.injected)
        repairs = self.context.repairs
        self.injected.update(repairs.runs)
        result: ChaosModeResult = {
            **self.after.to_json(),
            "before_reconcile": self.before.to_json(),
            "reconciled": self.reconciled,
            "faults_injected": {kind: self.injected.get(kind, 0) for kind in FAULT_KINDS},
            "poison_parked": self.poison_parked,
            "paths": {path: self.paths.get(path, 0) for path in PATHS},
        }
        measured: ChaosMeasured = {
            "requests_per_event": round(
                sum(lane.requests for lane in self.lanes) / max(events, 1), 2
            ),
            # How many of the racing repairs wrote depends on how far the lanes had got.
            "repairs_written_during_traffic": repairs.written,
        }
        if self.context.windows is not None:
            measured["disagreement"] = self.context.windows.summary()
        return result, measured


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
    context = _ModeContext.provision(workbench, mode, rates)
    run = _ModeRun(context, _lanes(mode, rates, seed, workers, context), seed=seed, rates=rates)
    task = progress.add_task(mode, total=events)
    requests = plan_requests(events, seed, ROUND_EVENTS)
    for number, round_requests in enumerate(_rounds(requests, ROUND_EVENTS)):
        progress.advance(task, run.round(number, round_requests))
    progress.update(task, description=f"{mode}: done")
    return run.result(events)


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

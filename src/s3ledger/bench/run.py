"""``s3ledger bench``: what each mode costs and how fast it goes, side by side, on one workload.

For every mode, one after the other on one workbench, on its own pipeline (prefixed bucket,
queues and tables provisioned from ``template.yaml``):

1. **fresh events**: N notifications of N distinct objects, with real-shaped sequencers, are sent
   to the queue (as S3 would; the bucket's own notification is removed) while the local runner
   (W workers, the template's batch size) drains it, a bounded backlog ahead of it;
2. **duplicates**: the same N notifications again, in new SQS messages, drained by the same warm
   sandboxes.

A :class:`~s3ledger.bench.meters.Meter` on each sandbox's DynamoDB client counts every request
(Powertools' own included: they share the client), adds ``ReturnConsumedCapacity=TOTAL`` to every
call that accepts it and sums what DynamoDB reports. Handler latency is timed around each invocation
(``Handler.handle_sqs``) and divided by the events in it; throughput runs from the runner's start
to its last delete. Cold start is timed in a fresh interpreter per mode.

DynamoDB Local reports 2.0 write units per *table* of a transaction, however many items of that
table it holds, and nothing for a failed write; so write units are also computed by DynamoDB's
rule from each request's items, and ``inbox-batch`` (up to 50 audit items of one table per
transaction) is reported by the rule.
"""

from __future__ import annotations

import functools
import os
import platform
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.progress import Progress

from s3ledger.bench.chart import write_chart
from s3ledger.bench.cold_start import COLD_START_RUNS, cold_start_ms
from s3ledger.bench.end_to_end import (
    PAUSE_S,
    POLL_INTERVAL_S,
    RUNNER_WAIT_SECONDS,
    WARMUP_UPLOADS,
    EndToEnd,
    measure_end_to_end,
    percentile,
)
from s3ledger.bench.meters import Meter
from s3ledger.bench.modes import BENCH_OVERRIDES, MODE_OVERRIDES, RULE_MODES
from s3ledger.bench.notes import bench_notes, bench_warnings, ratios
from s3ledger.bench.phases import Phase, run_phase
from s3ledger.bench.probes import Probe, Sandboxes
from s3ledger.bench.summary import (
    BenchMethod,
    BenchSummary,
    EndToEndSettings,
    Machine,
    ModeCosts,
    ModeMeasures,
    ModeOutcome,
    ModeResult,
    ModeUnits,
)
from s3ledger.bench.workload import bench_events
from s3ledger.core.config import Mode
from s3ledger.core.consistency import ConsistencyReport
from s3ledger.operate.queues import queue_depth
from s3ledger.operate.scan import check_tables
from s3ledger.workbench.console import counting_progress, handler_logs_silenced
from s3ledger.workbench.dynamodb_local import free_port
from s3ledger.workbench.provision import Resources, provision
from s3ledger.workbench.runner import RunnerSettings
from s3ledger.workbench.session import queue_arn
from s3ledger.workbench.template import load_pipeline_spec
from s3ledger.workbench.workbench import Workbench

__all__ = ["ModeBench", "percentile", "run_bench", "summarise_mode"]

_WARMUP_EVENTS: Final = 500
_ROUNDS: Final = 2  # the modes take turns: in order, then in reverse


class ModeBench:
    """One mode's pipeline, sandboxes and meters; its phases run in rounds between other modes'.

    Each round sends one slice of the events fresh, then the same slice again as duplicates.
    DynamoDB Local keeps getting faster as its JIT warms, so the modes take turns (in order, then
    in reverse): no mode is measured only early or only late in the run.
    """

    def __init__(
        self,
        workbench: Workbench,
        mode: Mode,
        *,
        events: int,
        workers: int,
        batch: int,
        seed: int,
        progress: Progress,
        streams: bool,
        prefix: str = "bench-",
        label: str | None = None,
    ) -> None:
        spec = load_pipeline_spec(
            overrides={
                **BENCH_OVERRIDES,
                **MODE_OVERRIDES.get(mode, {}),
                "Mode": mode,
                "BatchSize": str(batch),
            }
        )
        if not streams:
            spec = spec.without_streams()
        self.workbench, self.mode, self.events = workbench, mode, events
        self.resources = provision(
            workbench.dynamodb(), workbench.s3(), workbench.sqs(), spec, prefix=f"{prefix}{mode}-"
        )
        # The bench sends the notifications itself, as S3 would, with real sequencers.
        workbench.s3().put_bucket_notification_configuration(
            Bucket=self.resources.bucket, NotificationConfiguration={}
        )
        workbench.sqs().purge_queue(QueueUrl=self.resources.queue_url)  # moto's s3:TestEvent
        self.bodies = bench_events(events, seed, self.resources.bucket)
        settings = self.resources.settings(mode)
        self.meter, self.probe = Meter(), Probe()
        self.sandboxes = Sandboxes(workbench.dynamodb_endpoint, settings, self.meter, self.probe)
        for index in range(workers):  # warm: cold start is measured apart
            self.sandboxes(index)
        self.runner_settings = RunnerSettings(
            queue_url=self.resources.queue_url,
            queue_arn=queue_arn(workbench.sqs(), self.resources.queue_url),
            batch_size=spec.function.batch_size,
            function_timeout=float(spec.function.timeout),
            workers=workers,
        )
        self.label = label or mode
        self.progress = progress
        self.task = progress.add_task(f"{self.label}: waiting", total=2 * events)
        self.probe.on_progress = lambda done: progress.advance(self.task, done)
        self.fresh: list[Phase] = []
        self.duplicates: list[Phase] = []

    def run_round(self, index: int, rounds: int) -> None:
        """Round ``index`` of ``rounds``: its slice of the events fresh, then again."""
        bodies = self.bodies[index * self.events // rounds : (index + 1) * self.events // rounds]
        if not bodies:
            return
        for phases, what in ((self.fresh, "fresh events"), (self.duplicates, "duplicates")):
            self.progress.update(self.task, description=f"{self.label}: {what}")
            phases.append(
                run_phase(
                    self.workbench,
                    self.runner_settings,
                    self.sandboxes,
                    self.meter,
                    self.probe,
                    bodies,
                )
            )
        self.progress.update(self.task, description=f"{self.label}: waiting")

    def summary(self) -> ModeMeasures:
        self.progress.update(self.task, description=f"{self.label}: checking")
        result = summarise_mode(
            self.workbench,
            self.mode,
            self.resources,
            self.events,
            Phase.total(self.fresh),
            Phase.total(self.duplicates),
        )
        self.progress.update(self.task, description=f"{self.label}: done")
        return result


def summarise_mode(  # noqa: PLR0917 -- called once per mode with its two phases
    workbench: Workbench,
    mode: str,
    resources: Resources,
    events: int,
    fresh: Phase,
    duplicates: Phase,
) -> ModeMeasures:
    """One mode's figures from its phases (summed over the rounds) and its tables and DLQ."""
    report = check_tables(
        workbench.dynamodb(),
        ledger_table=resources.ledger_table,
        audit_table=resources.audit_table,
    )
    dlq_messages = queue_depth(workbench.sqs(), resources.dlq_url)
    n, by_rule = float(events), mode in RULE_MODES
    return {
        **_costs(fresh, duplicates, n, by_rule=by_rule),
        **_units(fresh, duplicates, n, by_rule=by_rule),
        **_outcome(fresh, duplicates, report, dlq_messages),
    }


def _costs(fresh: Phase, duplicates: Phase, n: float, *, by_rule: bool) -> ModeCosts:
    write_units = _write_units_rule if by_rule else _write_units_reported
    return {
        "requests_per_event": round(fresh.meter.requests / n, 3),
        "requests_per_duplicate": round(duplicates.meter.requests / n, 3),
        "write_units_per_event": round(write_units(fresh) / n, 3),
        # DynamoDB Local reports nothing for a failed write: duplicates are counted by the rule.
        "write_units_per_duplicate": round(duplicates.meter.write_units_rule / n, 3),
        "events_per_second": round(n / fresh.seconds, 1),
        "duplicates_per_second": round(n / duplicates.seconds, 1),
        "latency_ms_p50": round(percentile(fresh.samples_ms, 50), 2),
        # Invocation time per event, on average: what Lambda bills and, at a fixed concurrency,
        # what its throughput scales with (SQS is polled outside the function there).
        "handler_ms_per_event": round(sum(fresh.samples_ms) / n, 2),
        "latency_ms_p99": round(percentile(fresh.samples_ms, 99), 2),
        "handler_cpu_ms_per_event": round(fresh.cpu_seconds * 1000 / n, 2),
        "handler_cpu_ms_per_duplicate": round(duplicates.cpu_seconds * 1000 / n, 2),
        # Every process's CPU over the fresh phase (from runner start to the drained queue),
        # per event: what the workbench spends where.
        "process_cpu_ms_per_event": {
            name: round(seconds * 1000 / n, 2)
            for name, seconds in fresh.process_cpu_seconds.items()
        },
        "process_cpu_ms_per_duplicate": {
            name: round(seconds * 1000 / n, 2)
            for name, seconds in duplicates.process_cpu_seconds.items()
        },
        "duplicate_latency_ms_p50": round(percentile(duplicates.samples_ms, 50), 2),
        "duplicate_latency_ms_p99": round(percentile(duplicates.samples_ms, 99), 2),
    }


def _write_units_rule(phase: Phase) -> float:
    return phase.meter.write_units_rule


def _write_units_reported(phase: Phase) -> float:
    return phase.meter.write_units_reported


def _units(fresh: Phase, duplicates: Phase, n: float, *, by_rule: bool) -> ModeUnits:
    return {
        "write_units_source": "rule" if by_rule else "reported",
        "write_units_duplicate_source": "rule",
        "write_units_per_event_reported": round(fresh.meter.write_units_reported / n, 3),
        "write_units_per_event_rule": round(fresh.meter.write_units_rule / n, 3),
        "write_units_per_duplicate_reported": round(duplicates.meter.write_units_reported / n, 3),
        "write_units_per_duplicate_rule": round(duplicates.meter.write_units_rule / n, 3),
        # Reads: inbox's duplicate lookup (BatchGetItem), as DynamoDB Local reports them.
        "read_units_per_event": round(fresh.meter.read_units_reported / n, 3),
        "read_units_per_duplicate": round(duplicates.meter.read_units_reported / n, 3),
        "api_calls_per_event": round(fresh.meter.api_calls / n, 3),
        "api_calls_per_duplicate": round(duplicates.meter.api_calls / n, 3),
        "dynamodb_call_ms_p50": round(percentile(fresh.meter.call_ms, 50), 2),
    }


def _outcome(
    fresh: Phase, duplicates: Phase, report: ConsistencyReport, dlq_messages: int
) -> ModeOutcome:
    return {
        "operations": {
            "fresh": dict(fresh.meter.operations),
            "duplicates": dict(duplicates.meter.operations),
        },
        "seconds": {"fresh": round(fresh.seconds, 3), "duplicates": round(duplicates.seconds, 3)},
        "invocations": {"fresh": fresh.invocations, "duplicates": duplicates.invocations},
        "drained": fresh.drained and duplicates.drained,
        "ledger_items": report.ledger_items,
        "audit_items": report.audit_items,
        "anomalies_total": report.anomalies_total,
        "dlq_messages": dlq_messages,
    }


def machine_facts() -> Machine:
    """The machine the bench runs on, as the summary names it."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                "",
            )
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _end_to_end(
    workbench: Workbench,
    modes: Sequence[Mode],
    progress: Progress,
    *,
    uploads: int,
    sandboxes: tuple[int, int],
) -> dict[str, EndToEnd | None]:
    """Each mode's end-to-end lags with ``sandboxes`` (workers, batch size); ``None`` for every
    mode when ``uploads`` is 0."""
    workers, batch = sandboxes
    lags: dict[str, EndToEnd | None] = dict.fromkeys(modes)
    task = progress.add_task("end to end", total=len(modes) if uploads else 0)
    for mode in modes if uploads else ():
        lags[mode] = measure_end_to_end(
            workbench, mode, uploads=uploads, workers=workers, batch=batch
        )
        progress.advance(task)
    return lags


def end_to_end_settings(uploads: int, workers: int, batch: int) -> EndToEndSettings:
    """How the end-to-end lags were measured, as the summary states it."""
    return {
        "uploads": uploads,
        "warmup_uploads": WARMUP_UPLOADS,
        "pause_ms": PAUSE_S * 1000,
        "ledger_poll_interval_ms": POLL_INTERVAL_S * 1000,
        "runner_wait_seconds": RUNNER_WAIT_SECONDS,
        "runner_batch_size": batch,
        "runner_workers": workers,
        "batching_window": "not emulated (the template's MaximumBatchingWindowInSeconds is 1: on "
        "AWS a lone event may wait up to 1 s for its batch to fill)",
        "method": "one PutObject at a time to a mode's own pipeline; from its response to the "
        "first strongly consistent GetItem of the ledger that shows its version id, through "
        "moto's S3 notification, SQS, the runner's long poll and the handler; S3's own "
        "delivery delay on AWS is not included",
    }


_DLQ_NOTE: Final = (
    "transact rejects every duplicate, which goes to the DLQ at its first redelivery; its "
    "duplicates/s is the rate at which it rejects them (to the last invocation, not the DLQ "
    "move)"
)


def _run_rounds(
    mode_bench: Callable[..., ModeBench],
    modes: Sequence[Mode],
    *,
    events: int,
    warmup: int,
    seed: int,
) -> list[ModeBench]:
    """Warm each mode up, then run the rounds, alternating the modes' order."""
    # DynamoDB Local's JIT keeps speeding up over its first thousands of requests, and each mode
    # uses other request shapes: every mode warms up on a throwaway pipeline of its own first,
    # so no mode pays for the warm-up in its figures.
    for mode in modes if warmup else ():
        mode_bench(
            mode, events=warmup, seed=seed + 1, prefix="bench-warmup-", label=f"warm-up {mode}"
        ).run_round(0, 1)
    benches = [mode_bench(mode, events=events, seed=seed) for mode in modes]
    for index in range(_ROUNDS):
        for bench in benches if index % 2 == 0 else reversed(benches):
            bench.run_round(index, _ROUNDS)
    return benches


def _method(modes: Sequence[Mode], *, cold_start_runs: int, warmup: int) -> BenchMethod:
    """How the figures were taken: the summary's fixed settings."""
    return {
        "latency_method": "invocation time / events in the invocation",
        "overrides": {mode: {**BENCH_OVERRIDES, **MODE_OVERRIDES.get(mode, {})} for mode in modes},
        "cold_start_runs": cold_start_runs,
        "warmup_events": warmup,
        "rounds": _ROUNDS,
    }


def run_bench(
    *,
    events: int,
    modes: Sequence[Mode],
    workers: int,
    batch: int,
    as_json: bool,
    chart: Path | None,
    seed: int,
    streams: bool = False,
    cold_start_runs: int = COLD_START_RUNS,
    warmup_events: int | None = None,
    uploads: int = 100,
) -> BenchSummary:
    """Run the bench and return its summary (the CLI prints it and writes nothing else).

    ``warmup_events`` (default: ``min(events, 500)``) go through a throwaway pipeline of each mode
    first, so that no mode pays for DynamoDB Local's JIT warm-up; ``uploads`` real uploads per
    mode measure the lag end to end (:mod:`s3ledger.bench.end_to_end`); 0 skips either."""
    warmup = min(events, _WARMUP_EVENTS) if warmup_events is None else warmup_events
    console = Console(stderr=True)
    date = datetime.now(UTC).isoformat(timespec="seconds")
    # transact's rejected duplicates would log a line each; they are counted instead.
    with (
        handler_logs_silenced(),
        Workbench(dynamodb_port=free_port(), aws_port=free_port()) as workbench,
        counting_progress(console, disable=as_json) as progress,
    ):
        mode_bench = functools.partial(
            ModeBench, workbench, workers=workers, batch=batch, progress=progress, streams=streams
        )
        benches = _run_rounds(mode_bench, modes, events=events, warmup=warmup, seed=seed)
        measures = {bench.mode: bench.summary() for bench in benches}
        lags = _end_to_end(workbench, modes, progress, uploads=uploads, sandboxes=(workers, batch))
        task = progress.add_task("cold start", total=len(modes) * cold_start_runs)
        imports = cold_start_ms(modes, cold_start_runs, on_run=lambda: progress.advance(task))
    results: dict[str, ModeResult] = {
        mode: {**measures[mode], "import_ms": round(imports[mode], 1), "end_to_end_ms": lags[mode]}
        for mode in modes
    }
    summary: BenchSummary = {
        "modes": results,
        "ratios_to_powertools": ratios(results),
        "events": events,
        "workers": workers,
        "batch": batch,
        "seed": seed,
        "streams": streams,
        "machine": machine_facts(),
        "date": date,
        **_method(modes, cold_start_runs=cold_start_runs, warmup=warmup),
        "end_to_end": end_to_end_settings(uploads, workers, batch),
        "dlq_note": _DLQ_NOTE,
        "warnings": bench_warnings(results, events),
        "notes": [],  # written below, from the summary
    }
    summary["notes"] = bench_notes(summary)
    if chart is not None:
        write_chart(summary, chart)
    return summary

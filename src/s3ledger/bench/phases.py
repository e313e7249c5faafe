"""One phase of one mode's round (its slice of the events, fresh or again as duplicates): the
notifications fed to the queue, a bounded backlog ahead of the local runner, until it drains.

Throughput runs from the runner's start to its last delete.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from s3ledger.bench.meters import CpuClock, Meter, MeterTotals
from s3ledger.bench.probes import Probe, Sandboxes
from s3ledger.bench.workload import enqueue
from s3ledger.workbench.runner import LocalRunner, RunnerSettings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from s3ledger.workbench.workbench import Workbench

__all__ = ["Phase", "run_phase"]

_MIN_BACKLOG: Final = 20
_BACKLOG_BATCHES: Final = 3  # batches queued ahead of each worker


@dataclass
class Phase:
    """What one phase (or, summed, every round's phase of one kind) measured."""

    seconds: float
    drained: bool
    meter: MeterTotals
    samples_ms: list[float]
    cpu_seconds: float
    handled: int
    invocations: int
    process_cpu_seconds: dict[str, float]

    @classmethod
    def total(cls, phases: Sequence[Phase]) -> Phase:
        """One phase's figures summed over its rounds."""
        cpu: Counter[str] = Counter()
        for phase in phases:
            cpu.update(phase.process_cpu_seconds)
        return cls(
            seconds=sum(p.seconds for p in phases),
            drained=all(p.drained for p in phases),
            meter=sum((p.meter for p in phases), MeterTotals()),
            samples_ms=[ms for p in phases for ms in p.samples_ms],
            cpu_seconds=sum(p.cpu_seconds for p in phases),
            handled=sum(p.handled for p in phases),
            invocations=sum(p.invocations for p in phases),
            process_cpu_seconds=dict(cpu),
        )


def _feed(  # noqa: PLR0917 -- the feeder thread's target, bound by run_phase
    client: SQSClient,
    queue_url: str,
    bodies: Sequence[str],
    probe: Probe,
    backlog: int,
    failures: list[BaseException],
) -> None:
    """Send the bodies after the first backlog, keeping at most ``backlog`` ahead of what the
    handler has taken; an error is kept in ``failures`` for the caller's thread."""
    sent = min(backlog, len(bodies))
    try:
        while sent < len(bodies):
            ahead = sent - probe.handled
            if ahead >= backlog:
                time.sleep(0.005)
                continue
            chunk = bodies[sent : sent + backlog - ahead]
            enqueue(client, queue_url, chunk)
            sent += len(chunk)
    except BaseException as exc:  # re-raised by run_phase, in the caller's thread
        failures.append(exc)


def run_phase(  # noqa: PLR0917 -- one phase of one mode, every collaborator explicit
    workbench: Workbench,
    settings: RunnerSettings,
    sandboxes: Sandboxes,
    meter: Meter,
    probe: Probe,
    bodies: Sequence[str],
) -> Phase:
    sqs = workbench.sqs()
    # Notifications arrive as the runner works, a bounded backlog ahead of it, as uploads would
    # make S3 send them. The feeder paces itself by the events the handler has taken (no queue
    # polling: each GetQueueAttributes would cost moto a scan of the queue).
    backlog = max(_MIN_BACKLOG, _BACKLOG_BATCHES * settings.batch_size * settings.workers)
    probe.reset()
    enqueue(sqs, settings.queue_url, bodies[:backlog])
    failures: list[BaseException] = []
    feed = functools.partial(
        _feed, workbench.sqs(), settings.queue_url, bodies, probe, backlog, failures
    )

    def sqs_factory() -> SQSClient:
        client = workbench.sqs()
        client.meta.events.register("after-call.sqs.DeleteMessageBatch", probe.deleted)
        return client

    before = meter.totals()
    clock = CpuClock(workbench)
    cpu_before = clock.read()
    runner = LocalRunner(settings, sqs_factory, sandboxes)
    feeder = threading.Thread(target=feed, name="s3ledger-bench-feeder", daemon=True)
    started = time.monotonic()
    runner.start()
    feeder.start()
    try:
        feeder.join()
        drained = runner.wait_until_drained(sqs, timeout=60.0 + 0.1 * len(bodies))
    finally:
        runner.stop()
    if failures:
        raise failures[0]
    if runner.errors:
        raise RuntimeError(f"the local runner failed: {runner.errors[0]!r}")
    end = probe.last_activity or time.monotonic()
    cpu_after = clock.read()
    return Phase(
        seconds=max(end - started, 1e-6),
        drained=drained,
        meter=meter.totals() - before,
        samples_ms=list(probe.samples_ms),
        cpu_seconds=probe.cpu_seconds,
        handled=probe.handled,
        invocations=probe.invocations,
        process_cpu_seconds=clock.spent(cpu_before, cpu_after),
    )

"""What a bench summary says besides its figures: the ratios to the reference mode, the notes on
how each figure is measured, and the warnings of a run whose figures are partial or wrong."""

from __future__ import annotations

from collections.abc import Mapping

from s3ledger.bench.modes import BENCH_OVERRIDES, MODE_OVERRIDES, REFERENCE_MODE
from s3ledger.bench.summary import FIGURES, BenchSummary, ModeResult, Ratios
from s3ledger.core.config import EXACTLY_ONCE_MODES

__all__ = ["bench_notes", "bench_warnings", "ratios"]


def ratios(modes: Mapping[str, ModeResult]) -> Ratios:
    """Each mode's figures over the reference mode's (``{}`` when it was not run)."""
    reference = modes.get(REFERENCE_MODE)
    if reference is None:
        return {}
    result_ratios: Ratios = {}
    for mode, result in modes.items():
        result_ratios[mode] = {}
        for key, _, _ in FIGURES:
            base = float(reference[key])
            result_ratios[mode][key] = round(float(result[key]) / base, 3) if base else None
    return result_ratios


def bench_notes(summary: BenchSummary) -> list[str]:
    """How each figure is measured, for the run that ``summary`` holds."""
    modes = summary["modes"]
    notes = [
        "requests: every HTTP request the handler's DynamoDB client sent (Powertools' included).",
        "CPU / fresh event: each process's user+system CPU over the fresh phases (from /proc), "
        "per event; runner+handler is this process (runner, handlers, feeder, meters).",
        "latency: each invocation's time (Handler.handle_sqs) divided by the events in it; "
        "handler CPU: the invocations' thread CPU time (Python's side, not DynamoDB Local's) / N.",
        "events/s: N / (runner start → last delete), warm sandboxes, notifications sent as "
        "the runner works (at most a bounded backlog queued ahead), "
        f"{summary['workers']} workers, batch size {summary['batch']}.",
        f"cold start: median of {summary['cold_start_runs']} fresh interpreters per mode, the "
        "modes taking turns; import s3ledger.pipeline.handlers + make_writer (DynamoDB client "
        "built outside the timer).",
        f"before the modes, DynamoDB Local is warmed up with {summary['warmup_events']} events "
        "of each mode (both phases), each on a pipeline of its own; figures exclude them. "
        f"Then the modes take turns in {summary['rounds']} rounds (in order, then in reverse), "
        "each round a slice of the events fresh then again, so that none is measured only "
        "while DynamoDB Local is still speeding up.",
        f"the bench pipelines use {dict(BENCH_OVERRIDES)}, transact "
        f"{dict(MODE_OVERRIDES['transact'])}: {summary['dlq_note']}.",
    ]
    rule = [m for m, r in modes.items() if r["write_units_source"] == "rule"]
    if rule:
        notes.append(
            f"† write units of {', '.join(rule)} by DynamoDB's rule (2 per KB per transactional "
            "item, 1 per standard write): DynamoDB Local reports 2.0 per table of a transaction "
            "however many items of it the transaction writes ("
            + ", ".join(
                f"{m}: {modes[m]['write_units_per_event_reported']} per event reported"
                for m in rule
            )
            + "). The other modes' write units / fresh event are as DynamoDB Local reports them."
        )
    notes.append(
        "write units / duplicate, by the rule for every mode: DynamoDB Local reports nothing for "
        "a failed write. A failed conditional standard write costs its units (as DynamoDB "
        "documents); a cancelled transaction is counted as free here, so the transactional "
        "modes' figure is a lower bound."
    )
    if "inbox" in modes:
        inbox = modes["inbox"]
        notes.append(
            f"inbox: DynamoDB Local reports {inbox['write_units_per_event_reported']} units per "
            f"fresh event, the rule gives {inbox['write_units_per_event_rule']}."
        )
    return notes


def bench_warnings(modes: Mapping[str, ModeResult], events: int) -> list[str]:
    """A mode whose queue did not drain, an exactly-once mode whose tables are not right, or a
    mode whose uploads did not all show in its ledger end to end."""
    warnings = []
    for mode, result in modes.items():
        lag = result["end_to_end_ms"]
        if lag is not None and (lag["timed_out"] or lag["anomalies_total"]):
            warnings.append(
                f"{mode} end to end: {lag['timed_out']} upload(s) never showed in the ledger "
                f"within 30 s, {lag['anomalies_total']} anomalies in its tables"
            )
        if not result["drained"]:
            warnings.append(f"{mode}: the queue did not drain in time; figures are partial")
        if mode in EXACTLY_ONCE_MODES and (
            result["anomalies_total"]
            or result["ledger_items"] != events
            or result["audit_items"] != events
        ):
            warnings.append(
                f"{mode}: expected {events} ledger and audit items and no anomaly, found "
                f"{result['ledger_items']} / {result['audit_items']} and "
                f"{result['anomalies_total']} anomalies"
            )
    return warnings

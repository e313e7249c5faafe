"""Rich tables for people; the commands' ``--json`` is for machines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from s3ledger.bench.modes import REFERENCE_MODE
from s3ledger.bench.summary import FIGURES, PROCESS_LABELS, BenchSummary
from s3ledger.core.config import MODES
from s3ledger.core.consistency import TABLE_ANOMALIES, ConsistencyReport
from s3ledger.proof.summary import ChaosModeResult, ChaosSummary, DemoSummary

__all__ = [
    "print_backfill",
    "print_bench",
    "print_chaos",
    "print_check",
    "print_demo",
    "print_history",
    "print_reconcile",
]


def _console() -> Console:
    """A console for the tables: a file or a pipe gets a width that fits six modes unwrapped."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 150))
    return console


def print_check(report: ConsistencyReport, *, ledger_table: str, audit_table: str) -> None:
    console = _console()
    table = Table(title=f"s3ledger check: {ledger_table} + {audit_table}")
    table.add_column("measure")
    table.add_column("count", justify="right")
    table.add_row("ledger items", str(report.ledger_items))
    table.add_row("audit items", str(report.audit_items))
    for kind in TABLE_ANOMALIES:
        count = report.anomalies[kind]
        table.add_row(kind, f"[red]{count}[/red]" if count else "0")
    console.print(table)
    for kind, ids in report.examples.items():
        console.print(f"  {kind}: e.g. {', '.join(ids)}")
    if report.anomalies_total:
        console.print(f"[red]{report.anomalies_total} anomalies[/red]")
    else:
        console.print("[green]consistent: no anomalies[/green]")


_DEMO_ROWS = (
    ("events", "events"),
    ("ledger items", "ledger_items"),
    ("audit items", "audit_items"),
    *((f"  {kind}", f"anomaly:{kind}") for kind in TABLE_ANOMALIES),
    ("anomalies (total)", "anomalies_total"),
    ("objects whose ledger is not S3's", "wrong_state"),
    ("events with no audit entry", "events_unrecorded"),
    ("failed invocations", "failed_invocations"),
    ("messages in the DLQ", "dlq_messages"),
    ("DynamoDB requests / event", "requests_per_event"),
)


def _cell(result: Mapping[str, Any], key: str) -> str:
    if key.startswith("anomaly:"):
        value = result["anomalies"][key.removeprefix("anomaly:")]
    else:
        value = result[key]
    if isinstance(value, float):
        return f"{value:.2f}"
    text = str(value)
    bad = key.startswith("anomaly:") or key in (
        "anomalies_total",
        "dlq_messages",
        "events_unrecorded",
    )
    return f"[red]{text}[/red]" if bad and value else text


def print_demo(summary: DemoSummary) -> None:
    console = _console()
    modes = summary["modes"]
    table = Table(
        title=f"s3ledger demo: {summary['files']} files, seed {summary['seed']}, "
        f"{summary['elapsed_seconds']:.0f} s"
    )
    table.add_column("")
    for mode in modes:
        table.add_column(mode, justify="right")
    for label, key in _DEMO_ROWS:
        table.add_row(label, *(_cell(result, key) for result in modes.values()))
    console.print(table)
    injected = ", ".join(
        f"{mode} {f['duplicates']} duplicates + {f['crashes']} crashes"
        for mode, f in summary["faults"].items()
    )
    console.print(f"Injected: {injected}")
    console.print(
        "The article's symptom, for the key uploaded three times (ledger writes vs audit):"
    )
    for mode, result in modes.items():
        symptom = result.get("symptom")
        if symptom:
            console.print(f"  {mode:>10}: {json.dumps(symptom['shape'])}")
    for mode, result in modes.items():
        colour = "green" if result["verdict_ok"] else "red"
        console.print(f"[{colour}]{mode:>10}: {result['verdict']}[/{colour}]")


def print_chaos(summary: ChaosSummary) -> None:
    """Anomalies after reconcile (before it in brackets), the faults, and the matrix."""
    console = _console()
    # In the modes' own order (JSON output sorts its keys).
    modes: dict[str, ChaosModeResult] = {
        mode: summary["modes"][mode] for mode in MODES if mode in summary["modes"]
    }
    console.print(_chaos_anomalies(summary, modes))
    console.print(_chaos_faults(modes))
    console.print(_chaos_matrix(modes))
    for name, figures in summary["measured"].items():
        if "disagreement" in figures:  # lean: its two writes are not visible atomically
            d = figures["disagreement"]
            console.print(
                f"{name}: tables disagreed for {d['events']} events, longest "
                f"{d['longest_seconds']} s, median {d['median_seconds']} s, total "
                f"{d['total_seconds']} s (union {d['union_seconds']} s); still open after the "
                f"drain: {d['open_after_drain']}"
            )


def _mode_table(
    title: str, modes: Mapping[str, ChaosModeResult], first: str = "", *, wrap: bool = False
) -> Table:
    table = Table(title=title)
    table.add_column(first, no_wrap=not wrap)
    for mode in modes:
        table.add_column(mode, justify="right")
    return table


def _chaos_anomalies(summary: ChaosSummary, modes: Mapping[str, ChaosModeResult]) -> Table:
    """Each anomaly kind after reconcile (before it), the totals, repairs and requests."""
    table = _mode_table(
        f"s3ledger chaos: {summary['events']} events, seed {summary['seed']}, "
        f"{summary['workers']} workers — anomalies after reconcile (before)",
        modes,
    )
    kinds = list(next(iter(modes.values()))["anomalies"]) if modes else []
    for kind in kinds:
        cells = []
        for result in modes.values():
            after = result["anomalies"][kind]
            before = result["before_reconcile"]["anomalies"][kind]
            text = f"{after} ({before})"
            cells.append(f"[red]{text}[/red]" if after else text)
        table.add_row(kind, *cells)
    table.add_row(
        "total",
        *(
            f"{r['anomalies_total']} ({r['before_reconcile']['anomalies_total']})"
            for r in modes.values()
        ),
    )
    table.add_row("reconciled objects", *(str(r["reconciled"]) for r in modes.values()))
    table.add_row("poison messages in DLQ", *(str(r["poison_parked"]) for r in modes.values()))
    measured = summary["measured"]
    table.add_row(
        "requests / event",
        *(f"{measured[mode]['requests_per_event']:.2f}" for mode in modes),
    )
    return table


def _chaos_faults(modes: Mapping[str, ChaosModeResult]) -> Table:
    """How many of each fault each mode met."""
    faults = _mode_table("faults injected", modes, wrap=True)
    for kind in next(iter(modes.values()))["faults_injected"] if modes else []:
        faults.add_row(kind, *(str(r["faults_injected"][kind]) for r in modes.values()))
    return faults


def _chaos_matrix(modes: Mapping[str, ChaosModeResult]) -> Table:
    """Anomalies after reconcile, by a fault their events met."""
    matrix = _mode_table(
        "anomalies after reconcile, by a fault their events met (kinds: --json by_fault)",
        modes,
        first="fault",
    )
    fault_names = sorted({f for r in modes.values() for f in r["by_fault"]} | {"none"})
    for fault in fault_names:
        row = []
        for result in modes.values():
            total = sum(result["by_fault"].get(fault, {}).values())
            row.append(f"[red]{total}[/red]" if total else "0")
        matrix.add_row(fault, *row)
    return matrix


def print_reconcile(report: Mapping[str, Any]) -> None:
    console = _console()
    table = Table(title=f"s3ledger reconcile: {report.get('bucket', '')}")
    table.add_column("measure")
    table.add_column("count", justify="right")
    for name, value in report.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            table.add_row(name.replace("_", " "), str(value))
    console.print(table)
    for kind, keys in (report.get("examples") or {}).items():
        if keys:
            console.print(f"  {kind}: e.g. {', '.join(map(str, keys))}")


def _shown(value: Any, unit: str = "") -> str:
    return "no data" if value is None else f"{value}{unit}"


def print_status(status: Mapping[str, Any]) -> None:
    """``s3ledger status``: the readings, then what needs a person (or that nothing does)."""
    console = _console()
    table = Table(title=f"s3ledger status: stack {status['stack']} (mode {status['mode']})")
    table.add_column("reading")
    table.add_column("value", justify="right")
    table.add_row("events queue: messages", str(status["queue_depth"]))
    table.add_row("events queue: oldest message", _shown(status["queue_oldest_age_seconds"], " s"))
    table.add_row("dead-letter queue: messages", str(status["dlq_depth"]))
    table.add_row("alarms in ALARM", str(len(status["alarms_in_alarm"])))
    hour = f"last {status['window_seconds'] // 60} min"
    for name, count in status["events"].items():
        table.add_row(f"{hour}: events {name}", str(count))
    for stat, value in status["lag_ms"].items():
        table.add_row(f"{hour}: lag S3 event -> ledger, {stat}", _shown(value, " ms"))
    console.print(table)
    for problem in status["problems"]:
        console.print(f"  [bold red]needs a person:[/] {problem}")
    if not status["problems"]:
        console.print("  healthy: nothing needs a person")


def print_backfill(report: Mapping[str, Any]) -> None:
    console = _console()
    table = Table(title=f"s3ledger backfill: {report.get('bucket', '')} ({report.get('source')})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in report.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            table.add_row(name.replace("_", " "), str(value))
    console.print(table)
    if report.get("interrupted"):
        console.print("  interrupted: run the same command again to resume")


# The tables' counts after each mode's run: (ModeResult key, label).
_BENCH_COUNTS: tuple[
    tuple[Literal["ledger_items", "audit_items", "anomalies_total", "dlq_messages"], str], ...
] = (
    ("ledger_items", "ledger items"),
    ("audit_items", "audit items"),
    ("anomalies_total", "anomalies"),
    ("dlq_messages", "messages in the DLQ"),
)


def _lags(lag: Mapping[str, Any] | None) -> str:
    return "not run" if lag is None else f"{lag['p50']:.0f} / {lag['p99']:.0f} / {lag['max']:.0f}"


def print_bench(summary: BenchSummary) -> None:
    """The figures as rows, the modes as columns, ratios to powertools in brackets."""
    console = _console()
    modes = summary["modes"]
    ratios = summary["ratios_to_powertools"]
    machine = summary["machine"]
    table = Table(
        title=f"s3ledger bench: {summary['events']} events, {summary['workers']} workers, "
        f"batch {summary['batch']} — {machine['cores']} cores, Python {machine['python']}, "
        f"{summary['date']}"
    )
    table.add_column("")
    for mode in modes:
        table.add_column(mode, justify="right")
    for key, label, _ in FIGURES:
        cells = []
        for mode, result in modes.items():
            value = float(result[key])
            text = f"{value:.2f}" if value < 100 else f"{value:.0f}"
            if key.startswith("write_units") and result["write_units_source"] == "rule":
                text += "†"
            ratio = ratios.get(mode, {}).get(key)
            if ratio is not None and mode != REFERENCE_MODE:
                text += f" [dim](x{ratio:.2f})[/dim]"
            cells.append(text)
        table.add_row(label, *cells)
    table.add_section()
    for process, label in PROCESS_LABELS:
        table.add_row(
            label,
            *(
                f"{result.get('process_cpu_ms_per_event', {}).get(process, 0.0):.2f}"
                for result in modes.values()
            ),
        )
    table.add_section()
    table.add_row(
        "end to end: upload -> ledger, p50 / p99 / max (ms)",
        *(_lags(result["end_to_end_ms"]) for result in modes.values()),
    )
    table.add_section()
    for count, label in _BENCH_COUNTS:
        table.add_row(label, *(str(result[count]) for result in modes.values()))
    console.print(table)
    for note in summary["notes"]:
        console.print(f"  {note}", highlight=False, markup=False)
    for warning in summary["warnings"]:
        console.print(f"[yellow]warning: {warning}[/yellow]")


# The columns of `s3ledger history`, from the JSON's fields.
_HISTORY_COLUMNS = (
    ("event_time", "time"),
    ("event_name", "event"),
    ("version_id", "version"),
    ("etag", "ETag"),
    ("size", "size"),
    ("requester", "requester"),
    ("source_ip", "source IP"),
    ("s3_request_id", "S3 request id"),
    ("outcome", "ledger"),
)


def print_history(history: Mapping[str, Any]) -> None:
    """One object's events, oldest first (``s3ledger history``)."""
    console = _console()
    table = Table(title=f"s3ledger history: {history['object']}")
    for _, label in _HISTORY_COLUMNS:
        table.add_column(label, justify="right" if label == "size" else "left")
    for event in history["events"]:
        table.add_row(*("" if event.get(f) is None else str(event[f]) for f, _ in _HISTORY_COLUMNS))
    console.print(table)
    if not history["events"]:
        console.print("no event of this object in the audit log")

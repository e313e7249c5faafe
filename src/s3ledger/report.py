"""Rich tables for people; the commands' ``--json`` is for machines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from s3ledger.consistency import ANOMALY_KINDS, ConsistencyReport

__all__ = ["print_check", "print_demo"]


def print_check(report: ConsistencyReport, *, ledger_table: str, audit_table: str) -> None:
    console = Console()
    table = Table(title=f"s3ledger check: {ledger_table} + {audit_table}")
    table.add_column("measure")
    table.add_column("count", justify="right")
    table.add_row("ledger items", str(report.ledger_items))
    table.add_row("audit items", str(report.audit_items))
    for kind in ANOMALY_KINDS:
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
    *((f"  {kind}", f"anomaly:{kind}") for kind in ANOMALY_KINDS),
    ("anomalies (total)", "anomalies_total"),
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


def print_demo(summary: Mapping[str, Any]) -> None:
    console = Console()
    modes: Mapping[str, Mapping[str, Any]] = summary["modes"]
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

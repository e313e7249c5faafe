"""What ``s3ledger chaos`` and ``s3ledger demo`` return: their summaries' shapes.

The harness that makes a summary and the CLI that prints it (``s3ledger.cli.render``) share
these types; ``--json`` prints a summary as it is, so each key here is a key of the JSON output.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

__all__ = [
    "ChaosAnomalyCounts",
    "ChaosMeasured",
    "ChaosModeResult",
    "ChaosSummary",
    "DemoFaults",
    "DemoModeResult",
    "DemoSummary",
    "Disagreement",
    "Symptom",
    "SymptomShape",
]


class ChaosAnomalyCounts(TypedDict):
    """Anomalies found by the history checker, summed over a mode's rounds."""

    anomalies: dict[str, int]
    anomalies_total: int
    by_fault: dict[str, dict[str, int]]  # fault → anomaly kind → count ("none": no fault)


class ChaosModeResult(ChaosAnomalyCounts):
    """One mode's chaos run: its anomalies after reconcile, and before it."""

    before_reconcile: ChaosAnomalyCounts
    reconciled: int
    faults_injected: dict[str, int]
    poison_parked: int
    paths: dict[str, int]  # events per delivery path (s3, sns, eventbridge)


class Disagreement(TypedDict):
    """How long a mode with two non-atomic writes (``lean``) showed an event in one table only:
    per event, from the audit write to the ledger write, in seconds."""

    events: int
    open_after_drain: int
    longest_seconds: float
    p99_seconds: float
    median_seconds: float
    total_seconds: float
    union_seconds: float


class ChaosMeasured(TypedDict):
    """What is measured rather than fixed by the seed (two sandboxes racing may retry or not)."""

    requests_per_event: float
    repairs_written_during_traffic: int
    disagreement: NotRequired[Disagreement]


class ChaosSummary(TypedDict):
    seed: int
    events: int
    workers: int
    rates: dict[str, float]
    modes: dict[str, ChaosModeResult]
    measured: dict[str, ChaosMeasured]


class SymptomShape(TypedDict):
    main_records: int  # ledger writes of the object
    audit_log: int  # audit entries of the object, applied


class Symptom(TypedDict):
    """The article's ``{"main_records", "audit_log"}`` for one object."""

    object_id: str
    shape: SymptomShape


class DemoModeResult(TypedDict):
    """One mode's demo: its tables' check (``ConsistencyReport.to_json()``), what they miss,
    and the verdict."""

    ledger_items: int
    audit_items: int
    anomalies: dict[str, int]
    anomalies_total: int
    examples: dict[str, list[str]]
    wrong_state: int
    wrong_state_examples: list[str]
    events: int
    events_unrecorded: int
    failed_invocations: int
    dlq_messages: int
    requests_per_event: float
    duplicates_delivered: int
    crashes: int
    symptom: Symptom
    verdict: str
    verdict_ok: bool


class DemoFaults(TypedDict):
    duplicates: int
    crashes: int


class DemoSummary(TypedDict):
    seed: int
    files: int
    events: int
    elapsed_seconds: float
    faults: dict[str, DemoFaults]
    modes: dict[str, DemoModeResult]

"""What ``s3ledger bench`` and ``s3ledger bench-backfill`` return: their summaries' shapes.

The code that makes a summary and the CLI that prints it (``s3ledger.cli.render``) share these
types; ``--json`` prints a summary as it is, so each key here is a key of the JSON output.
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict

from s3ledger.bench.end_to_end import EndToEnd

__all__ = [
    "FIGURES",
    "PROCESS_LABELS",
    "BackfillSummary",
    "BenchMethod",
    "BenchSummary",
    "EndToEndSettings",
    "EngineResult",
    "FigureKey",
    "Machine",
    "ModeCosts",
    "ModeMeasures",
    "ModeOutcome",
    "ModeResult",
    "ModeUnits",
    "PhaseInvocations",
    "PhaseOperations",
    "PhaseSeconds",
    "Ratios",
]

# The figures every mode gets, and a ratio to the reference mode: keys of ModeResult.
FigureKey = Literal[
    "requests_per_event",
    "requests_per_duplicate",
    "write_units_per_event",
    "write_units_per_duplicate",
    "events_per_second",
    "duplicates_per_second",
    "latency_ms_p50",
    "handler_ms_per_event",
    "latency_ms_p99",
    "handler_cpu_ms_per_event",
    "import_ms",
]

# (JSON key, label, higher is better). Each also gets a ratio to powertools.
FIGURES: Final[tuple[tuple[FigureKey, str, bool], ...]] = (
    ("requests_per_event", "requests / fresh event", False),
    ("requests_per_duplicate", "requests / duplicate", False),
    ("write_units_per_event", "write units / fresh event", False),
    ("write_units_per_duplicate", "write units / duplicate (by rule)", False),
    ("events_per_second", "fresh events / s", True),
    ("duplicates_per_second", "duplicates / s", True),
    ("latency_ms_p50", "latency / event p50 (ms)", False),
    ("handler_ms_per_event", "handler time / fresh event, mean (ms)", False),
    ("latency_ms_p99", "latency / event p99 (ms)", False),
    ("handler_cpu_ms_per_event", "handler CPU / fresh event (ms)", False),
    ("import_ms", "cold start: import + writer (ms)", False),
)

# The workbench's processes, as the bench's per-process CPU figures name them.
PROCESS_LABELS: Final = (
    ("dynamodb_local", "CPU / fresh event: DynamoDB Local (ms)"),
    ("moto", "CPU / fresh event: moto, S3+SQS (ms)"),
    ("bench", "CPU / fresh event: runner+handler (ms)"),
)

# Per mode, per figure: the mode's figure over the reference mode's (None when that is 0).
Ratios = dict[str, dict[str, float | None]]


class PhaseOperations(TypedDict):
    """DynamoDB operations called in each phase, by name."""

    fresh: dict[str, int]
    duplicates: dict[str, int]


class PhaseSeconds(TypedDict):
    fresh: float
    duplicates: float


class PhaseInvocations(TypedDict):
    """Handler invocations with events in each phase: the SQS batches the runner handed over."""

    fresh: int
    duplicates: int


class ModeCosts(TypedDict):
    """A mode's requests, write units, throughput, latency and CPU, per event and duplicate."""

    requests_per_event: float
    requests_per_duplicate: float
    write_units_per_event: float
    write_units_per_duplicate: float
    events_per_second: float
    duplicates_per_second: float
    latency_ms_p50: float
    handler_ms_per_event: float
    latency_ms_p99: float
    handler_cpu_ms_per_event: float
    handler_cpu_ms_per_duplicate: float
    process_cpu_ms_per_event: dict[str, float]
    process_cpu_ms_per_duplicate: dict[str, float]
    duplicate_latency_ms_p50: float
    duplicate_latency_ms_p99: float


class ModeUnits(TypedDict):
    """Where a mode's write units come from, both counts side by side, its reads and calls."""

    write_units_source: Literal["rule", "reported"]
    write_units_duplicate_source: Literal["rule"]
    write_units_per_event_reported: float
    write_units_per_event_rule: float
    write_units_per_duplicate_reported: float
    write_units_per_duplicate_rule: float
    read_units_per_event: float
    read_units_per_duplicate: float
    api_calls_per_event: float
    api_calls_per_duplicate: float
    dynamodb_call_ms_p50: float


class ModeOutcome(TypedDict):
    """A mode's operations and phase times, and what its tables and DLQ held after the run."""

    operations: PhaseOperations
    seconds: PhaseSeconds
    invocations: PhaseInvocations
    drained: bool
    ledger_items: int
    audit_items: int
    anomalies_total: int
    dlq_messages: int


class ModeMeasures(ModeCosts, ModeUnits, ModeOutcome):
    """One mode's figures from its run (everything but its cold start), in this key order."""


class ModeResult(ModeMeasures):
    """One mode's figures in the summary: its run's, its cold start's and its end-to-end lag
    (``None`` when the run had no uploads)."""

    import_ms: float
    end_to_end_ms: EndToEnd | None


class EndToEndSettings(TypedDict):
    """How ``end_to_end_ms`` was measured (:mod:`s3ledger.bench.end_to_end`)."""

    uploads: int
    warmup_uploads: int
    pause_ms: float
    ledger_poll_interval_ms: float
    runner_wait_seconds: int
    runner_batch_size: int
    runner_workers: int
    batching_window: str
    method: str


class Machine(TypedDict):
    cores: int | None
    cpu: str
    python: str
    implementation: str
    platform: str
    load_average_at_start: list[float]


class BenchMethod(TypedDict):
    """How ``s3ledger bench`` took its figures: latency, overrides, warm-up, rounds."""

    latency_method: str
    overrides: dict[str, dict[str, str]]
    cold_start_runs: int
    warmup_events: int
    rounds: int


class BenchSummary(BenchMethod):
    """``s3ledger bench``'s summary: every mode's figures, the ratios, the run's settings."""

    modes: dict[str, ModeResult]
    ratios_to_powertools: Ratios
    events: int
    workers: int
    batch: int
    seed: int
    streams: bool
    machine: Machine
    date: str
    dlq_note: str
    end_to_end: EndToEndSettings
    warnings: list[str]
    notes: list[str]


class EngineResult(TypedDict):
    """One engine's backfill of one source: its report (the keys of ``BackfillReport.to_json()``),
    the anomalies the tables show after it, and what it used and would cost on AWS."""

    bucket: str
    source: str
    units: int
    units_skipped: int
    objects_seen: int
    objects_written: int
    already_in_ledger: int
    superseded: int
    failed: int
    elapsed_seconds: float
    objects_per_second: float
    interrupted: bool
    anomalies: int
    requests_per_object: float
    requests: dict[str, dict[str, int]]
    write_units_per_object: float
    read_units_per_object: float
    lambda_invocations: int
    lambda_gb_seconds: float
    state_transitions: int
    express_executions: int
    cost_per_million_objects: dict[str, float]


class BackfillSummary(TypedDict):
    """``s3ledger bench-backfill``'s summary: per engine, per source (listing, inventory)."""

    objects: int
    workers: int
    s3_metadata_backfill_per_million: float
    engines: dict[str, dict[str, EngineResult]]

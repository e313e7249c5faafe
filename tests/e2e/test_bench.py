"""``s3ledger bench`` with a small N: every figure is there, and the request counts are exact.

Nothing timed is asserted: throughput and latency depend on the machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s3ledger.bench.end_to_end import WARMUP_UPLOADS
from s3ledger.bench.run import run_bench
from s3ledger.bench.summary import FIGURES

MODES = ("inbox", "powertools", "inbox-batch")
EVENTS = 40
UPLOADS = 8


@pytest.mark.slow
@pytest.mark.dynamodb
@pytest.mark.timeout(180)
def test_bench_reports_every_figure_and_the_expected_costs(tmp_path: Path) -> None:
    chart = tmp_path / "bench.png"
    summary = run_bench(
        events=EVENTS,
        modes=MODES,
        workers=2,
        batch=10,
        as_json=True,
        chart=chart,
        seed=3,
        cold_start_runs=2,
        warmup_events=20,
        uploads=UPLOADS,
    )
    json.dumps(summary)  # what --json prints: the summary must serialise as it is

    for key in ("modes", "ratios_to_powertools", "events", "workers", "batch", "machine", "date"):
        assert key in summary
    assert summary["events"] == EVENTS
    assert summary["streams"] is False  # the bench's tables have no stream unless --streams
    assert summary["machine"]["cores"] >= 1
    assert summary["machine"]["python"]
    assert set(summary["modes"]) == set(MODES)
    for mode in MODES:
        result = summary["modes"][mode]
        for key, _, _ in FIGURES:
            assert isinstance(result[key], int | float), (mode, key)
            assert key in summary["ratios_to_powertools"][mode]
        assert result["import_ms"] > 0
        assert result["events_per_second"] > 0
        assert result["duplicates_per_second"] > 0
        # Every fresh event of distinct objects is applied exactly once, in every mode here.
        assert result["ledger_items"] == EVENTS, mode
        assert result["audit_items"] == EVENTS, mode
        assert result["anomalies_total"] == 0, mode
        assert result["dlq_messages"] == 0, mode
        # Each process's CPU over the fresh phase, read from /proc: all three worked.
        cpu = result["process_cpu_ms_per_event"]
        assert set(cpu) == {"dynamodb_local", "moto", "bench"}, mode
        assert all(value > 0 for value in cpu.values()), (mode, cpu)
        # End to end: every real upload showed in the ledger, once, through its own pipeline.
        lag = result["end_to_end_ms"]
        assert lag is not None
        assert (lag["samples"], lag["timed_out"], lag["anomalies_total"]) == (UPLOADS, 0, 0)
        assert lag["ledger_items"] == UPLOADS + WARMUP_UPLOADS
        assert 0 < lag["p50"] <= lag["p99"] <= lag["max"]

    inbox = summary["modes"]["inbox"]
    assert inbox["requests_per_event"] == 1.0
    assert inbox["write_units_per_event"] == 4.0
    assert inbox["write_units_per_event_reported"] == inbox["write_units_per_event_rule"] == 4.0
    # A duplicate costs inbox at most its one request (none when its sandbox remembers it).
    assert inbox["requests_per_duplicate"] <= 1.0

    powertools = summary["modes"]["powertools"]
    assert powertools["requests_per_event"] >= 3
    assert powertools["write_units_per_event"] >= 6
    assert powertools["requests_per_duplicate"] >= 1
    assert summary["ratios_to_powertools"]["inbox"]["requests_per_event"] == pytest.approx(
        inbox["requests_per_event"] / powertools["requests_per_event"], abs=0.01
    )

    # inbox-batch writes a batch of fresh events in one transaction, however the runner's
    # receives happened to batch them (fewer, smaller batches on a loaded machine).
    batch = summary["modes"]["inbox-batch"]
    fresh_batches = batch["invocations"]["fresh"]
    assert batch["operations"]["fresh"] == {"TransactWriteItems": fresh_batches}
    assert batch["api_calls_per_event"] == pytest.approx(fresh_batches / EVENTS, abs=0.001)
    assert fresh_batches < EVENTS  # every notification was queued before the runner started
    assert batch["write_units_source"] == "rule"
    assert batch["write_units_per_event"] == 4.0  # 2 items x 2 units, whatever Local reports

    settings = summary["end_to_end"]
    assert (settings["uploads"], settings["runner_batch_size"]) == (UPLOADS, 10)
    assert settings["runner_wait_seconds"] == 1
    assert "not emulated" in settings["batching_window"]

    assert chart.stat().st_size > 0
    assert chart.read_bytes().startswith(b"\x89PNG")

"""``s3ledger demo``: its JSON holds the two measured truths the README promises."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from s3ledger.proof.demo import demo_workload

KEYS = {
    "events",
    "ledger_items",
    "audit_items",
    "anomalies",
    "anomalies_total",
    "failed_invocations",
    "dlq_messages",
    "requests_per_event",
}


@pytest.mark.slow
@pytest.mark.dynamodb
@pytest.mark.timeout(180)
def test_demo_shows_naive_split_and_inbox_exactly_once() -> None:
    """naive ends with disagreeing tables; inbox with zero anomalies and an empty DLQ; the
    article's three modes leave objects of the versioned histories not as S3 has them (they take
    every removal for a deletion), inbox none.

    All come from the same seeded workload with the same injected duplicates and crashes.
    """
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "s3ledger.cli",
            "demo",
            "--files",
            "14",
            "--seed",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    modes = summary["modes"]
    assert set(modes) == {"naive", "transact", "powertools", "inbox"}
    for figures in modes.values():
        assert set(figures) >= KEYS
        assert figures["events"] == summary["events"] == len(demo_workload(14, 3))
    assert modes["naive"]["anomalies_total"] > 0
    assert modes["inbox"]["anomalies_total"] == 0
    assert modes["inbox"]["dlq_messages"] == 0
    assert modes["inbox"]["audit_items"] == modes["inbox"]["events"]
    assert modes["inbox"]["wrong_state"] == 0
    assert all(modes[m]["wrong_state"] > 0 for m in ("naive", "transact", "powertools"))
    # The same seed gives every mode the same duplicate deliveries.
    duplicates = {f["duplicates"] for f in summary["faults"].values()}
    assert len(duplicates) == 1
    assert duplicates.pop() > 0

"""``s3ledger chaos`` with a small N: replayable, and inbox ends with zero anomalies."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest


def chaos(*args: str) -> tuple[int, dict[str, Any], str]:
    result = subprocess.run(  # noqa: S603 - our own interpreter and module, test-chosen arguments
        [sys.executable, "-m", "s3ledger.cli", "chaos", "--json", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    summary = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, summary, result.stderr


@pytest.mark.slow
@pytest.mark.dynamodb
@pytest.mark.timeout(300)
def test_the_same_seed_gives_the_same_faults_and_counts() -> None:
    """Two runs with one seed agree on every fault and every count (request counts aside; the
    summary carries no run time or memory, which the CLI prints to stderr).

    Every fault kind is on (drops, poison and the racing backfills and reconciles more often
    than by default, so that a small run meets them), and events arrive by S3 → SQS, SNS and
    EventBridge. inbox and lean end with zero anomalies after reconcile, and before it with only
    the events AWS dropped (exit 0); naive, under the same faults, does not.
    """
    faults = (
        "duplicate,reorder,crash,lost-response,error,deadline,between,drop=0.1,poison=0.05,"
        "backfill=0.1,reconcile=0.1"
    )
    args = ("--events", "80", "--seed", "11", "--modes", "inbox,lean,naive", "--faults", faults)
    first_code, first, stderr = chaos(*args)
    assert first_code == 0, stderr[-2000:]
    second_code, second, _ = chaos(*args)
    assert second_code == 0

    for summary in (first, second):  # request counts and windows: measured, not seeded
        summary.pop("measured")
    assert first == second
    inbox, naive = first["modes"]["inbox"], first["modes"]["naive"]
    for mode in ("inbox", "lean"):
        result = first["modes"][mode]
        assert result["anomalies_total"] == 0
        before = result["before_reconcile"]["anomalies"]
        assert before["dropped"] > 0  # reconcile had work to do
        assert sum(before.values()) == before["dropped"], before
        assert all(result["paths"][path] > 0 for path in ("s3", "sns", "eventbridge"))
        assert result["faults_injected"]["backfill"] > 0
        assert result["faults_injected"]["reconcile"] > 0
    assert inbox["faults_injected"]["drop"] > 0
    assert naive["before_reconcile"]["anomalies_total"] > 0


def test_an_unknown_fault_is_refused_clearly() -> None:
    code, _, stderr = chaos("--faults", "meteor")
    assert code == 2
    assert "unknown fault 'meteor'" in stderr

"""The exit status of chaos and bench: non-zero when an exactly-once mode ends with an anomaly."""

from __future__ import annotations

from typing import Any

import pytest

from s3ledger.cli.commands.common import exactly_once_broken


def summary(**totals: int) -> dict[str, dict[str, dict[str, int]]]:
    return {"modes": {mode: {"anomalies_total": total} for mode, total in totals.items()}}


@pytest.mark.parametrize("mode", ["inbox", "inbox-batch", "lean"])
def test_an_anomaly_in_an_exactly_once_mode_breaks_the_run(mode: str) -> None:
    """inbox, inbox-batch and lean promise exactly-once effects: one anomaly fails the run."""
    assert exactly_once_broken(summary(**{mode: 1, "naive": 0}))
    assert not exactly_once_broken(summary(**{mode: 0, "naive": 0}))


def test_the_articles_modes_may_fail_without_breaking_the_run() -> None:
    """naive, transact and powertools are shown failing on purpose: their anomalies are the
    demonstration, not a broken run."""
    assert not exactly_once_broken(summary(inbox=0, naive=222, transact=1437, powertools=1349))


@pytest.mark.parametrize("kind", ["wrong_state", "half_done", "lost", "applied_twice"])
def test_a_wrong_ledger_before_reconcile_breaks_a_chaos_run(kind: str) -> None:
    """Reconcile repairs what AWS dropped; a ledger wrong after the drain for any other reason
    is exactly-once broken, even though the final reconcile (no settle window) repaired it."""

    def run(count: int) -> dict[str, Any]:
        before = {"anomalies": {kind: count, "dropped": 3}}
        return {"modes": {"inbox": {"anomalies_total": 0, "before_reconcile": before}}}

    assert exactly_once_broken(run(1))
    assert not exactly_once_broken(run(0))

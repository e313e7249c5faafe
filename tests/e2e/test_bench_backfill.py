"""``s3ledger bench-backfill --engines local,stepfunctions --json`` with a small N, as a user runs
it: every figure is there for both engines and both sources, and the counts are the pinned
write's. Nothing timed is asserted."""

from __future__ import annotations

import json

import pytest

from s3ledger.bench.prices import PRICES
from tests.e2e.test_cli import base_env, run_cli

OBJECTS = 120


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_bench_backfill_measures_both_engines_side_by_side() -> None:
    done = run_cli(
        "bench-backfill",
        "--engines",
        "local,stepfunctions",
        "--objects",
        str(OBJECTS),
        "--workers",
        "2",
        "--json",
        env=base_env(),
        timeout=230,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["s3_metadata_backfill_per_million"] == PRICES.s3_metadata_backfill_per_million
    assert set(summary["engines"]) == {"local", "stepfunctions"}
    for engine, by_source in summary["engines"].items():
        assert set(by_source) == {"listing", "inventory"}
        for source, result in by_source.items():
            where = (engine, source)
            assert (result["objects_seen"], result["objects_written"]) == (OBJECTS, OBJECTS), where
            assert result["anomalies"] == 0, where
            assert result["objects_per_second"] > 0, where
            # Every object new to the ledger: one transaction of two items, 2 units each by
            # DynamoDB's rule; one consistent read of its ledger key in a BatchGetItem.
            assert result["write_units_per_object"] == 4.0, where
            assert result["read_units_per_object"] == 1.0, where
            dynamodb = result["requests"]["dynamodb"]
            assert dynamodb["TransactWriteItems"] == OBJECTS, where
            costs = result["cost_per_million_objects"]
            assert costs["dynamodb"] == pytest.approx(4 * 0.625 + 1 * 0.125), where
            parts = sum(v for k, v in costs.items() if k != "total")
            assert costs["total"] == pytest.approx(parts, abs=1e-3)  # each rounded to 4 places
    for source in ("listing", "inventory"):
        remote = summary["engines"]["stepfunctions"][source]
        assert remote["lambda_invocations"] >= 2  # the first state, then at least one batch
        assert remote["express_executions"] == remote["lambda_invocations"] - 1
        assert remote["state_transitions"] > 0
        assert remote["cost_per_million_objects"]["lambda"] > 0
        assert summary["engines"]["local"][source]["lambda_invocations"] == 0

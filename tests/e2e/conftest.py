"""The reconcile tests' benches (a versioned bucket provisioned from template.yaml, and a plain
one), shared with the backfill tests."""

from tests.e2e.test_reconcile import plain_rig, rig

__all__ = ["plain_rig", "rig"]

"""Backfill and reconcile on Step Functions (``--engine stepfunctions``): start a run of the
stack's bulk state machine, follow it by its Map Runs' item counts, and add up its results into
the reports ``--engine local`` prints. The state machine is ``template.yaml``'s
``BulkStateMachine``; its Lambda tasks run :mod:`s3ledger.pipeline.bulk.handler`.
"""

from s3ledger.operate.bulk.results import backfill_report, collect, reconcile_report
from s3ledger.operate.bulk.run import Progress, follow, run_input, start_run

__all__ = [
    "Progress",
    "backfill_report",
    "collect",
    "follow",
    "reconcile_report",
    "run_input",
    "start_run",
]

"""A finished run's figures: the children's results added up from the Map Runs' ``ResultWriter``
reports, as the same reports ``--engine local`` prints.

A ``ResultWriter`` report is a ``manifest.json`` that names, per status, files of child execution
records (``Input``, ``Output``, ``Status``, ``Error``): Step Functions Developer Guide,
"ResultWriter (Map)". The bulk handler's results are ``{"counts": ..., "examples": ...}`` (a
ledger segment's are under ``result``); a failed batch counts its objects as ``failed``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from s3ledger.operate.backfill.report import BackfillReport
from s3ledger.operate.reconcile import ReconcileReport, is_versioned
from s3ledger.operate.reconcile.compare import report_of
from s3ledger.pipeline.bulk import BulkResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["backfill_report", "collect", "reconcile_report"]

# The state machine's output fields that hold a Map Run's ResultWriterDetails.
_RUNS = ("objects_run", "ledger_run")


def _records(s3: S3Client, details: Mapping[str, Any]) -> list[dict[str, Any]]:
    manifest = json.loads(
        s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read()
    )
    records: list[dict[str, Any]] = []
    for files in manifest.get("ResultFiles", {}).values():
        for entry in files:
            body = s3.get_object(Bucket=manifest["DestinationBucket"], Key=entry["Key"])["Body"]
            records.extend(json.loads(body.read()))
    return records


def collect(s3: S3Client, output: Mapping[str, Any]) -> tuple[BulkResult, int]:
    """The run's results added up, and how many child executions (batches) it ran."""
    total, children = BulkResult(), 0
    for name in _RUNS:
        details = (output.get(name) or {}).get("ResultWriterDetails")
        if not details:
            continue
        for record in _records(s3, details):
            children += 1
            if record.get("Status") == "SUCCEEDED":
                result = json.loads(record["Output"])
                total.merge(BulkResult.from_json(result.get("result", result)))
            else:
                items = json.loads(record.get("Input") or "{}").get("Items")
                total.counts["failed"] += len(items) if isinstance(items, list) else 1
    return total, children


def _seconds(described: Mapping[str, Any]) -> float:
    started, stopped = described.get("startDate"), described.get("stopDate")
    if isinstance(started, datetime) and isinstance(stopped, datetime):
        return (stopped - started).total_seconds()
    return 0.0


def backfill_report(
    s3: S3Client, described: Mapping[str, Any], *, interrupted: bool = False
) -> BackfillReport:
    """The report of a finished backfill execution (``DescribeExecution``'s answer)."""
    run = json.loads(described.get("output") or described["input"])
    result, batches = collect(s3, run) if "output" in described else (BulkResult(), 0)
    counts = result.counts
    return BackfillReport(
        bucket=str(run["bucket"]),
        source="inventory" if run.get("manifest") else "listing",
        units=batches,
        units_skipped=0,
        objects_seen=counts["objects_seen"],
        objects_written=counts["objects_written"],
        already_in_ledger=counts["already_in_ledger"],
        superseded=counts["superseded"],
        failed=counts["failed"],
        elapsed_seconds=_seconds(described),
        interrupted=interrupted,
    )


def reconcile_report(s3: S3Client, described: Mapping[str, Any]) -> ReconcileReport:
    """The report of a finished reconcile execution."""
    run = json.loads(described["output"])
    result, _ = collect(s3, run)
    return report_of(
        result,
        str(run["bucket"]),
        versioned=is_versioned(s3, str(run["bucket"])),
        applied=bool(run["apply"]),
        settle_seconds=float(run["settle_seconds"]),
    )

"""``s3ledger bench-backfill``: objects per second of a backfill, from a listing and from an S3
Inventory report, on a throwaway workbench.

Starts DynamoDB Local and moto on free ports, provisions two pipelines from ``template.yaml``
(versioned buckets; table streams off, as ``s3ledger bench`` does by default, since DynamoDB
Local's streams slow its writes and AWS's do not), puts N objects in each bucket, writes a CSV
inventory report (gzip, no header, URL-encoded keys, ``files`` of 500 rows) of the second, and
times ``backfill`` on each: every object is written, none was in the ledger. What it measures
is the workbench on this machine (moto and DynamoDB Local, each one process), not AWS.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

from rich.console import Console

from s3ledger.bench.summary import BackfillSourceResult, BackfillSummary
from s3ledger.operate.backfill import BackfillReport, backfill
from s3ledger.operate.scan import check_tables
from s3ledger.workbench.dynamodb_local import free_port
from s3ledger.workbench.emulators import Workbench
from s3ledger.workbench.provision import Resources, provision
from s3ledger.workbench.template import load_pipeline_spec

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["run_backfill_bench"]

_ROWS_PER_FILE = 500
_PREFIXES = 20


def _fill(s3: S3Client, bucket: str, objects: int) -> None:
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})

    def put(index: int) -> None:
        key = f"d{index % _PREFIXES:02d}/object {index:07d}.bin"
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * (index % 100))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, range(objects)))


def _inventory(s3: S3Client, bucket: str) -> str:
    """A CSV inventory report of ``bucket`` (current versions) in ``bucket`` itself, under
    ``inventory/``, which the backfill's listing never sees (it reads the manifest only)."""
    rows: list[list[str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions") or []:
            rows.append(
                [
                    bucket,
                    quote_plus(entry["Key"], safe="/"),
                    entry["VersionId"],
                    str(entry["IsLatest"]).lower(),
                    "false",
                    str(entry["Size"]),
                    entry["LastModified"].isoformat(),
                    entry["ETag"].strip('"'),
                ]
            )
    files = []
    for start in range(0, len(rows), _ROWS_PER_FILE):
        text = io.StringIO()
        csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
            rows[start : start + _ROWS_PER_FILE]
        )
        body = gzip.compress(text.getvalue().encode())
        key = f"inventory/data/part-{start // _ROWS_PER_FILE:05d}.csv.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        files.append({"key": key, "size": len(body), "MD5checksum": ""})
    manifest = {
        "sourceBucket": bucket,
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(time.time() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, "
        "LastModifiedDate, ETag",
        "files": files,
    }
    s3.put_object(Bucket=bucket, Key="inventory/manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{bucket}/inventory/manifest.json"


def _result(report: BackfillReport, anomalies: int) -> BackfillSourceResult:
    """The report's figures as ``BackfillReport.to_json()`` gives them, and the anomalies."""
    return {
        "bucket": report.bucket,
        "source": report.source,
        "units": report.units,
        "units_skipped": report.units_skipped,
        "objects_seen": report.objects_seen,
        "objects_written": report.objects_written,
        "already_in_ledger": report.already_in_ledger,
        "superseded": report.superseded,
        "failed": report.failed,
        "elapsed_seconds": round(report.elapsed_seconds, 3),
        "objects_per_second": round(report.objects_per_second, 1),
        "interrupted": report.interrupted,
        "anomalies": anomalies,
    }


def _backfill(
    workbench: Workbench, resources: Resources, workers: int, inventory: str | None
) -> BackfillSourceResult:
    dynamodb = workbench.dynamodb()
    report = backfill(
        workbench.s3(),
        dynamodb,
        bucket=resources.bucket,
        ledger_table=resources.ledger_table,
        audit_table=resources.audit_table,
        inventory=inventory,
        prefix="d",  # the objects, not the inventory files beside them
        workers=workers,
    )
    check = check_tables(
        dynamodb, ledger_table=resources.ledger_table, audit_table=resources.audit_table
    )
    return _result(report, check.anomalies_total)


def run_backfill_bench(*, objects: int, workers: int, as_json: bool) -> int:
    """Measure both sources on ``objects`` objects; print JSON or a table; 1 on anomalies."""
    console = Console(stderr=True, quiet=as_json)
    spec = load_pipeline_spec().without_streams()
    measured: dict[str, BackfillSourceResult] = {}
    with Workbench(dynamodb_port=free_port(), aws_port=free_port()) as workbench:
        for source in ("listing", "inventory"):
            resources = provision(
                workbench.dynamodb(),
                workbench.s3(),
                workbench.sqs(),
                spec,
                prefix=f"bf-{source}-",
            )
            console.print(f"putting {objects} objects in {resources.bucket} ...")
            _fill(workbench.s3(), resources.bucket, objects)
            uri = _inventory(workbench.s3(), resources.bucket) if source == "inventory" else None
            console.print(f"backfill from the {source} ...")
            measured[source] = _backfill(workbench, resources, workers, uri)
    results: BackfillSummary = {
        "objects": objects,
        "workers": workers,
        "listing": measured["listing"],
        "inventory": measured["inventory"],
    }
    if as_json:
        print(json.dumps(results, indent=2, sort_keys=True))
    else:
        for source, result in (
            ("listing", results["listing"]),
            ("inventory", results["inventory"]),
        ):
            print(
                f"{source:>9}: {result['objects_written']}/{result['objects_seen']} written in "
                f"{result['elapsed_seconds']} s = {result['objects_per_second']} objects/s "
                f"({workers} workers, {result['units']} units, anomalies {result['anomalies']})"
            )
    ok = all(
        result["anomalies"] == 0 and result["objects_written"] == objects
        for result in (results["listing"], results["inventory"])
    )
    return 0 if ok else 1

"""The bulk handler: what the Lambda tasks of ``template.yaml``'s ``BulkStateMachine`` run.

One entry point, :func:`bulk_handler`, for three kinds of payload:

* ``{"prepare": <execution input>}`` (the first state): checks the input, reads an inventory's
  manifest (its source bucket and ``creationTimestamp``, the snapshot's time), and returns the
  normalized input the Map states read;
* ``{"Items": [...], "BatchInput": {...}}`` (a Distributed Map's batch, from ``ItemBatcher``):
  the objects of a listing (``ListObjectsV2`` entries: their states are read again, with version
  ids and S3's clock, by one ``ListObjectVersions`` walk) or the rows of an inventory; a backfill
  writes those the ledger lacks, a reconcile repairs those that differ (:class:`BulkWriter`);
* ``{"segment": i, "segments": n, ...}`` (a reconcile's ledger side): one page of one parallel
  scan segment of the ledger, each item checked against S3; returns the input with the totals so
  far and ``start_key`` when the segment has more pages (the state machine loops).

Every result is ``{"counts": {...}, "examples": {...}}`` under the keys of the run's report; the
CLI adds them up from the Map Runs' ``ResultWriter`` files. One object's failure is counted
(``failed``) and the rest of the batch goes on; a failure of the whole batch (throttling after
the retries, S3 unreachable) raises :class:`BatchRetryableError`, which the state machine retries
with backoff; a payload that can never succeed raises :class:`BatchInputError` (not retried: it
counts against the Map's ``ToleratedFailurePercentage``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from s3ledger.core.config import Settings
from s3ledger.core.errors import PoisonError, RetryableError
from s3ledger.core.inventory import InventoryError, parse_manifest, row_state
from s3ledger.core.ledger import ObjectState
from s3ledger.pipeline.bucket import S3VersionsReader, default_s3_client
from s3ledger.pipeline.bulk.chunks import BulkResult, BulkWriter
from s3ledger.pipeline.bulk.reads import listed_states, processed_page

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

    from s3ledger.pipeline.invocation import InvocationContext

__all__ = [
    "JOBS",
    "BatchInputError",
    "BatchRetryableError",
    "BulkClients",
    "BulkLimits",
    "bulk_handler",
    "handle",
]

JOBS: Final = ("backfill", "reconcile")
# DynamoDB allows up to 1,000,000 scan segments; a Map of more than a few thousand is no faster.
_MAX_SEGMENTS: Final = 10_000
# Ledger items per scan page: each is checked against S3 (one ListObjectVersions), so a page of
# 1,000 at 16 reads at once takes seconds, well inside the function's timeout.
_PAGE: Final = 1000
_READERS: Final = 16


class BatchRetryableError(RetryableError):
    """The whole batch failed for now (throttling after retries, S3 or DynamoDB unreachable)."""


class BatchInputError(PoisonError):
    """The payload can never succeed as it is (an unknown job, a manifest of another bucket)."""


@dataclass(frozen=True, slots=True)
class BulkLimits:
    """The stack's bounds on a run (template parameters ``BulkMaxConcurrency``,
    ``BulkToleratedFailurePercentage``, ``BulkItemsPerBatch``, in the function's environment).
    A run may ask for less concurrency, never more."""

    max_concurrency: int = 100
    tolerated_failure_percentage: float = 0.0
    items_per_batch: int = 500

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BulkLimits:
        env = os.environ if environ is None else environ
        return cls(
            max_concurrency=int(env.get("S3LEDGER_BULK_MAX_CONCURRENCY", "100")),
            tolerated_failure_percentage=float(
                env.get("S3LEDGER_BULK_TOLERATED_FAILURE_PERCENTAGE", "0")
            ),
            items_per_batch=int(env.get("S3LEDGER_BULK_ITEMS_PER_BATCH", "500")),
        )


class BulkClients:
    """The clients, settings and limits one execution environment reuses."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        s3: S3Client,
        settings: Settings,
        limits: BulkLimits | None = None,
    ) -> None:
        self.dynamodb = dynamodb
        self.s3 = s3
        self.settings = settings
        self.limits = limits or BulkLimits()
        self.reader = S3VersionsReader(s3)


@cache
def _environment_clients() -> BulkClients:
    from s3ledger.pipeline.handlers import default_dynamodb_client  # noqa: PLC0415 -- cold start

    return BulkClients(
        default_dynamodb_client(), default_s3_client(), Settings.from_env(), BulkLimits.from_env()
    )


def bulk_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (SAM ``Handler``: ``s3ledger.pipeline.bulk.handler.bulk_handler``)."""
    return handle(event, context, _environment_clients())


def handle(
    event: Mapping[str, Any], context: InvocationContext, clients: BulkClients
) -> dict[str, Any]:
    """Dispatch one payload (see the module's docstring); the workbench's stand-in calls this."""
    try:
        if "prepare" in event:
            return _prepare(dict(event["prepare"]), clients)
        if "Items" in event:
            return _batch(event, context, clients)
        if "segment" in event:
            return _ledger_page(event, context, clients)
    except (InventoryError, KeyError, TypeError, ValueError) as exc:
        raise BatchInputError(f"bulk payload refused: {exc!r}") from exc
    except (RetryableError, ClientError, BotoCoreError) as exc:
        raise BatchRetryableError(f"bulk batch failed for now: {exc}") from exc
    raise BatchInputError(f"bulk payload of an unknown kind (keys {sorted(event)})")


def _prepare(run: dict[str, Any], clients: BulkClients) -> dict[str, Any]:
    """The execution's input, checked and completed (source, snapshot time, segment list)."""
    manifest = run.get("manifest")
    as_of = None
    if manifest:
        uri = f"s3://{manifest['Bucket']}/{manifest['Key']}"
        body = clients.s3.get_object(Bucket=manifest["Bucket"], Key=manifest["Key"])["Body"]
        parsed = parse_manifest(body.read(), uri)
        if parsed.file_format != "CSV":
            raise InventoryError(f"{uri}: the Step Functions engine reads CSV inventories only")
        run["bucket"] = run.get("bucket") or parsed.source_bucket  # the schedule names none
        if parsed.source_bucket != run["bucket"]:
            raise InventoryError(f"{uri} is an inventory of {parsed.source_bucket!r}")
        as_of = parsed.as_of
    job, segments = str(run.get("job")), int(run.get("segments", 16))
    if job not in JOBS or not run.get("bucket") or not 1 <= segments <= _MAX_SEGMENTS:
        raise ValueError(f"job must be one of {JOBS}, a bucket given, 1 <= segments <= 10000")
    limits = clients.limits
    asked = int(run.get("max_concurrency") or limits.max_concurrency)
    return {
        "max_concurrency": max(1, min(asked, limits.max_concurrency)),
        "tolerated_failure_percentage": limits.tolerated_failure_percentage,
        "items_per_batch": limits.items_per_batch,
        "job": job,
        "bucket": str(run["bucket"]),
        "prefix": str(run.get("prefix", "")),
        "source": "inventory" if manifest else "listing",
        "manifest": manifest or {},
        "as_of": as_of,
        "apply": job == "backfill" or bool(run.get("apply", False)),
        "settle_seconds": float(run.get("settle_seconds", 0.0)),
        "segments": segments,
        "segment_list": list(range(segments)),
    }


def _writer(run: Mapping[str, Any], context: InvocationContext, clients: BulkClients) -> BulkWriter:
    return BulkWriter(
        clients.dynamodb,
        ledger_table=clients.settings.ledger_table,
        audit_table=clients.settings.audit_table,
        state_reader=clients.reader,
        context=context,
        settle_seconds=float(run.get("settle_seconds", 0.0)),
        apply=bool(run.get("apply", False)),
        readers=_READERS,
    )


def _inventory_states(
    items: list[Mapping[str, Any]], run: Mapping[str, Any]
) -> dict[str, ObjectState]:
    """The current states an inventory batch's rows give (CSV: URL-encoded keys)."""
    states: dict[str, ObjectState] = {}
    for row in items:
        if row.get("Bucket", run["bucket"]) != run["bucket"]:
            raise InventoryError(f"an inventory row of bucket {row.get('Bucket')!r}")
        found = row_state(
            (
                row.get("Key"),
                row.get("VersionId"),
                row.get("IsLatest"),
                row.get("IsDeleteMarker"),
                row.get("Size"),
                row.get("ETag"),
            ),
            encoded=True,
            prefix=str(run.get("prefix", "")),
            as_of=str(run["as_of"]),
        )
        if found is not None:
            states[found[0]] = found[1]
    return states


def _batch(
    event: Mapping[str, Any], context: InvocationContext, clients: BulkClients
) -> dict[str, Any]:
    """One ItemBatcher batch: read its objects' states, then backfill or reconcile them."""
    run, items = event["BatchInput"], list(event["Items"])
    bucket = str(run["bucket"])
    if run.get("source") == "inventory":
        states = _inventory_states(items, run)
    else:
        states = listed_states(clients.s3, bucket, [str(item["Key"]) for item in items])
    writer = _writer(run, context, clients)
    if run["job"] == "backfill":
        return writer.backfill(bucket, states).to_json()
    existing = {key: state for key, state in states.items() if state.exists}
    # Keys gone since the listing are left to the ledger side, which checks every ledger item.
    return writer.reconcile_listed(bucket, existing).to_json()


def _ledger_page(
    event: Mapping[str, Any], context: InvocationContext, clients: BulkClients
) -> dict[str, Any]:
    """One page of one scan segment of the ledger, checked against S3; loop state returned."""
    bucket = str(event["bucket"])
    items, following = processed_page(
        clients.dynamodb,
        clients.settings.ledger_table,
        bucket,
        prefix=str(event.get("prefix", "")),
        segment=int(event["segment"]),
        segments=int(event["segments"]),
        start_key=event.get("start_key"),
        limit=int(os.environ.get("S3LEDGER_BULK_SCAN_PAGE", _PAGE)),
    )
    total = BulkResult.from_json(event.get("result") or {})
    total.merge(_writer(event, context, clients).reconcile_ledger(bucket, items))
    state = {k: v for k, v in event.items() if k not in {"start_key", "result"}}
    state["result"] = total.to_json()
    if following is not None:
        state["start_key"] = following
    return state

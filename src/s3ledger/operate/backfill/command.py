"""The backfill command: a run's units (listing prefixes or inventory files), worked through by a
pool of threads, checkpointed, and summed up in a :class:`BackfillReport`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s3ledger.operate.backfill.checkpoint import Checkpoint
from s3ledger.operate.backfill.errors import BackfillError
from s3ledger.operate.backfill.inventory import Manifest, read_inventory_file, read_manifest
from s3ledger.operate.backfill.listing import ROOT_UNIT, list_page, listing_units
from s3ledger.operate.backfill.report import BackfillReport, ObjectCounts, Source
from s3ledger.operate.backfill.writing import ChunkWriter
from s3ledger.operate.reconcile import OperatorContext, is_versioned

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = ["backfill"]


class _Run:
    """One backfill's units (listing prefixes or inventory files) and how to work one through."""

    def __init__(
        self,
        s3: S3Client,
        writer: ChunkWriter,
        saved: Checkpoint,
        stop: threading.Event,
        *,
        bucket: str,
        prefix: str,
        page_size: int,
    ) -> None:
        self._s3 = s3
        self._writer = writer
        self._saved = saved
        self._stop = stop
        self._bucket = bucket
        self._prefix = prefix
        self._page_size = page_size
        self._versioned = False
        self._manifest: Manifest | None = None
        self.on_page: Callable[[], None] = lambda: None
        self.on_unit: Callable[[str], None] = lambda _: None

    def listing_units(self) -> list[str]:
        self._versioned = is_versioned(self._s3, self._bucket)
        return listing_units(self._s3, self._bucket, self._prefix, versioned=self._versioned)

    def inventory_units(self, uri: str) -> list[str]:
        manifest = read_manifest(self._s3, uri)
        if manifest.source_bucket != self._bucket:
            raise BackfillError(
                f"{uri} is an inventory of {manifest.source_bucket!r}, not {self._bucket!r}"
            )
        self._manifest = manifest
        return list(manifest.files)

    def run_unit(self, unit: str) -> None:
        if self._manifest is None:
            self._list_unit(unit)
        elif not self._stop.is_set():
            body = self._s3.get_object(Bucket=self._manifest.destination_bucket, Key=unit)
            states = read_inventory_file(body["Body"].read(), self._manifest, self._prefix)
            self._writer.write(states)
            self.on_page()
            self.on_unit(unit)

    def _list_unit(self, unit: str) -> None:
        after = self._saved.last_key.get(unit)
        token: dict[str, Any] | None = None
        while not self._stop.is_set():
            states, _, token = list_page(
                self._s3,
                self._bucket,
                versioned=self._versioned,
                prefix=self._prefix if unit == ROOT_UNIT else unit,
                delimiter="/" if unit == ROOT_UNIT else None,
                after=after,
                token=token,
                page_size=self._page_size,
            )
            self._writer.write(states)
            if states:
                self._saved.advance(unit, max(states))
            self.on_page()
            if token is None:
                self.on_unit(unit)
                return


class _Progress:
    """Units finished (saved to the checkpoint), the caller's ``progress`` told after each page,
    and ``stop`` set once ``stop_after_units`` units are done."""

    def __init__(
        self,
        saved: Checkpoint,
        counts: ObjectCounts,
        stop: threading.Event,
        progress: Callable[[int, int], None] | None,
        stop_after_units: int | None,
    ) -> None:
        self._saved = saved
        self._counts = counts
        self._stop = stop
        self._progress = progress
        self._stop_after_units = stop_after_units
        self._lock = threading.Lock()
        self.units_done = 0

    def unit_finished(self, unit: str) -> None:
        self._saved.finish(unit)
        with self._lock:
            self.units_done += 1
            if self._stop_after_units is not None and self.units_done >= self._stop_after_units:
                self._stop.set()

    def page_written(self) -> None:
        if self._progress is not None:
            self._progress(self._counts.seen, self.units_done)


def _work_through(run: _Run, units: list[str], workers: int, stop: threading.Event) -> None:
    """Run every unit on a pool of ``workers`` threads; on an error or Ctrl-C, set ``stop`` so
    the workers end their page (the checkpoint is kept) and re-raise."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill") as pool:
        futures = [pool.submit(run.run_unit, unit) for unit in units]
        try:
            for future in futures:
                future.result()
        except BaseException:
            stop.set()
            raise


def backfill(
    s3: S3Client,
    dynamodb: DynamoDBClient,
    *,
    bucket: str,
    ledger_table: str,
    audit_table: str,
    prefix: str = "",
    inventory: str | None = None,
    workers: int = 4,
    checkpoint: Path | None = None,
    page_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    stop_after_units: int | None = None,
) -> BackfillReport:
    """Write every current object of ``bucket`` (under ``prefix``) that has no ledger item.

    ``inventory``: an ``s3://`` manifest URI to read instead of listing. ``checkpoint``: the
    file to resume from and save to (``None``: none). ``progress(objects_seen, units_done)`` is
    called after each page. ``stop`` (set by Ctrl-C) and ``stop_after_units`` (tests) end the
    run between pages, its checkpoint kept. Why it is exactly once: docs/exactly-once.md#backfill.
    """
    if workers < 1 or page_size < 1:
        raise ValueError("workers and page_size must be at least 1")
    started = time.monotonic()
    stop = stop or threading.Event()
    counts = ObjectCounts()
    context = OperatorContext(f"backfill-{uuid.uuid4()}")
    tables = {"ledger_table": ledger_table, "audit_table": audit_table}
    writer = ChunkWriter(dynamodb, bucket=bucket, counts=counts, context=context, **tables)
    saved = Checkpoint(
        checkpoint, {"bucket": bucket, "prefix": prefix, "source": inventory or "listing"}
    )
    done = _Progress(saved, counts, stop, progress, stop_after_units)
    run = _Run(s3, writer, saved, stop, bucket=bucket, prefix=prefix, page_size=page_size)
    run.on_page, run.on_unit = done.page_written, done.unit_finished
    units = run.listing_units() if inventory is None else run.inventory_units(inventory)
    pending = [unit for unit in units if unit not in saved.done]
    _work_through(run, pending, workers, stop)
    interrupted = done.units_done < len(pending)
    if not interrupted:
        saved.remove()
    source: Source = "listing" if inventory is None else "inventory"
    return BackfillReport(
        bucket=bucket,
        source=source,
        units=len(units),
        units_skipped=len(units) - len(pending),
        objects_seen=counts.seen,
        objects_written=counts.written,
        already_in_ledger=counts.already,
        superseded=counts.superseded,
        failed=counts.failed,
        elapsed_seconds=time.monotonic() - started,
        interrupted=interrupted,
    )

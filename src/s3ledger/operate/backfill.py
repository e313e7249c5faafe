"""Backfill: bring every existing object of an existing bucket into the ledger, exactly once.

A bucket that existed before s3ledger was deployed holds objects that never had an event. The
backfill lists them (or reads an S3 Inventory report of them) and writes one synthetic event per
object through the same write path as everything else, the ``inbox`` writer's pinned write
(:meth:`s3ledger.pipeline.writers.inbox.InboxWriter.write_state`): ledger and audit log in one
transaction, the audit log's conditional Put making it exactly once.

**Only objects with no ledger item are written.** An object the ledger already has was reached
by its own live events (or by ``reconcile``): its item is at least as informed as a snapshot,
and comparing states is reconcile's job, not the backfill's. So the backfill reads each page's
ledger items (``BatchGetItem``, consistent) and writes only where there is none, *pinned to "no
item"* (``write_state(event, state, None, ...)``): if a live event lands between the read and the
write, the write is refused (counted ``superseded``) and the live event wins. A second run (or a
run resumed over work already done) finds the items and writes nothing; were it to race itself,
the event id (``backfill~`` and a digest of the state written) is the same on both sides and
the audit log's condition lets one through.

**Its place in the key's order.** The synthetic event (``ObjectCreated:Backfilled``, no
sequencer) carries the snapshot's time as its time mark (:mod:`s3ledger.core.order`): for a listing,
S3's clock when it answered the page (the ``Date`` header, whole seconds, as reconcile's reads;
see :func:`s3ledger.pipeline.bucket.server_time`); for an inventory, the manifest's
``creationTimestamp``. A
live event of a request older than the snapshot that arrives later is audited as superseded
(the snapshot already shows its effect, or a later one); an event of a later request applies.
The limits are reconcile's: the ``Date`` header has whole seconds, so a request that finished
while a listing call was being served, when that call spanned a second boundary, may be missing
from the page and yet older than its mark (its late event is then superseded); and an S3
Inventory is eventually consistent (recently added or deleted objects may be missing or still
listed), so an object deleted just before the report was written may be backfilled as existing,
and its delete event, if still in flight, superseded. Both leave a ledger state older than the
bucket's, which is what ``s3ledger reconcile --apply`` repairs: run it (after its settle window)
once a backfill is done.

**Current versions only.** A key's latest entry (``IsLatest``) that is a version is written; a key
whose latest entry is a delete marker is deleted and needs no ledger item; older versions say
nothing about the current state.

**From a listing** (default): the key space under ``--prefix`` is split at its first delimiter
level (``Delimiter="/"``): each common prefix is one unit, listed in full by one of ``workers``
threads, and the objects directly under the prefix are one more unit. Listing is
``ListObjectVersions`` when versioning is or was on, ``ListObjectsV2`` otherwise (at most 1,000
keys a call). A checkpoint file (JSON) records the units finished and, for each unit in
progress, the last key whose page was fully written; after Ctrl-C (or a crash) the next run
with the same file resumes each unit after that key (``StartAfter``/``KeyMarker``) and skips the
finished ones. It holds only bucket, prefix, source, finished units and last keys, never object
data. A checkpoint of a completed run is removed; a second run without one lists everything
again and, because of the pin, writes nothing.

**From an S3 Inventory report** (``--inventory s3://bucket/.../manifest.json``): the manifest
(``sourceBucket``, ``destinationBucket``, ``fileFormat`` CSV|ORC|Parquet, ``fileSchema``,
``files: [{key, size, MD5checksum}]``, ``creationTimestamp`` in milliseconds) names the data
files in the destination bucket; each is one unit. CSV files are gzip-compressed, have no header
(the columns are ``fileSchema``'s) and URL-encode the key; Parquet files name their columns.
Where the manifest and data files are published, and what the manifest names, is on *Locating
your inventory list* (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html);
the list's fields and the URL-encoding of CSV keys are on *Amazon S3 Inventory*
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html). Keys are decoded
with ``unquote_plus``, right whether a space is written ``+`` or ``%20`` (a literal ``+`` is
always ``%2B``). Parquet columns are snake case (``version_id``, ``is_latest``); both spellings
are read. Both formats are read with pyarrow (measured against DuckDB on one 200,000-row
report: faster for both; see the README). ORC is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import unquote_plus, urlparse

from s3ledger.core.config import Settings
from s3ledger.core.errors import S3LedgerError
from s3ledger.core.events import ObjectEvent
from s3ledger.core.ledger import ObjectState, version_of
from s3ledger.core.order import normalize_event_time, utc_now
from s3ledger.operate.reconcile import OperatorContext, is_versioned, iso_time
from s3ledger.operate.scan import get_items
from s3ledger.pipeline.bucket import server_time
from s3ledger.pipeline.writers.base import Outcome
from s3ledger.pipeline.writers.inbox import InboxWriter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "BACKFILLED_EVENT",
    "BackfillError",
    "BackfillReport",
    "Checkpoint",
    "backfill",
    "backfill_event",
    "read_inventory_file",
]

BACKFILLED_EVENT: Final = "ObjectCreated:Backfilled"
# BatchGetItem takes at most 100 keys.
_CHUNK: Final = 100
# The unit of the objects directly under the prefix (listed with the delimiter).
_ROOT: Final = ""

Source = Literal["listing", "inventory"]


class BackfillError(S3LedgerError):
    """The backfill cannot start: a bad manifest, a checkpoint of another run."""


def backfill_event(bucket: str, key: str, state: ObjectState) -> ObjectEvent:
    """The synthetic event that brings ``bucket/key`` into the ledger as ``state``.

    Its time is the snapshot's (``state.as_of``), its identity a digest of the state, so the
    same backfill of the same object is one audit item however often it is tried.
    """
    size = "" if state.size is None else str(state.size)
    identity = "\x1f".join(("backfill", state.etag or "", size, state.version_id or ""))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return ObjectEvent(
        bucket=bucket,
        key=key,
        event_name=BACKFILLED_EVENT,
        event_time=state.as_of or utc_now(),
        size=state.size,
        etag=state.etag,
        version_id=state.version_id,
        identity=f"backfill~{digest}",
    )


# ---------------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class BackfillReport:
    """What one backfill saw and wrote.

    ``objects_seen``: current versions found (delete markers excluded); ``objects_written``: new
    ledger items; ``already_in_ledger``: objects the ledger had; ``superseded``: writes refused
    because a live event (or another run) got there first; ``failed``: writes that failed (the
    next run retries them).
    """

    bucket: str
    source: Source
    units: int
    units_skipped: int
    objects_seen: int
    objects_written: int
    already_in_ledger: int
    superseded: int
    failed: int
    elapsed_seconds: float
    interrupted: bool

    @property
    def objects_per_second(self) -> float:
        return self.objects_seen / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "source": self.source,
            "units": self.units,
            "units_skipped": self.units_skipped,
            "objects_seen": self.objects_seen,
            "objects_written": self.objects_written,
            "already_in_ledger": self.already_in_ledger,
            "superseded": self.superseded,
            "failed": self.failed,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "objects_per_second": round(self.objects_per_second, 1),
            "interrupted": self.interrupted,
        }


@dataclass
class _Tally:
    seen: int = 0
    written: int = 0
    already: int = 0
    superseded: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seen: int, written: int, already: int, superseded: int, failed: int) -> None:
        with self.lock:
            self.seen += seen
            self.written += written
            self.already += already
            self.superseded += superseded
            self.failed += failed


# ------------------------------------------------------------------------------ checkpoint


class Checkpoint:
    """Finished units and the last written key of units in progress, in a small JSON file.

    Saved (atomically: a temporary file renamed over it) after every page; thread-safe.
    ``path`` ``None`` keeps it in memory only.
    """

    def __init__(self, path: Path | None, run: Mapping[str, str]) -> None:
        self.path = path
        self._run = dict(run)
        self._lock = threading.Lock()
        self.done: set[str] = set()
        self.last_key: dict[str, str] = {}
        if path is not None and path.exists():
            data = json.loads(path.read_text())
            if data.get("run") != self._run:
                raise BackfillError(
                    f"checkpoint {path} is of another run ({data.get('run')}); "
                    "remove it or pass another --checkpoint"
                )
            self.done = set(data.get("done", []))
            self.last_key = dict(data.get("last_key", {}))

    def advance(self, unit: str, key: str) -> None:
        with self._lock:
            self.last_key[unit] = key
            self._save()

    def finish(self, unit: str) -> None:
        with self._lock:
            self.done.add(unit)
            self.last_key.pop(unit, None)
            self._save()

    def remove(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"run": self._run, "done": sorted(self.done), "last_key": self.last_key}
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(temporary, self.path)


def default_checkpoint(bucket: str, prefix: str, inventory: str | None) -> Path:
    """``./.s3ledger-backfill-<bucket>[-<digest of prefix and inventory>].json``."""
    scope = (
        ""
        if not (prefix or inventory)
        else "-" + hashlib.sha256(f"{prefix}\x1f{inventory or ''}".encode()).hexdigest()[:8]
    )
    return Path.cwd() / f".s3ledger-backfill-{bucket}{scope}.json"


# -------------------------------------------------------------------------- writing a chunk


class _Writer:
    """Reads a chunk's ledger items and writes, pinned to "no item", the objects without one."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        *,
        bucket: str,
        ledger_table: str,
        audit_table: str,
        tally: _Tally,
        context: OperatorContext,
    ) -> None:
        self._dynamodb = dynamodb
        self._bucket = bucket
        self._ledger_table = ledger_table
        self._tally = tally
        self._context = context
        settings = Settings(mode="inbox", ledger_table=ledger_table, audit_table=audit_table)
        self._local = threading.local()
        self._settings = settings

    def _inbox(self) -> InboxWriter:
        writer: InboxWriter | None = getattr(self._local, "writer", None)  # per thread, lazily
        if writer is None:
            # One writer per thread; it never reads S3 (a backfill writes no removals).
            writer = InboxWriter(self._dynamodb, self._settings, state_reader=_NoReader())
            self._local.writer = writer
        return writer

    def write(self, states: Mapping[str, ObjectState]) -> None:
        keys = list(states)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            items = get_items(
                self._dynamodb, self._ledger_table, "id", (f"{self._bucket}/{k}" for k in chunk)
            )
            written = already = superseded = failed = 0
            for key in chunk:
                if f"{self._bucket}/{key}" in items:
                    already += 1
                    continue
                state = states[key]
                event = backfill_event(self._bucket, key, state)
                try:
                    outcome = self._inbox().write_state(event, state, None, self._context)
                except S3LedgerError:
                    failed += 1
                    continue
                if outcome is Outcome.APPLIED:
                    written += 1
                else:
                    superseded += 1
            self._tally.add(len(chunk), written, already, superseded, failed)


class _NoReader:
    def current(self, bucket: str, key: str) -> ObjectState:  # pragma: no cover - never asked
        raise AssertionError(f"a backfill never reads state: s3://{bucket}/{key}")


# ---------------------------------------------------------------------------------- listing


def _state(entry: Mapping[str, Any], as_of: str | None) -> ObjectState:
    etag = entry.get("ETag")
    return ObjectState(
        exists=True,
        version_id=version_of(entry.get("VersionId")),
        etag=None if etag is None else str(etag).strip('"'),
        size=entry.get("Size"),
        last_modified=iso_time(entry.get("LastModified")),
        as_of=as_of,
    )


def _list_page(
    s3: S3Client,
    bucket: str,
    *,
    versioned: bool,
    prefix: str,
    delimiter: str | None,
    after: str | None,
    token: Mapping[str, Any] | None,
    page_size: int,
) -> tuple[dict[str, ObjectState], list[str], dict[str, Any] | None]:
    """One listing page: current versions by key, common prefixes, the next page's markers."""
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
    if delimiter:
        request["Delimiter"] = delimiter
    states: dict[str, ObjectState] = {}
    if not versioned:
        if token:
            request.update(token)
        elif after:
            request["StartAfter"] = after
        page: Mapping[str, Any] = s3.list_objects_v2(**request)
        as_of = server_time(page)
        for obj in page.get("Contents") or []:
            states[obj["Key"]] = _state(obj, as_of)
        following = (
            {"ContinuationToken": page["NextContinuationToken"]}
            if page.get("IsTruncated")
            else None
        )
    else:
        if token:
            request.update(token)
        elif after:
            request["KeyMarker"] = after
        page = s3.list_object_versions(**request)
        as_of = server_time(page)
        for version in page.get("Versions") or []:
            if version.get("IsLatest"):
                states[version["Key"]] = _state(version, as_of)
        following = None
        if page.get("IsTruncated"):
            following = {"KeyMarker": page.get("NextKeyMarker")}
            if page.get("NextVersionIdMarker"):
                following["VersionIdMarker"] = page["NextVersionIdMarker"]
    prefixes = [p["Prefix"] for p in page.get("CommonPrefixes") or []]
    return states, prefixes, following


def _listing_units(s3: S3Client, bucket: str, prefix: str, *, versioned: bool) -> list[str]:
    """The first delimiter level under ``prefix``: its common prefixes, and the root unit."""
    units: list[str] = [_ROOT]
    token: dict[str, Any] | None = None
    while True:
        _, prefixes, token = _list_page(
            s3,
            bucket,
            versioned=versioned,
            prefix=prefix,
            delimiter="/",
            after=None,
            token=token,
            page_size=1000,
        )
        units.extend(prefixes)
        if token is None:
            return units


# --------------------------------------------------------------------------------- inventory


@dataclass(frozen=True)
class Manifest:
    source_bucket: str
    destination_bucket: str
    file_format: str
    schema: tuple[str, ...]
    files: tuple[str, ...]
    as_of: str


def _s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise BackfillError(f"--inventory {uri!r}: expected s3://bucket/path/manifest.json")
    return parsed.netloc, parsed.path.lstrip("/")


def read_manifest(s3: S3Client, uri: str) -> Manifest:
    """Read and check an inventory ``manifest.json``."""
    bucket, key = _s3_uri(uri)
    try:
        data = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        destination = str(data["destinationBucket"])
        millis = int(data["creationTimestamp"])
        manifest = Manifest(
            source_bucket=str(data["sourceBucket"]),
            # "arn:aws:s3:::bucket" in the documented example.
            destination_bucket=destination.rsplit(":", 1)[-1],
            file_format=str(data["fileFormat"]),
            schema=tuple(c.strip() for c in str(data.get("fileSchema", "")).split(",")),
            files=tuple(str(f["key"]) for f in data["files"]),
            as_of=normalize_event_time(datetime.fromtimestamp(millis / 1000, UTC).isoformat()),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackfillError(f"{uri}: not an S3 Inventory manifest ({exc!r})") from exc
    if manifest.file_format not in {"CSV", "Parquet"}:
        raise BackfillError(f"{uri}: fileFormat {manifest.file_format} is not supported")
    if "Key" not in manifest.schema and manifest.file_format == "CSV":
        raise BackfillError(f"{uri}: fileSchema has no Key column")
    return manifest


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def read_inventory_file(data: bytes, manifest: Manifest, prefix: str) -> dict[str, ObjectState]:
    """The current versions one inventory data file lists under ``prefix``, by key."""
    import pyarrow as pa  # noqa: PLC0415 -- only an inventory backfill needs it

    if manifest.file_format == "CSV":
        from pyarrow import csv  # noqa: PLC0415

        stream = pa.CompressedInputStream(pa.BufferReader(data), "gzip")
        table = csv.read_csv(
            stream,
            read_options=csv.ReadOptions(column_names=list(manifest.schema)),
            convert_options=csv.ConvertOptions(
                column_types=dict.fromkeys(manifest.schema, pa.string())
            ),
        )
    else:
        from pyarrow import parquet  # noqa: PLC0415

        table = parquet.read_table(pa.BufferReader(data))
    if "key" not in {name.replace("_", "").lower() for name in table.column_names}:
        raise BackfillError(f"an inventory file of {manifest.source_bucket} has no key column")
    # CSV names its columns as fileSchema does (``VersionId``), Parquet in snake case
    # (``version_id``): one name for both.
    columns = {
        name.replace("_", "").lower(): table.column(name).to_pylist() for name in table.column_names
    }
    encoded = manifest.file_format == "CSV"
    rows = len(columns.get("key", []))
    nones = [None] * rows
    states: dict[str, ObjectState] = {}
    for key, version_id, latest, marker, size, etag in zip(
        columns["key"],
        columns.get("versionid", nones),
        columns.get("islatest", nones),
        columns.get("isdeletemarker", nones),
        columns.get("size", nones),
        columns.get("etag", nones),
        strict=True,
    ):
        if latest is not None and not _truthy(latest):
            continue
        if marker is not None and _truthy(marker):
            continue
        name = unquote_plus(key) if encoded else str(key)
        if not name.startswith(prefix):
            continue
        states[name] = ObjectState(
            exists=True,
            version_id=version_of(version_id),
            etag=None if etag in (None, "") else str(etag).strip('"'),
            size=None if size in (None, "") else int(size),
            as_of=manifest.as_of,
        )
    return states


# ---------------------------------------------------------------------------------- backfill


class _Run:
    """One backfill's units (listing prefixes or inventory files) and how to work one through."""

    def __init__(
        self,
        s3: S3Client,
        writer: _Writer,
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
        return _listing_units(self._s3, self._bucket, self._prefix, versioned=self._versioned)

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
            states, _, token = _list_page(
                self._s3,
                self._bucket,
                versioned=self._versioned,
                prefix=self._prefix if unit == _ROOT else unit,
                delimiter="/" if unit == _ROOT else None,
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
    run between pages, its checkpoint kept. See the module's docstring.
    """
    if workers < 1 or page_size < 1:
        raise ValueError("workers and page_size must be at least 1")
    started = time.monotonic()
    stop = stop or threading.Event()
    tally = _Tally()
    writer = _Writer(
        dynamodb,
        bucket=bucket,
        ledger_table=ledger_table,
        audit_table=audit_table,
        tally=tally,
        context=OperatorContext(f"backfill-{uuid.uuid4()}"),
    )
    source: Source = "listing" if inventory is None else "inventory"
    run = {"bucket": bucket, "prefix": prefix, "source": inventory or "listing"}
    saved = Checkpoint(checkpoint, run)
    units_done = 0
    done_lock = threading.Lock()

    def unit_finished(unit: str) -> None:
        nonlocal units_done
        saved.finish(unit)
        with done_lock:
            units_done += 1
            if stop_after_units is not None and units_done >= stop_after_units:
                stop.set()

    def page_written() -> None:
        if progress is not None:
            progress(tally.seen, units_done)

    runner = _Run(s3, writer, saved, stop, bucket=bucket, prefix=prefix, page_size=page_size)
    runner.on_page = page_written
    runner.on_unit = unit_finished
    units = runner.listing_units() if inventory is None else runner.inventory_units(inventory)
    pending = [unit for unit in units if unit not in saved.done]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill") as pool:
        futures = [pool.submit(runner.run_unit, unit) for unit in pending]
        try:
            for future in futures:
                future.result()
        except BaseException:
            stop.set()  # Ctrl-C or an error: let the workers end their page, keep the checkpoint
            raise
    interrupted = units_done < len(pending)
    if not interrupted:
        saved.remove()
    return BackfillReport(
        bucket=bucket,
        source=source,
        units=len(units),
        units_skipped=len(units) - len(pending),
        objects_seen=tally.seen,
        objects_written=tally.written,
        already_in_ledger=tally.already,
        superseded=tally.superseded,
        failed=tally.failed,
        elapsed_seconds=time.monotonic() - started,
        interrupted=interrupted,
    )

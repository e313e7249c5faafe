"""Backfill against the workbench: moto's S3 over HTTP (listings, versions, delete markers, real
inventory files in the documented format) and DynamoDB Local (real transactions), with live
events delivered through the real handler path (``Handler.handle_s3``, inbox writer).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3ledger.core.ledger import from_item
from s3ledger.operate.backfill import BACKFILLED_EVENT, BackfillError, BackfillReport, backfill
from tests.e2e.test_cli import run_cli, table_env
from tests.e2e.test_reconcile import Rig
from tests.support.tables import TableNames, scan_all

SCHEMA = (
    "Bucket",
    "Key",
    "VersionId",
    "IsLatest",
    "IsDeleteMarker",
    "Size",
    "LastModifiedDate",
    "ETag",
)


def run(b: Rig, *, workers: int = 3, page_size: int = 7, **options: Any) -> BackfillReport:
    return backfill(
        b.s3,
        b.dynamodb,
        bucket=b.bucket,
        ledger_table=b.tables.ledger,
        audit_table=b.tables.audit,
        workers=workers,
        page_size=page_size,
        **options,
    )


def ledger_items(b: Rig) -> dict[str, dict[str, Any]]:
    return {
        str(item["key"]): item
        for item in (from_item(raw) for raw in scan_all(b.dynamodb, b.tables.ledger))
        if item["bucket"] == b.bucket
    }


def bucket_state(b: Rig) -> dict[str, tuple[str, int, str | None]]:
    """Every existing object's (etag, size, version id) as S3 lists it now."""
    state: dict[str, tuple[str, int, str | None]] = {}
    if b.versioned:
        for page in b.s3.get_paginator("list_object_versions").paginate(Bucket=b.bucket):
            for version in page.get("Versions") or []:
                if version["IsLatest"]:
                    state[version["Key"]] = (
                        version["ETag"].strip('"'),
                        version["Size"],
                        version["VersionId"],
                    )
    else:
        for page in b.s3.get_paginator("list_objects_v2").paginate(Bucket=b.bucket):
            for obj in page.get("Contents") or []:
                state[obj["Key"]] = (obj["ETag"].strip('"'), obj["Size"], None)
    return state


def assert_ledger_is_bucket(b: Rig) -> None:
    """Every existing object once in the ledger with the bucket's state; clean tables; each
    event id once in the audit log (it is the table's key, so once per object and event)."""
    items = ledger_items(b)
    for key, (etag, size, version_id) in bucket_state(b).items():
        item = items[key]
        assert item["status"] == "processed", key
        assert (item["etag"], item["size"], item.get("version_id")) == (etag, size, version_id)
    audit_ids = [a["event_id"] for a in b.audit()]
    assert len(audit_ids) == len(set(audit_ids))
    assert b.anomalies() == 0


def populate(b: Rig, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Put every key (some twice, some then deleted); return each key's event records."""
    records: dict[str, list[dict[str, Any]]] = {}
    for index, key in enumerate(keys):
        records[key] = [b.put(key, f"{key} v1".encode())]
        if index % 9 == 4:
            records[key].append(b.put(key, f"{key} v2".encode() * 2))
        if b.versioned and index % 11 == 5:
            records[key].append(b.delete(key))
    return records


KEYS = (
    [f"alpha/{i:03d}.csv" for i in range(40)]
    + [f"beta/gamma/{i:03d}.bin" for i in range(30)]
    + [f"delta/{i:02d}" for i in range(20)]
    + [f"root-{i:02d}.txt" for i in range(8)]
    + ["in box/a b+c.txt", "résumé 100%.txt", "z/é/ü"]
)


@pytest.mark.slow
def test_backfill_from_a_listing_writes_each_missing_object_once(rig: Rig) -> None:
    """A versioned bucket of 101 keys (overwrites, delete markers), a third of them already in
    the ledger by their live events: the backfill writes exactly the others, current versions
    only, ledger equal to the bucket; a second run writes nothing and the audit log is
    unchanged."""
    records = populate(rig, KEYS)
    live = KEYS[::3]
    for key in live:
        rig.deliver(*records[key])
    existing = bucket_state(rig)
    had_item = set(ledger_items(rig))

    report = run(rig)

    assert not report.interrupted
    assert report.units == 6  # alpha/ beta/ delta/ in box/ z/ and the root
    assert report.objects_seen == len(existing)
    assert report.already_in_ledger == len(set(existing) & had_item)
    assert report.objects_written == len(set(existing) - had_item)
    assert (report.superseded, report.failed) == (0, 0)
    assert_ledger_is_bucket(rig)
    deleted_unseen = [
        k for k in KEYS if k not in existing and k not in had_item
    ]  # a delete marker is latest and no event came: no ledger item needed
    assert deleted_unseen
    assert not set(deleted_unseen) & set(ledger_items(rig))
    backfilled = [a for a in rig.audit() if a.get("event_name") == BACKFILLED_EVENT]
    assert len(backfilled) == report.objects_written

    before = rig.snapshot()
    again = run(rig, workers=2, page_size=50)
    assert (again.objects_written, again.already_in_ledger) == (0, len(existing))
    assert rig.snapshot() == before


def live_events_around(
    rig: Rig,
    fill: Callable[[Rig], BackfillReport],
    snapshot: Callable[[Rig], None] = lambda _: None,
) -> None:
    """Live events flow around and during ``fill(rig)`` (a backfill on either engine): an older
    event that arrives after it leaves the ledger alone, a newer one applies, events racing it
    land first or lose the pin; every object ends once in the ledger, equal to the bucket, with
    clean tables; a second run writes nothing. ``snapshot(rig)`` runs before the racing requests (an
    inventory report is written there: it shows the first versions)."""
    keys = [f"live/{p}/{i:02d}" for p in "abcd" for i in range(25)]
    first = {key: rig.put(key, f"{key} v1".encode()) for key in keys}
    early, late, newer, racing = keys[0::4], keys[1::4], keys[2::4], keys[3::4]
    for key in early:  # delivered before: the backfill leaves them alone
        rig.deliver(first[key])
    time.sleep(1.1)  # the listing's Date (whole seconds) is after every first put
    snapshot(rig)

    racing_records = {key: rig.put(key, f"{key} v2".encode() * 3) for key in racing}

    def deliver_racing() -> None:
        for key in racing:
            rig.deliver(first[key], racing_records[key])

    racer = threading.Thread(target=deliver_racing)
    racer.start()
    report = fill(rig)
    racer.join()

    assert report.objects_seen == len(keys)
    assert report.failed == 0
    # Late arrivals of the snapshot's own (older) events: the state stands. Clearly older than
    # the snapshot they are superseded; within its second or the next (the clocks' margin), S3
    # shows the very state the backfill wrote, so they change nothing (unchanged).
    for key in late:
        outcome = rig.deliver(first[key])
        assert outcome.get("superseded", 0) + outcome.get("unchanged", 0) == 1, (key, outcome)
    # Newer requests after the backfill: applied.
    for key in newer:
        assert rig.deliver(rig.put(key, f"{key} v3".encode() * 4)).get("applied") == 1, key
    assert_ledger_is_bucket(rig)
    assert len(ledger_items(rig)) == len(keys)

    before = rig.snapshot()
    assert fill(rig).objects_written == 0
    assert rig.snapshot() == before


@pytest.mark.slow
def test_live_events_before_during_and_after_a_backfill(rig: Rig) -> None:
    """See :func:`live_events_around`: the local engine, 4 workers, pages of 5."""
    live_events_around(rig, lambda b: run(b, workers=4, page_size=5))


# ------------------------------------------------------------------------------- inventory


def write_inventory(b: Rig, file_format: str, *, files: int = 3) -> str:
    """An S3 Inventory report of ``b``'s bucket, in the documented format, in another bucket:
    data files (CSV: gzip, no header, URL-encoded keys; Parquet) and a manifest.json; every
    version and delete marker is a row, as in an inventory with all versions."""
    destination = f"inv{uuid.uuid4().hex[:8]}"
    b.s3.create_bucket(Bucket=destination)
    rows: list[dict[str, Any]] = []
    for page in b.s3.get_paginator("list_object_versions").paginate(Bucket=b.bucket):
        for entry in page.get("Versions") or []:
            rows.append(
                {
                    "Bucket": b.bucket,
                    "Key": entry["Key"],
                    "VersionId": entry["VersionId"] if b.versioned else None,
                    "IsLatest": entry["IsLatest"],
                    "IsDeleteMarker": False,
                    "Size": entry["Size"],
                    "LastModifiedDate": entry["LastModified"].isoformat(),
                    "ETag": entry["ETag"].strip('"'),
                }
            )
        for marker in page.get("DeleteMarkers") or []:
            rows.append(
                {
                    "Bucket": b.bucket,
                    "Key": marker["Key"],
                    "VersionId": marker["VersionId"],
                    "IsLatest": marker["IsLatest"],
                    "IsDeleteMarker": True,
                    "Size": None,
                    "LastModifiedDate": marker["LastModified"].isoformat(),
                    "ETag": None,
                }
            )
    base = f"inventory/{b.bucket}/all"
    entries = []
    for n in range(files):
        part = rows[n::files]
        if file_format == "CSV":
            text = io.StringIO()
            writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
            for row in part:
                values = {**row, "Key": quote_plus(row["Key"], safe="/")}
                writer.writerow(
                    [
                        ""
                        if values[c] is None
                        else str(values[c]).lower()
                        if isinstance(values[c], bool)
                        else values[c]
                        for c in SCHEMA
                    ]
                )
            body = gzip.compress(text.getvalue().encode())
            key = f"{base}/data/{uuid.uuid4()}.csv.gz"
        else:
            sink = io.BytesIO()
            table = pa.table(
                {
                    "bucket": pa.array([r["Bucket"] for r in part], pa.string()),
                    "key": pa.array([r["Key"] for r in part], pa.string()),
                    "version_id": pa.array([r["VersionId"] for r in part], pa.string()),
                    "is_latest": pa.array([r["IsLatest"] for r in part], pa.bool_()),
                    "is_delete_marker": pa.array([r["IsDeleteMarker"] for r in part], pa.bool_()),
                    "size": pa.array([r["Size"] for r in part], pa.int64()),
                    "last_modified_date": pa.array(
                        [r["LastModifiedDate"] for r in part], pa.string()
                    ),
                    "e_tag": pa.array([r["ETag"] for r in part], pa.string()),
                }
            )
            pq.write_table(table, sink)
            body = sink.getvalue()
            key = f"{base}/data/{uuid.uuid4()}.parquet"
        b.s3.put_object(Bucket=destination, Key=key, Body=body)
        entries.append({"key": key, "size": len(body), "MD5checksum": "0" * 32})
    manifest = {
        "sourceBucket": b.bucket,
        "destinationBucket": f"arn:aws:s3:::{destination}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(time.time() * 1000)),
        "fileFormat": file_format,
        "fileSchema": ", ".join(SCHEMA),
        "files": entries,
    }
    if file_format == "Parquet":
        manifest["fileSchema"] = (
            "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); "
            "optional binary version_id (UTF8); optional boolean is_latest; optional boolean "
            "is_delete_marker; optional int64 size; optional binary last_modified_date (UTF8); "
            "optional binary e_tag (UTF8); }"
        )
    manifest_key = f"{base}/2026-11-28T00-00Z/manifest.json"
    b.s3.put_object(Bucket=destination, Key=manifest_key, Body=json.dumps(manifest).encode())
    return f"s3://{destination}/{manifest_key}"


@pytest.mark.slow
@pytest.mark.parametrize("file_format", ["CSV", "Parquet"])
def test_backfill_from_an_inventory_report(rig: Rig, file_format: str) -> None:
    """A real inventory report (all versions and delete markers, three data files) brings the
    current versions in once; a second run writes nothing; ``--prefix`` limits the keys."""
    records = populate(rig, KEYS)
    for key in KEYS[::4]:
        rig.deliver(*records[key])
    had_item = set(ledger_items(rig))
    existing = bucket_state(rig)
    time.sleep(1.1)
    uri = write_inventory(rig, file_format)

    alpha = run(rig, inventory=uri, prefix="alpha/")
    alpha_keys = {k for k in existing if k.startswith("alpha/")}
    assert alpha.objects_seen == len(alpha_keys)
    assert alpha.objects_written == len(alpha_keys - had_item)

    report = run(rig, inventory=uri)
    assert report.units == 3
    assert report.objects_seen == len(existing)
    assert report.objects_written == len(set(existing) - had_item - alpha_keys)
    assert_ledger_is_bucket(rig)

    before = rig.snapshot()
    assert run(rig, inventory=uri).objects_written == 0
    assert rig.snapshot() == before


def test_an_inventory_of_another_bucket_is_refused(rig: Rig, plain_rig: Rig) -> None:
    uri = write_inventory(plain_rig, "CSV", files=1)
    with pytest.raises(BackfillError, match="inventory of"):
        run(rig, inventory=uri)


# ---------------------------------------------------------------------------------- resume


@pytest.mark.slow
def test_an_interrupted_backfill_resumes_from_its_checkpoint(
    plain_rig: Rig, tmp_path: Path
) -> None:
    """Stopped after 2 of 7 units, the checkpoint names them; the next run skips them and
    finishes; a hand-written checkpoint (a unit done, another done up to a key) is honoured
    to the key; the file is removed when a run completes."""
    b = plain_rig
    keys = [f"p{p}/{i:03d}" for p in range(6) for i in range(12)] + ["top-1", "top-2"]
    for key in keys:
        b.put(key, key.encode())
    checkpoint = tmp_path / "fill.json"

    first = run(b, workers=1, checkpoint=checkpoint, stop_after_units=2)
    assert first.interrupted
    saved = json.loads(checkpoint.read_text())
    assert len(saved["done"]) == 2
    written_first = set(ledger_items(b))
    assert len(written_first) == first.objects_written > 0

    second = run(b, workers=2, checkpoint=checkpoint)
    assert not second.interrupted
    assert second.units_skipped == 2
    assert second.objects_written == len(keys) - len(written_first)
    assert second.already_in_ledger == 0
    assert not checkpoint.exists()
    assert_ledger_is_bucket(b)

    # Another bucket, resumed from a hand-written checkpoint that says p1/ is done and p2/ is
    # done up to p2/005. (Deleting ledger items instead would not do: the audit log still
    # records those backfill events, and an event is applied once.)
    b = dataclasses.replace(b, bucket=f"{b.bucket}-2")
    b.s3.create_bucket(Bucket=b.bucket)
    for key in keys:
        b.put(key, key.encode())
    checkpoint.write_text(
        json.dumps(
            {
                "run": {"bucket": b.bucket, "prefix": "", "source": "listing"},
                "done": ["p1/"],
                "last_key": {"p2/": "p2/005"},
            }
        )
    )
    third = run(b, workers=3, checkpoint=checkpoint)
    items = set(ledger_items(b))
    assert not {k for k in keys if k.startswith("p1/")} & items
    assert {k for k in keys if k.startswith("p2/")} & items == {f"p2/{i:03d}" for i in range(6, 12)}
    assert third.objects_written == len(keys) - 12 - 6
    assert not checkpoint.exists()


def test_a_checkpoint_of_another_run_is_refused(plain_rig: Rig, tmp_path: Path) -> None:
    checkpoint = tmp_path / "other.json"
    checkpoint.write_text(json.dumps({"run": {"bucket": "other"}, "done": [], "last_key": {}}))
    with pytest.raises(BackfillError, match="another run"):
        run(plain_rig, checkpoint=checkpoint)


# ------------------------------------------------------------------------------------- CLI


@pytest.mark.slow
def test_the_command_prints_its_report_as_json(
    plain_rig: Rig, dynamodb_endpoint: str, aws_endpoint: str, tmp_path: Path
) -> None:
    b = plain_rig
    for i in range(30):
        b.put(f"c{i % 3}/{i:02d}", b"x" * i)
    env = {
        **table_env(dynamodb_endpoint, TableNames(b.tables.ledger, b.tables.audit, "unused")),
        "AWS_ENDPOINT_URL_S3": aws_endpoint,
    }
    checkpoint = tmp_path / "cli.json"
    args = ("backfill", "--bucket", b.bucket, "--workers", "2", "--checkpoint", checkpoint)
    result = run_cli(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["objects_seen"], report["objects_written"], report["failed"]) == (30, 30, 0)
    assert report["objects_per_second"] > 0
    again = json.loads(run_cli(*args, "--json", env=env).stdout)
    assert (again["objects_written"], again["already_in_ledger"]) == (0, 30)
    table = run_cli(*args, env=env)
    assert table.returncode == 0, table.stderr
    assert "objects written" in table.stdout
    assert "already in ledger" in table.stdout

"""Reconcile against the workbench: moto's S3 (real listings, versions, delete markers) and
DynamoDB Local (real transactions and conditions), with the pipeline provisioned from
template.yaml.

Events are delivered through the real handler path (``Handler.handle_s3`` with the inbox
writer), built from what S3 really answered (ETag, size, VersionId) and given real-looking,
increasing sequencers and the time the request finished; "dropping" an event means never
delivering it, as AWS does when an event is lost for good.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import pytest

from s3ledger.core.ledger import from_item
from s3ledger.operate.reconcile import (
    CREATED_EVENT,
    REMOVED_EVENT,
    ReconcileReport,
    reconcile,
)
from s3ledger.operate.scan import check_tables
from s3ledger.workbench.context import LocalContext
from s3ledger.workbench.moto_process import aws_client
from s3ledger.workbench.provision import drop_tables, provision
from s3ledger.workbench.template import load_pipeline_spec
from tests.support.pipeline import Harness, make_harness, s3_notification, s3_record
from tests.support.tables import TableNames, scan_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

_FIRST_SEQUENCER = 0x0055AED6DCD90281E5


@dataclass
class Rig:
    """One bucket and its tables, and a way to put, delete and deliver (or drop) events."""

    s3: S3Client
    dynamodb: DynamoDBClient
    bucket: str
    tables: TableNames
    harness: Harness
    versioned: bool
    _sequencers: Iterator[int] = field(default_factory=lambda: itertools.count(_FIRST_SEQUENCER))

    def _record(self, key: str, event_name: str, obj: dict[str, Any]) -> dict[str, Any]:
        record = s3_record(
            quote_plus(key, safe="/"),
            f"{next(self._sequencers):018X}",
            event_name=event_name,
            bucket=self.bucket,
            event_time=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
        record["s3"]["object"].update(obj)
        return record

    def put(self, key: str, body: bytes) -> dict[str, Any]:
        """Upload ``body``; return the notification record S3 would send for it."""
        answer = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        obj: dict[str, Any] = {"eTag": answer["ETag"].strip('"'), "size": len(body)}
        if self.versioned:
            obj["versionId"] = answer["VersionId"]
        return self._record(key, "ObjectCreated:Put", obj)

    def delete(self, key: str) -> dict[str, Any]:
        """Delete ``key`` (a delete marker when versioned); return its notification record."""
        answer = self.s3.delete_object(Bucket=self.bucket, Key=key)
        if self.versioned:
            return self._record(
                key, "ObjectRemoved:DeleteMarkerCreated", {"versionId": answer["VersionId"]}
            )
        return self._record(key, "ObjectRemoved:Delete", {})

    def deliver(self, *records: dict[str, Any]) -> dict[str, Any]:
        return self.harness.pipeline.handle_s3(s3_notification(*records), LocalContext())

    def reconcile(
        self, *, apply: bool, page_size: int = 1000, settle_seconds: float = 0
    ) -> ReconcileReport:
        """Reconcile; by default with no settle window: these tests drop events, and nothing
        they made is still in flight (the settle window has tests of its own)."""
        return reconcile(
            self.s3,
            self.dynamodb,
            bucket=self.bucket,
            ledger_table=self.tables.ledger,
            audit_table=self.tables.audit,
            apply=apply,
            page_size=page_size,
            settle_seconds=settle_seconds,
        )

    def ledger(self, key: str) -> dict[str, Any]:
        answer = self.dynamodb.get_item(
            TableName=self.tables.ledger,
            Key={"id": {"S": f"{self.bucket}/{key}"}},
            ConsistentRead=True,
        )
        return from_item(answer["Item"])

    def audit(self) -> list[dict[str, Any]]:
        return [from_item(item) for item in scan_all(self.dynamodb, self.tables.audit)]

    def snapshot(self) -> tuple[list[str], list[str]]:
        """Both tables' full contents, order-independent, to prove that nothing was written."""
        return (
            sorted(
                repr(sorted(from_item(i).items()))
                for i in scan_all(self.dynamodb, self.tables.ledger)
            ),
            sorted(repr(sorted(a.items())) for a in self.audit()),
        )

    def anomalies(self) -> int:
        report = check_tables(
            self.dynamodb, ledger_table=self.tables.ledger, audit_table=self.tables.audit
        )
        return report.anomalies_total

    def head(self, key: str) -> tuple[str, int, str | None]:
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        return head["ETag"].strip('"'), head["ContentLength"], head.get("VersionId")


@pytest.fixture
def rig(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, aws_endpoint: str
) -> Iterator[Rig]:
    """A versioned bucket and tables provisioned from template.yaml, with no notification."""
    spec = load_pipeline_spec()
    s3 = aws_client("s3", aws_endpoint)
    resources = provision(
        dynamodb_client,
        s3,
        aws_client("sqs", aws_endpoint),
        spec,
        prefix=f"r{uuid.uuid4().hex[:8]}-",
    )
    # Events are delivered by hand here (or dropped); the queue would only fill up.
    s3.put_bucket_notification_configuration(Bucket=resources.bucket, NotificationConfiguration={})
    tables = TableNames(resources.ledger_table, resources.audit_table, resources.idempotency_table)
    try:
        yield Rig(
            s3=s3,
            dynamodb=dynamodb_client,
            bucket=resources.bucket,
            tables=tables,
            harness=make_harness(dynamodb_endpoint, tables, aws_endpoint=aws_endpoint),
            versioned=spec.versioning,
        )
    finally:
        drop_tables(dynamodb_client, spec, resources.tables)


@pytest.fixture
def plain_rig(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
    fresh_tables: TableNames,
) -> Rig:
    """An unversioned bucket (created directly, as many users' buckets are) and fresh tables."""
    s3 = aws_client("s3", aws_endpoint)
    bucket = f"r{uuid.uuid4().hex[:8]}-plain"
    s3.create_bucket(Bucket=bucket)
    return Rig(
        s3=s3,
        dynamodb=dynamodb_client,
        bucket=bucket,
        tables=fresh_tables,
        harness=make_harness(dynamodb_endpoint, fresh_tables, aws_endpoint=aws_endpoint),
        versioned=False,
    )


@pytest.mark.slow
def test_dropped_events_are_reported_then_repaired_exactly_once(rig: Rig) -> None:
    """40 objects (some overwritten twice, some deleted), all events delivered except those of 2
    objects (5 %). A dry run reports exactly those 2 and writes nothing; ``apply`` repairs them
    through the inbox path, leaving tables without anomalies that match the bucket; a second
    ``apply`` finds nothing and the audit log does not grow."""
    keys = [f"batch/{i:02d}.csv" for i in range(38)] + ["in box/a b+c.txt", "résumé 100%.txt"]
    dropped = {keys[8], keys[14]}  # 14 is overwritten twice: all three of its events are lost
    delivered: list[dict[str, Any]] = []
    for index, key in enumerate(keys):
        records = [rig.put(key, f"{key} v1".encode())]
        if index % 7 == 0:
            records += [rig.put(key, f"{key} v{n}".encode() * n) for n in (2, 3)]
        if index % 10 == 3:
            records.append(rig.delete(key))
        if key not in dropped:
            delivered += records
    for record in delivered:
        assert rig.deliver(record).get("applied") == 1

    before = rig.snapshot()
    dry = rig.reconcile(apply=False, page_size=7)
    assert (dry.missing_from_ledger, dry.gone_from_bucket, dry.differing) == (2, 0, 0)
    assert dry.repaired == 0
    assert dry.objects_listed == 36  # 4 keys end with a delete marker
    assert set(dry.examples["missing_from_ledger"]) == dropped
    assert rig.snapshot() == before  # a dry run writes nothing

    applied = rig.reconcile(apply=True, page_size=7)
    assert (applied.missing_from_ledger, applied.repaired, applied.superseded) == (2, 2, 0)
    assert applied.failed == 0
    assert rig.anomalies() == 0
    for key in dropped:
        item = rig.ledger(key)
        etag, size, version_id = rig.head(key)
        assert (item["status"], item["etag"], item["size"]) == ("processed", etag, size)
        assert item["version_id"] == version_id
        assert item["event_name"] == CREATED_EVENT
        assert "~reconcile~" in item["time_mark"]
        assert "sequencer" not in item  # no real event of it ever arrived
    repairs = [a for a in rig.audit() if a["event_name"] == CREATED_EVENT]
    assert sorted(a["object_id"] for a in repairs) == sorted(f"{rig.bucket}/{k}" for k in dropped)
    assert all(a["outcome"] == "applied" for a in repairs)

    audit_count = len(rig.audit())
    again = rig.reconcile(apply=True)
    assert (again.discrepancies, again.repaired, again.superseded) == (0, 0, 0)
    assert len(rig.audit()) == audit_count
    assert again.to_json()["discrepancies"] == 0


def test_an_object_deleted_without_its_event_is_repaired_as_deleted_once(rig: Rig) -> None:
    """The ledger says processed but the bucket's latest is a delete marker (pass 1), or every
    version is gone so no listing shows the key (pass 2): each is counted once in a dry run and
    repaired as deleted once; a second run adds nothing to the audit log."""
    rig.deliver(rig.put("gone.txt", b"soon gone"), rig.put("purged.txt", b"gone too"))
    rig.deliver(rig.put("kept.txt", b"stays"))
    rig.delete("gone.txt")  # dropped: ObjectRemoved:DeleteMarkerCreated
    for version in rig.s3.list_object_versions(Bucket=rig.bucket, Prefix="purged.txt")["Versions"]:
        rig.s3.delete_object(Bucket=rig.bucket, Key="purged.txt", VersionId=version["VersionId"])

    dry = rig.reconcile(apply=False)
    assert (dry.missing_from_ledger, dry.gone_from_bucket, dry.differing) == (0, 2, 0)
    assert set(dry.examples["gone_from_bucket"]) == {"gone.txt", "purged.txt"}

    applied = rig.reconcile(apply=True)
    assert (applied.gone_from_bucket, applied.repaired) == (2, 2)
    for key in ("gone.txt", "purged.txt"):
        item = rig.ledger(key)
        assert item["status"] == "deleted"
        assert item["event_name"] == REMOVED_EVENT
        assert not {"etag", "size", "version_id"} & item.keys()
    assert rig.ledger("kept.txt")["status"] == "processed"
    removals = [a for a in rig.audit() if a["event_name"] == REMOVED_EVENT]
    assert len(removals) == 2
    assert rig.anomalies() == 0

    audit_count = len(rig.audit())
    again = rig.reconcile(apply=True)
    assert (again.discrepancies, again.repaired) == (0, 0)
    assert len(rig.audit()) == audit_count


def test_an_overwrite_without_its_event_updates_the_ledger_to_the_bucket(rig: Rig) -> None:
    """The ledger holds an older state (another ETag and size), or says deleted while the object
    was uploaded again: the repair sets the bucket's ETag, size and version; the ledger keeps its
    sequencer and takes the repair's time mark."""
    rig.deliver(rig.put("report.csv", b"v1"))
    old = rig.ledger("report.csv")
    rig.put("report.csv", b"version two, longer")  # dropped
    rig.deliver(rig.put("revived.txt", b"first"), rig.delete("revived.txt"))
    rig.put("revived.txt", b"back again")  # dropped

    dry = rig.reconcile(apply=False)
    assert (dry.missing_from_ledger, dry.gone_from_bucket, dry.differing) == (0, 0, 2)

    applied = rig.reconcile(apply=True)
    assert applied.repaired == 2
    for key in ("report.csv", "revived.txt"):
        etag, size, version_id = rig.head(key)
        item = rig.ledger(key)
        assert (item["status"], item["etag"], item["size"]) == ("processed", etag, size)
        assert item["version_id"] == version_id
    item = rig.ledger("report.csv")
    assert item["size"] == len(b"version two, longer")
    assert item["sequencer"] == old["sequencer"]
    assert "~reconcile~" in item["time_mark"]
    assert rig.anomalies() == 0
    assert rig.reconcile(apply=True).repaired == 0


def test_a_later_real_event_still_applies_after_a_repair(rig: Rig) -> None:
    """After a repair (of a missing object, and of an outdated one), the next real S3 event of
    each key, made after the repair's read, is applied, not taken for stale."""
    rig.put("late.txt", b"v1")  # dropped: missing from the ledger
    rig.deliver(rig.put("later.txt", b"v1"))
    rig.put("later.txt", b"v2 longer")  # dropped: the ledger is outdated
    assert rig.reconcile(apply=True).repaired == 2
    time.sleep(1.1)  # the repair's time mark has S3's whole seconds (its Date header)

    assert rig.deliver(rig.put("late.txt", b"v2 after the repair")) == {
        "ignored": 0,
        "applied": 1,
    }
    assert rig.deliver(rig.delete("later.txt")).get("applied") == 1

    late = rig.ledger("late.txt")
    assert (late["event_name"], late["size"]) == ("ObjectCreated:Put", 19)
    assert late["etag"] == rig.head("late.txt")[0]
    later = rig.ledger("later.txt")
    assert (later["status"], later["event_name"]) == (
        "deleted",
        "ObjectRemoved:DeleteMarkerCreated",
    )
    assert rig.anomalies() == 0
    assert rig.reconcile(apply=False).discrepancies == 0


def test_an_unversioned_bucket_is_reconciled_with_plain_listings(plain_rig: Rig) -> None:
    """Without versioning: missing and outdated objects come from ListObjectsV2, deleted ones from
    the ledger scan and HeadObject (no delete marker exists); no version ids are written."""
    rig = plain_rig
    rig.deliver(rig.put("a.txt", b"a"))
    rig.put("b.txt", b"b")  # dropped
    rig.deliver(rig.put("c.txt", b"c1"))
    rig.put("c.txt", b"c2 longer")  # dropped
    rig.deliver(rig.put("d.txt", b"d"))
    rig.delete("d.txt")  # dropped
    rig.deliver(rig.put("e.txt", b"e"), rig.delete("e.txt"))

    dry = rig.reconcile(apply=False, page_size=2)
    assert not dry.versioned
    assert (dry.missing_from_ledger, dry.differing, dry.gone_from_bucket) == (1, 1, 1)
    assert dry.objects_listed == 3

    applied = rig.reconcile(apply=True, page_size=2)
    assert applied.repaired == 3
    assert "version_id" not in rig.ledger("b.txt")
    assert rig.ledger("c.txt")["size"] == len(b"c2 longer")
    assert rig.ledger("d.txt")["status"] == "deleted"
    assert rig.anomalies() == 0

    audit_count = len(rig.audit())
    assert rig.reconcile(apply=True).repaired == 0
    assert len(rig.audit()) == audit_count


@pytest.mark.slow
def test_concurrent_reconciles_write_each_repair_once(rig: Rig) -> None:
    """Two reconciles racing over 120 dropped objects (more than one BatchGetItem each) compute
    the same event ids: together they repair each object once, and the audit log holds exactly
    one repair per object; the loser's copies are absorbed (duplicates, or a moved ledger)."""
    keys = [f"many/{i:03d}" for i in range(120)]
    for key in keys:
        rig.put(key, key.encode())  # every event dropped
    barrier = threading.Barrier(2)
    reports: list[ReconcileReport] = []

    def run() -> None:
        barrier.wait()
        reports.append(rig.reconcile(apply=True))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(reports) == 2
    assert sum(report.repaired for report in reports) == 120
    assert all(report.failed == 0 for report in reports)
    repairs = [a for a in rig.audit() if a["event_name"] == CREATED_EVENT]
    assert len(repairs) == 120
    assert len({a["object_id"] for a in repairs}) == 120
    assert rig.anomalies() == 0


def test_reconcile_never_undoes_newer_truth(rig: Rig) -> None:
    """PUT1 applied, PUT3's event lost, PUT2's still in the queue. Within the settle window
    reconcile leaves the object alone; PUT2 lands; once the window has passed, reconcile sets
    PUT3's state, and PUT2 delivered again changes nothing: the ledger ends at PUT3, what S3
    holds."""
    rig.deliver(rig.put("contested.csv", b"one"))
    put2 = rig.put("contested.csv", b"two, a bit longer")
    rig.put("contested.csv", b"three, the last")  # its event is lost for good

    waiting = rig.reconcile(apply=True, settle_seconds=600)
    assert (waiting.differing, waiting.settling, waiting.repaired) == (1, 1, 0)
    assert waiting.examples["settling"] == ("contested.csv",)
    assert rig.deliver(put2).get("applied") == 1

    time.sleep(1.1)  # out of the read's second (the time mark has whole seconds)
    settled = rig.reconcile(apply=True, settle_seconds=0.5)
    assert (settled.differing, settled.settling, settled.repaired) == (1, 0, 1)
    assert rig.deliver(put2) == {"ignored": 0, "duplicate": 1}

    etag, size, _ = rig.head("contested.csv")
    item = rig.ledger("contested.csv")
    assert (item["etag"], item["size"]) == (etag, size) == (item["etag"], len(b"three, the last"))
    assert rig.anomalies() == 0


def test_an_older_event_delivered_after_a_repair_is_superseded(rig: Rig) -> None:
    """PUT2's event never came before the repair (PUT3's lost too); it arrives after: its
    request is older than the repair's read, so the time mark makes it superseded."""
    rig.deliver(rig.put("late.csv", b"one"))
    put2 = rig.put("late.csv", b"two")
    rig.put("late.csv", b"three!")
    time.sleep(1.1)
    assert rig.reconcile(apply=True).repaired == 1
    assert rig.deliver(put2) == {"ignored": 0, "superseded": 1}
    assert rig.ledger("late.csv")["size"] == len(b"three!")
    outcomes = {a["event_id"]: a["outcome"] for a in rig.audit()}
    assert sorted(outcomes.values()) == ["applied", "applied", "superseded"]

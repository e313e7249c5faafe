"""Backfill and reconcile on the Step Functions engine, on the workbench: the template's own
bulk state machine run by the stand-in (over its HTTP API, with boto3's ``stepfunctions``
client), the bulk handler writing to DynamoDB Local, moto's S3 listing and inventory reports.

The same buckets go through ``--engine local`` (``backfill``/``reconcile``) for comparison: both
engines must leave the same ledger.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from s3ledger.core.ledger import from_item
from s3ledger.core.synthetic import BACKFILLED_EVENT
from s3ledger.operate.backfill import BackfillReport, backfill
from s3ledger.operate.bulk import (
    Progress,
    backfill_report,
    follow,
    reconcile_report,
    run_input,
    start_run,
)
from s3ledger.operate.reconcile import ReconcileReport
from s3ledger.workbench.dynamodb_local import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY
from s3ledger.workbench.stepfunctions import BulkStandIn, load_bulk_spec
from tests.e2e.test_backfill import (
    KEYS,
    assert_ledger_is_bucket,
    bucket_state,
    ledger_items,
    live_events_around,
    populate,
    write_inventory,
)
from tests.e2e.test_reconcile import Rig
from tests.support.tables import TableNames, scan_all


@dataclass
class Engine:
    """The stand-in for one rig's tables, and a Step Functions client on its endpoint."""

    standin: BulkStandIn
    sfn: Any

    def run(self, rig: Rig, **options: Any) -> dict[str, Any]:
        seen: list[Progress] = []
        document = run_input(bucket=rig.bucket, **options)
        arn = start_run(self.sfn, self.standin.state_machine_arn, document)
        described = follow(self.sfn, arn, seen.append, poll_seconds=0.05)
        assert described["status"] == "SUCCEEDED", described
        assert seen[-1].done == seen[-1].total  # the progress reached its end
        return described

    def backfill(self, rig: Rig, **options: Any) -> BackfillReport:
        return backfill_report(rig.s3, self.run(rig, job="backfill", **options))

    def reconcile(self, rig: Rig, **options: Any) -> ReconcileReport:
        return reconcile_report(rig.s3, self.run(rig, job="reconcile", **options))


def make_engine(rig: Rig, **overrides: str) -> Iterator[Engine]:
    spec = load_bulk_spec(
        overrides={"BulkMaxConcurrency": "4", "BulkItemsPerBatch": "7", **overrides}
    )
    standin = BulkStandIn(
        spec,
        s3=rig.s3,
        dynamodb=rig.dynamodb,
        ledger_table=rig.tables.ledger,
        audit_table=rig.tables.audit,
        results_bucket=f"results-{uuid.uuid4().hex[:8]}",
    )
    endpoint = standin.serve()
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
    )
    try:
        yield Engine(standin, sfn)
    finally:
        standin.close()


@pytest.fixture
def engine(rig: Rig) -> Iterator[Engine]:
    yield from make_engine(rig)


@pytest.fixture
def plain_engine(plain_rig: Rig) -> Iterator[Engine]:
    yield from make_engine(plain_rig)


@pytest.mark.slow
def test_a_listing_backfill_writes_what_the_local_engine_writes_and_a_second_run_nothing(
    rig: Rig, engine: Engine
) -> None:
    """A versioned bucket of 101 keys (overwrites, delete markers), a third already in the ledger
    by their live events: the Step Functions engine writes exactly the others, current versions
    with their version ids, ledger equal to the bucket; a second run writes 0 and the tables do
    not change; the local engine then finds everything in the ledger."""
    records = populate(rig, KEYS)
    for key in KEYS[::3]:
        rig.deliver(*records[key])
    had_item = set(ledger_items(rig))

    report = engine.backfill(rig)

    existing = set(bucket_state(rig))
    assert report.objects_seen == len(existing)
    assert report.already_in_ledger == len(had_item & existing)
    assert report.objects_written == len(existing - had_item)
    assert (report.superseded, report.failed) == (0, 0)
    assert report.units == -(-report.objects_seen // 7)  # batches of 7
    assert_ledger_is_bucket(rig)
    backfilled = [a for a in rig.audit() if a.get("event_name") == BACKFILLED_EVENT]
    assert len(backfilled) == report.objects_written

    before = rig.snapshot()
    again = engine.backfill(rig)
    assert (again.objects_written, again.already_in_ledger) == (0, report.objects_seen)
    assert rig.snapshot() == before
    local = backfill(
        rig.s3,
        rig.dynamodb,
        bucket=rig.bucket,
        ledger_table=rig.tables.ledger,
        audit_table=rig.tables.audit,
    )
    assert (local.objects_written, local.objects_seen) == (0, report.objects_seen)


def ledger_view(rig: Rig, tables: TableNames | None = None) -> dict[str, tuple[Any, ...]]:
    """Each ledger item's state and last event's identity (not times or request ids, which
    differ between two runs of the same backfill)."""
    table = (tables or rig.tables).ledger
    view: dict[str, tuple[Any, ...]] = {}
    for raw in scan_all(rig.dynamodb, table):
        item = from_item(raw)
        if item["bucket"] == rig.bucket:
            state = tuple(item.get(n) for n in ("status", "etag", "size", "version_id"))
            # An event id holds its time (the listing's Date, which two runs read apart); the
            # identity after it is the digest of the state written.
            identity = str(item["last_event_id"]).rsplit("~", 2)[-2:]
            view[str(item["key"])] = (*state, *identity, item.get("event_name"))
    return view


@pytest.mark.slow
@pytest.mark.parametrize("source", ["listing", "inventory"])
def test_both_engines_leave_the_same_ledger_on_the_same_bucket(
    rig: Rig, engine: Engine, fresh_tables: TableNames, source: str
) -> None:
    """One bucket, two sets of tables: the local engine backfills one, the Step Functions
    engine the other, from a listing or from a CSV inventory report; the two ledgers hold the
    same items, state for state and event id for event id."""
    populate(rig, KEYS)
    uri = write_inventory(rig, "CSV") if source == "inventory" else None
    options = {} if uri is None else {"inventory": uri}
    report = engine.backfill(rig, **options)
    local = backfill(
        rig.s3,
        rig.dynamodb,
        bucket=rig.bucket,
        ledger_table=fresh_tables.ledger,
        audit_table=fresh_tables.audit,
        **options,
    )
    assert report.source == local.source == source
    assert (report.objects_seen, report.objects_written) == (
        local.objects_seen,
        local.objects_written,
    )
    assert ledger_view(rig) == ledger_view(rig, fresh_tables)
    assert len(ledger_view(rig)) == len(bucket_state(rig))
    assert_ledger_is_bucket(rig)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["listing", "inventory"])
def test_live_events_during_a_step_functions_backfill(
    rig: Rig, engine: Engine, source: str
) -> None:
    """Live events flow before, during and after a Step Functions backfill, from a listing or
    from an inventory report written before the racing requests: every object ends once in the
    ledger as a GET returns it, older late events are superseded, newer ones apply, tables
    clean; a second run writes nothing (:func:`live_events_around`)."""
    uris: list[str] = []
    if source == "listing":
        live_events_around(rig, engine.backfill)
        return
    live_events_around(
        rig,
        lambda b: engine.backfill(b, inventory=uris[0]),
        snapshot=lambda b: uris.append(write_inventory(b, "CSV")),
    )


@pytest.mark.slow
def test_a_step_functions_reconcile_finds_what_the_local_one_finds_and_repairs_it(
    plain_rig: Rig, plain_engine: Engine
) -> None:
    """An unversioned bucket whose events were partly dropped: missing objects, an overwrite and
    deletes the ledger never heard of (no listing shows an unversioned delete: the ledger side
    finds them, scanned in 3 segments). The dry run reports what the local dry run reports; the
    applied run repairs it; a second run finds nothing."""
    rig = plain_rig
    keys = [f"r/{i:02d}" for i in range(30)]
    records = {key: rig.put(key, key.encode()) for key in keys}
    for key in keys[5:]:
        rig.deliver(records[key])  # r/00 .. r/04 never arrive
    rig.put(keys[5], b"changed")  # its event is dropped too
    for key in keys[6:9]:
        rig.s3.delete_object(Bucket=rig.bucket, Key=key)  # so are these deletes
    engine = plain_engine
    dry = engine.reconcile(rig, segments=3)
    local = rig.reconcile(apply=False)
    for report in (dry, local):
        assert (report.missing_from_ledger, report.differing) == (5, 1)
        assert report.gone_from_bucket == 3
    assert dry.to_json().keys() == local.to_json().keys()
    assert sorted(dry.examples["gone_from_bucket"]) == keys[6:9]
    applied = engine.reconcile(rig, segments=3, apply=True)
    assert (applied.repaired, applied.failed) == (9, 0)
    assert rig.anomalies() == 0
    again = engine.reconcile(rig, segments=3, apply=True)
    assert again.discrepancies == 0
    assert again.ledger_items_checked == len(keys) - 3


@pytest.mark.slow
def test_the_inventory_rules_run_reconciles_from_the_report_alone(rig: Rig, engine: Engine) -> None:
    """What ``ReconcileOnInventoryRule`` starts: a reconcile that names only the report's
    manifest. The bucket comes from the manifest; objects the ledger lacks are repaired from the
    report's rows (each confirmed by a fresh read), and the ledger side finds nothing gone."""
    records = populate(rig, KEYS)
    dropped = set(KEYS[:10])
    for key in KEYS[10:]:
        rig.deliver(*records[key])
    uri = write_inventory(rig, "CSV")
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    document = {
        "job": "reconcile",
        "manifest": {"Bucket": bucket, "Key": key},
        "apply": True,
        "settle_seconds": 0,
    }
    arn = start_run(engine.sfn, engine.standin.state_machine_arn, document)
    described = follow(engine.sfn, arn, lambda _: None, poll_seconds=0.05)
    assert described["status"] == "SUCCEEDED", described
    report = reconcile_report(rig.s3, described)
    missing = dropped & set(bucket_state(rig))
    assert report.bucket == rig.bucket
    assert (report.missing_from_ledger, report.repaired) == (len(missing), len(missing))
    assert report.gone_from_bucket == 0
    assert_ledger_is_bucket(rig)

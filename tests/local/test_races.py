"""Writes the clocks cannot order: backfill, reconcile and lifecycle events racing live events.

Every test makes real requests on a versioned bucket of the workbench's S3 (moto), delivers the
records S3 documents for them through the handler (DynamoDB Local), and checks the ledger against
the bucket's own state (HeadObject: what a GET without a version id returns), never against this
file's idea of the order. Times are whole seconds, as EventBridge's ``time`` and S3's ``Date``
header have them: either S3's ``Date`` of each request's answer ("server"), or one second for
every request ("one-second"), so the clocks cannot tell the events apart.

Each race here left the ledger wrong before the order rule asked S3 (issue 17): the backfill's or
repair's time mark (``…T10:33:07.000Z~…``) sorted after every event of its own second, and an
unsequenced lifecycle event counted as later than every sequenced event of its second.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import pytest

from s3ledger.core import ledger
from s3ledger.core.config import Mode
from s3ledger.core.consistency import check_consistency
from s3ledger.core.events import parse_s3_record
from s3ledger.core.ledger import ObjectState
from s3ledger.operate.backfill import backfill
from s3ledger.operate.rebuild import rebuild_ledger
from s3ledger.operate.reconcile import reconcile
from s3ledger.workbench.context import LocalContext
from tests.support.pipeline import Harness, make_harness, sqs_event, sqs_message
from tests.support.tables import TableNames, scan_all
from tests.support.versioned import VersionedKey

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

MODES: Final[tuple[Mode, ...]] = ("inbox", "lean", "inbox-batch")
# Every mode under `make test`; the quick loop (`-m "not slow"`) runs each case for inbox only.
EVERY_MODE: Final = [
    "inbox",
    *(pytest.param(mode, marks=pytest.mark.slow) for mode in MODES if mode != "inbox"),
]
KEY: Final = "races/q3 report+final.csv"
# A scenario that needs two requests in one second of S3's clock is tried on a new key this many
# times (each attempt takes milliseconds; a second boundary between them is rare).
ATTEMPTS: Final = 6


def deliver(harness: Harness, *records: dict[str, Any]) -> None:
    """One SQS batch, one message per record; every message must succeed."""
    messages = [sqs_message(json.dumps({"Records": [r]})) for r in records]
    response = harness.pipeline.handle_sqs(sqs_event(*messages), LocalContext())
    assert response == {"batchItemFailures": []}


def ledger_item(client: DynamoDBClient, tables: TableNames, bucket: str, key: str) -> Any:
    answer = client.get_item(
        TableName=tables.ledger, Key={"id": {"S": f"{bucket}/{key}"}}, ConsistentRead=True
    )
    return ledger.from_item(answer["Item"]) if "Item" in answer else None


def assert_ledger_shows_the_bucket(
    client: DynamoDBClient, tables: TableNames, k: VersionedKey
) -> None:
    item = ledger_item(client, tables, k.bucket, k.key)
    truth = k.state()
    shown = ObjectState.of_ledger(item)
    assert shown == truth, f"ledger {shown}, GET {truth}"
    audit = [ledger.from_item(i) for i in scan_all(client, tables.audit)]
    ledgers = [ledger.from_item(i) for i in scan_all(client, tables.ledger)]
    assert check_consistency(audit, ledgers).anomalies_total == 0


def run_backfill(s3: S3Client, client: DynamoDBClient, tables: TableNames, k: VersionedKey) -> str:
    """The real backfill of one key; the second of S3's clock it read the key at."""
    report = backfill(
        s3,
        client,
        bucket=k.bucket,
        ledger_table=tables.ledger,
        audit_table=tables.audit,
        prefix=k.key,
        workers=1,
    )
    assert report.objects_written == 1
    return _mark_second(client, tables, k)


def run_reconcile(s3: S3Client, client: DynamoDBClient, tables: TableNames, k: VersionedKey) -> int:
    """The real ``reconcile --apply`` of one key, no settle window: the repairs it wrote."""
    report = reconcile(
        s3,
        client,
        bucket=k.bucket,
        ledger_table=tables.ledger,
        audit_table=tables.audit,
        apply=True,
        prefix=k.key,
        settle_seconds=0,
    )
    return report.repaired


def _mark_second(client: DynamoDBClient, tables: TableNames, k: VersionedKey) -> str:
    """The whole second of the time mark the last repair of ``k`` left on the ledger."""
    item = ledger_item(client, tables, k.bucket, k.key)
    return str(item["time_mark"])[:19] + "Z"


def in_one_second(scenario: Callable[[int], tuple[VersionedKey, str]]) -> VersionedKey:
    """Run ``scenario(attempt)`` on new keys until its last request fell in the second it
    returns (a backfill's or a repair's read: S3's ``Date``), at most :data:`ATTEMPTS` times."""
    for attempt in range(ATTEMPTS):
        k, read_at = scenario(attempt)
        if str(k.records[-1]["eventTime"]) == read_at:
            return k
    pytest.fail(f"no request fell in the second of its read in {ATTEMPTS} attempts")


@pytest.mark.parametrize("then", ["put", "delete"])
@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_request_in_the_second_of_a_backfill_read_is_applied(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
    fresh_tables: TableNames,
    s3: S3Client,
    bucket: str,
    mode: Mode,
    then: str,
) -> None:
    """An object from before attach is backfilled; in the same second a client overwrites (or
    deletes) it; that event lands after the backfill's write. The ledger shows what GET returns:
    the new version (or deleted), not the backfilled one."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode, aws_endpoint=aws_endpoint)

    def backfill_then_request(attempt: int) -> tuple[VersionedKey, str]:
        k = VersionedKey(s3, bucket, f"{KEY} {attempt}", clock="server")
        k.put(b"from before attach")  # its event predates the pipeline: never delivered
        read_at = run_backfill(s3, dynamodb_client, fresh_tables, k)
        if then == "put":
            k.put(b"the client's overwrite")
        else:
            k.delete()
        return k, read_at

    k = in_one_second(backfill_then_request)
    deliver(harness, k.records[-1])
    assert_ledger_shows_the_bucket(dynamodb_client, fresh_tables, k)


@pytest.mark.parametrize("order", ["older_first", "newer_first"])
@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_request_in_the_second_of_a_repair_is_applied(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
    fresh_tables: TableNames,
    s3: S3Client,
    bucket: str,
    mode: Mode,
    order: str,
) -> None:
    """v1 is applied; v2's event is still in the queue when ``reconcile --apply`` repairs the
    ledger to v2; in the repair's second a client uploads v3. v2's and v3's events land after
    the repair, in either order: the ledger ends at v3."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode, aws_endpoint=aws_endpoint)

    def repair_then_upload(attempt: int) -> tuple[VersionedKey, str]:
        k = VersionedKey(s3, bucket, f"{KEY} {attempt}", clock="server")
        k.put(b"one")
        deliver(harness, k.records[0])
        k.put(b"two, still in the queue")
        assert run_reconcile(s3, dynamodb_client, fresh_tables, k) == 1
        repaired_at = _mark_second(dynamodb_client, fresh_tables, k)
        k.put(b"three, in the repair's second")
        return k, repaired_at

    k = in_one_second(repair_then_upload)
    late = k.records[1:]
    for record in late if order == "older_first" else reversed(late):
        deliver(harness, record)
    assert_ledger_shows_the_bucket(dynamodb_client, fresh_tables, k)


def marker_then_upload(k: VersionedKey) -> None:
    k.put(b"one")
    k.expire_current()  # S3 Lifecycle: a delete marker, no sequencer
    k.put(b"two")


def upload_then_marker(k: VersionedKey) -> None:
    k.put(b"one")
    k.put(b"two")
    k.expire_current()


def noncurrent_expiry_then_upload(k: VersionedKey) -> None:
    first = k.put(b"one")
    k.put(b"two")
    k.expire_version(first)  # audited unchanged: it must move no order mark
    k.put(b"three")


ONE_SECOND_HISTORIES: Final[dict[str, Callable[[VersionedKey], None]]] = {
    f.__name__: f for f in (marker_then_upload, upload_then_marker, noncurrent_expiry_then_upload)
}


@pytest.mark.parametrize("history", list(ONE_SECOND_HISTORIES))
@pytest.mark.parametrize("mode", EVERY_MODE)
def test_lifecycle_events_and_uploads_of_one_second_in_every_order(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
    fresh_tables: TableNames,
    s3: S3Client,
    bucket: str,
    mode: Mode,
    history: str,
) -> None:
    """Lifecycle expiries (no sequencer) and uploads in one second, delivered in every order,
    one key per order: each key's ledger ends at what a GET returns."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode, aws_endpoint=aws_endpoint)
    count = len(_dry_run(history))
    for number, order in enumerate(itertools.permutations(range(count))):
        k = VersionedKey(s3, bucket, f"{KEY} {number}", clock="one-second")
        ONE_SECOND_HISTORIES[history](k)
        for position in order:
            deliver(harness, k.records[position])
        assert_ledger_shows_the_bucket(dynamodb_client, fresh_tables, k)


def _dry_run(history: str) -> list[str]:
    """The event names a history makes (counted on a stand-in that records calls only)."""
    names: list[str] = []

    class Recorder:
        def put(self, body: bytes) -> str:
            names.append("put")
            return "v"

        def expire_current(self) -> str:
            names.append("expire")
            return "m"

        def expire_version(self, version_id: str) -> None:
            names.append("expire")

    ONE_SECOND_HISTORIES[history](Recorder())  # type: ignore[arg-type]  # duck-typed recorder
    return names


def test_an_unchanged_event_moves_only_its_mark_and_an_upload_of_its_second_applies(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
    fresh_tables: TableNames,
    s3: S3Client,
    bucket: str,
) -> None:
    """A noncurrent version expires (audited ``unchanged``) and its event lands before the next
    upload, made in the same second: the ledger keeps v2's state and last event, only its
    ``time_mark`` moves to the expiry, and v3 (which that mark cannot order) still applies."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, "inbox", aws_endpoint=aws_endpoint)
    k = VersionedKey(s3, bucket, KEY, clock="one-second")
    first = k.put(b"one")
    k.put(b"two")
    k.expire_version(first)
    put1, put2, expiry = k.records
    for record in (put1, put2):
        deliver(harness, record)
    before = ledger_item(dynamodb_client, fresh_tables, bucket, KEY)
    deliver(harness, expiry)
    after = ledger_item(dynamodb_client, fresh_tables, bucket, KEY)
    expired = parse_s3_record(expiry)
    assert expired is not None
    assert after == {**before, "time_mark": expired.order.time_key}
    outcomes = {
        a["event_name"]: a["outcome"]
        for a in (ledger.from_item(i) for i in scan_all(dynamodb_client, fresh_tables.audit))
    }
    assert outcomes["LifecycleExpiration:Delete"] == ledger.UNCHANGED
    k.put(b"three")
    deliver(harness, k.records[-1])
    assert_ledger_shows_the_bucket(dynamodb_client, fresh_tables, k)


def test_a_lifecycle_marker_settled_unchanged_still_orders_a_late_upload(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
    fresh_tables: TableNames,
    s3: S3Client,
    bucket: str,
) -> None:
    """Found by chaos (seed 2026): a delete marker, an upload, then S3 Lifecycle's delete marker,
    all in one second. The lifecycle marker lands first, on a ledger that says deleted already
    (``unchanged``); the upload lands last. Had the unchanged marker left no mark, the upload
    would look newer and bring back a version that a GET does not return."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, "inbox", aws_endpoint=aws_endpoint)
    k = VersionedKey(s3, bucket, KEY, clock="one-second")
    k.put(b"one")
    k.delete()
    k.put(b"two")
    k.expire_current()
    put1, marker, put2, lifecycle = k.records
    for record in (put1, marker, lifecycle, put2):
        deliver(harness, record)
    assert_ledger_shows_the_bucket(dynamodb_client, fresh_tables, k)


class RandomRace:
    """One key's seeded history: requests, repairs and deliveries interleaved, then the rest
    delivered in a shuffled order with duplicates. The stack of versions is kept only to choose
    requests S3 accepts; what is true afterwards is read from S3."""

    def __init__(
        self, rng: random.Random, k: VersionedKey, harness: Harness, repair: Callable[[], None]
    ) -> None:
        self.rng, self.k, self.harness, self.repair = rng, k, harness, repair
        self.stack: list[tuple[str, bool]] = []  # (version id, is a delete marker), oldest first
        self.pending: list[dict[str, Any]] = []

    def request(self) -> None:
        current = self.stack[-1] if self.stack else None
        noncurrent = [v for v, marker in self.stack[:-1] if not marker]
        choices = ["put", "put"]
        if current is not None:
            choices += ["remove_current", "expire_current" if not current[1] else "put"]
            choices += [] if current[1] else ["delete"]
        if noncurrent:
            choices += ["remove_noncurrent", "expire_noncurrent"]
        self._perform(self.rng.choice(choices), noncurrent)
        self.pending.append(self.k.records[-1])

    def _perform(self, kind: str, noncurrent: list[str]) -> None:
        k = self.k
        if kind == "put":
            self.stack.append((k.put(f"{self.rng.random()}".encode()), False))
        elif kind == "delete":
            self.stack.append((k.delete(), True))
        elif kind == "expire_current":
            self.stack.append((k.expire_current(), True))
        elif kind == "remove_current":
            k.delete_version(self.stack.pop()[0])
        else:
            version = self.rng.choice(noncurrent)
            self.stack.remove((version, False))
            (k.expire_version if kind == "expire_noncurrent" else k.delete_version)(version)

    def deliver_some(self) -> None:
        self.rng.shuffle(self.pending)
        count = self.rng.randint(0, len(self.pending))
        batch, self.pending = self.pending[:count], self.pending[count:]
        if batch:
            deliver(self.harness, *batch)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            roll = self.rng.random()
            if roll < 0.55 or not self.stack:
                self.request()
            elif roll < 0.8:
                self.deliver_some()
            else:
                self.repair()
        rest = self.pending + self.rng.sample(self.pending, len(self.pending) // 2)
        self.rng.shuffle(rest)
        for start in range(0, len(rest), 3):
            deliver(self.harness, *rest[start : start + 3])


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_random_races_end_at_what_a_get_returns(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
    fresh_tables: TableNames,
    s3: S3Client,
    bucket: str,
    mode: Mode,
) -> None:
    """Seeded histories of one key, each within a second or two of S3's clock: uploads, delete
    markers, removals of versions, lifecycle expiries, with backfills and ``reconcile --apply``
    runs between the requests and events delivered late, shuffled and twice. Every key's ledger
    ends at what a GET returns, every event is audited once, and ``check`` finds nothing."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, mode, aws_endpoint=aws_endpoint)
    for seed in range(16):
        rng = random.Random(f"{mode} {seed}")
        k = VersionedKey(s3, bucket, f"{KEY} {seed}", clock="server")

        def repair(k: VersionedKey = k, rng: random.Random = rng) -> None:
            if rng.random() < 0.5:
                backfill(
                    s3,
                    dynamodb_client,
                    bucket=bucket,
                    ledger_table=fresh_tables.ledger,
                    audit_table=fresh_tables.audit,
                    prefix=k.key,
                    workers=1,
                )
            else:
                run_reconcile(s3, dynamodb_client, fresh_tables, k)

        RandomRace(rng, k, harness, repair).run(steps=rng.randint(4, 9))
        assert_ledger_shows_the_bucket(dynamodb_client, fresh_tables, k)
        audited = {
            a["event_id"]
            for a in (ledger.from_item(i) for i in scan_all(dynamodb_client, fresh_tables.audit))
        }
        for record in k.records:
            event = parse_s3_record(record)
            assert event is not None
            assert event.event_id in audited


def test_rebuild_leaves_what_the_clocks_cannot_order_to_reconcile(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    aws_endpoint: str,
    fresh_tables: TableNames,
    s3: S3Client,
    bucket: str,
) -> None:
    """``lean``: a backfill, then an upload of the backfill's second (settled by S3). The
    ledger is lost; ``rebuild-ledger`` replays the audit log, which alone cannot order the two,
    so it counts the object as unordered (for reconcile) instead of guessing."""
    harness = make_harness(dynamodb_endpoint, fresh_tables, "lean", aws_endpoint=aws_endpoint)

    def backfill_then_upload(attempt: int) -> tuple[VersionedKey, str]:
        k = VersionedKey(s3, bucket, f"{KEY} {attempt}", clock="server")
        k.put(b"from before attach")
        read_at = run_backfill(s3, dynamodb_client, fresh_tables, k)
        k.put(b"the client's overwrite")
        return k, read_at

    k = in_one_second(backfill_then_upload)
    deliver(harness, k.records[-1])
    dynamodb_client.delete_item(
        TableName=fresh_tables.ledger, Key={"id": {"S": f"{bucket}/{k.key}"}}
    )
    report = rebuild_ledger(
        dynamodb_client, ledger_table=fresh_tables.ledger, audit_table=fresh_tables.audit
    )
    assert report.objects_unordered == 1
    assert report.ledger_items_written == 1

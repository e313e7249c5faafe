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

import functools
import itertools
import random
from collections.abc import Callable
from typing import Any, Final

import pytest

from s3ledger.core import ledger
from s3ledger.core.config import Mode
from s3ledger.core.events import parse_s3_record
from s3ledger.operate.backfill import backfill
from s3ledger.operate.rebuild import rebuild_ledger
from s3ledger.operate.reconcile import reconcile
from tests.support.rig import VersionedRig
from tests.support.versioned import VersionedKey

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


def backfill_key(rig: VersionedRig, k: VersionedKey) -> int:
    """The real backfill of one key: the objects it wrote."""
    report = backfill(
        rig.s3,
        rig.dynamodb,
        bucket=k.bucket,
        ledger_table=rig.tables.ledger,
        audit_table=rig.tables.audit,
        prefix=k.key,
        workers=1,
    )
    return report.objects_written


def run_backfill(rig: VersionedRig, k: VersionedKey) -> str:
    """The real backfill of one key, which writes it; the second of S3's clock it read it at."""
    assert backfill_key(rig, k) == 1
    return mark_second(rig, k)


def run_reconcile(rig: VersionedRig, k: VersionedKey) -> int:
    """The real ``reconcile --apply`` of one key, no settle window: the repairs it wrote."""
    report = reconcile(
        rig.s3,
        rig.dynamodb,
        bucket=k.bucket,
        ledger_table=rig.tables.ledger,
        audit_table=rig.tables.audit,
        apply=True,
        prefix=k.key,
        settle_seconds=0,
    )
    return report.repaired


def mark_second(rig: VersionedRig, k: VersionedKey) -> str:
    """The whole second of the time mark the last repair of ``k`` left on the ledger."""
    item = rig.ledger_item(k.key)
    assert item is not None
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
    rig: VersionedRig,
    mode: Mode,
    then: str,
) -> None:
    """An object from before attach is backfilled; in the same second a client overwrites (or
    deletes) it; that event lands after the backfill's write. The ledger shows what GET returns:
    the new version (or deleted), not the backfilled one."""
    harness = rig.harness(mode)

    def backfill_then_request(attempt: int) -> tuple[VersionedKey, str]:
        k = rig.key(f"{KEY} {attempt}", clock="server")
        k.put(b"from before attach")  # its event predates the pipeline: never delivered
        read_at = run_backfill(rig, k)
        if then == "put":
            k.put(b"the client's overwrite")
        else:
            k.delete()
        return k, read_at

    k = in_one_second(backfill_then_request)
    rig.deliver(harness, k.records[-1])
    rig.assert_ledger_shows_the_bucket(k)


@pytest.mark.parametrize("order", ["older_first", "newer_first"])
@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_request_in_the_second_of_a_repair_is_applied(
    rig: VersionedRig,
    mode: Mode,
    order: str,
) -> None:
    """v1 is applied; v2's event is still in the queue when ``reconcile --apply`` repairs the
    ledger to v2; in the repair's second a client uploads v3. v2's and v3's events land after
    the repair, in either order: the ledger ends at v3."""
    harness = rig.harness(mode)

    def repair_then_upload(attempt: int) -> tuple[VersionedKey, str]:
        k = rig.key(f"{KEY} {attempt}", clock="server")
        k.put(b"one")
        rig.deliver(harness, k.records[0])
        k.put(b"two, still in the queue")
        assert run_reconcile(rig, k) == 1
        repaired_at = mark_second(rig, k)
        k.put(b"three, in the repair's second")
        return k, repaired_at

    k = in_one_second(repair_then_upload)
    late = k.records[1:]
    for record in late if order == "older_first" else reversed(late):
        rig.deliver(harness, record)
    rig.assert_ledger_shows_the_bucket(k)


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
    rig: VersionedRig,
    mode: Mode,
    history: str,
) -> None:
    """Lifecycle expiries (no sequencer) and uploads in one second, delivered in every order,
    one key per order: each key's ledger ends at what a GET returns."""
    harness = rig.harness(mode)
    count = len(_dry_run(history))
    for number, order in enumerate(itertools.permutations(range(count))):
        k = rig.key(f"{KEY} {number}", clock="one-second")
        ONE_SECOND_HISTORIES[history](k)
        for position in order:
            rig.deliver(harness, k.records[position])
        rig.assert_ledger_shows_the_bucket(k)


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
    rig: VersionedRig,
) -> None:
    """A noncurrent version expires (audited ``unchanged``) and its event lands before the next
    upload, made in the same second: the ledger keeps v2's state and last event, only its
    ``time_mark`` moves to the expiry, and v3 (which that mark cannot order) still applies."""
    harness = rig.harness("inbox")
    k = rig.key(KEY, clock="one-second")
    first = k.put(b"one")
    k.put(b"two")
    k.expire_version(first)
    put1, put2, expiry = k.records
    for record in (put1, put2):
        rig.deliver(harness, record)
    before = rig.ledger_item(KEY)
    assert before is not None
    rig.deliver(harness, expiry)
    after = rig.ledger_item(KEY)
    expired = parse_s3_record(expiry)
    assert expired is not None
    assert after == {**before, "time_mark": expired.order.time_key}
    outcomes = {a["event_name"]: a["outcome"] for a in rig.audit_items()}
    assert outcomes["LifecycleExpiration:Delete"] == ledger.UNCHANGED
    k.put(b"three")
    rig.deliver(harness, k.records[-1])
    rig.assert_ledger_shows_the_bucket(k)


def test_a_lifecycle_marker_settled_unchanged_still_orders_a_late_upload(
    rig: VersionedRig,
) -> None:
    """Found by chaos (seed 2026): a delete marker, an upload, then S3 Lifecycle's delete marker,
    all in one second. The lifecycle marker lands first, on a ledger that says deleted already
    (``unchanged``); the upload lands last. Had the unchanged marker left no mark, the upload
    would look newer and bring back a version that a GET does not return."""
    harness = rig.harness("inbox")
    k = rig.key(KEY, clock="one-second")
    k.put(b"one")
    k.delete()
    k.put(b"two")
    k.expire_current()
    put1, marker, put2, lifecycle = k.records
    for record in (put1, marker, lifecycle, put2):
        rig.deliver(harness, record)
    rig.assert_ledger_shows_the_bucket(k)


class RandomRace:
    """One key's seeded history: requests, repairs and deliveries interleaved, then the rest
    delivered in a shuffled order with duplicates. The stack of versions is kept only to choose
    requests S3 accepts; what is true afterwards is read from S3."""

    def __init__(
        self,
        rng: random.Random,
        k: VersionedKey,
        deliver: Callable[..., None],
        repair: Callable[[], None],
    ) -> None:
        self.rng, self.k, self.deliver, self.repair = rng, k, deliver, repair
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
            self.deliver(*batch)

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
            self.deliver(*rest[start : start + 3])


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_random_races_end_at_what_a_get_returns(
    rig: VersionedRig,
    mode: Mode,
) -> None:
    """Seeded histories of one key, each within a second or two of S3's clock: uploads, delete
    markers, removals of versions, lifecycle expiries, with backfills and ``reconcile --apply``
    runs between the requests and events delivered late, shuffled and twice. Every key's ledger
    ends at what a GET returns, every event is audited once, and ``check`` finds nothing."""
    harness = rig.harness(mode)
    for seed in range(16):
        rng = random.Random(f"{mode} {seed}")
        k = rig.key(f"{KEY} {seed}", clock="server")

        def repair(k: VersionedKey = k, rng: random.Random = rng) -> None:
            if rng.random() < 0.5:
                backfill_key(rig, k)
            else:
                run_reconcile(rig, k)

        RandomRace(rng, k, functools.partial(rig.deliver, harness), repair).run(
            steps=rng.randint(4, 9)
        )
        rig.assert_ledger_shows_the_bucket(k)
        audited = {a["event_id"] for a in rig.audit_items()}
        for record in k.records:
            event = parse_s3_record(record)
            assert event is not None
            assert event.event_id in audited


def test_rebuild_leaves_what_the_clocks_cannot_order_to_reconcile(
    rig: VersionedRig,
) -> None:
    """``lean``: a backfill, then an upload of the backfill's second (settled by S3). The
    ledger is lost; ``rebuild-ledger`` replays the audit log, which alone cannot order the two,
    so it counts the object as unordered (for reconcile) instead of guessing."""
    harness = rig.harness("lean")

    def backfill_then_upload(attempt: int) -> tuple[VersionedKey, str]:
        k = rig.key(f"{KEY} {attempt}", clock="server")
        k.put(b"from before attach")
        read_at = run_backfill(rig, k)
        k.put(b"the client's overwrite")
        return k, read_at

    k = in_one_second(backfill_then_upload)
    rig.deliver(harness, k.records[-1])
    rig.dynamodb.delete_item(
        TableName=rig.tables.ledger, Key={"id": {"S": f"{rig.bucket}/{k.key}"}}
    )
    report = rebuild_ledger(
        rig.dynamodb, ledger_table=rig.tables.ledger, audit_table=rig.tables.audit
    )
    assert report.objects_unordered == 1
    assert report.ledger_items_written == 1

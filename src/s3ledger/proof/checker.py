"""The history checker: what S3 says against the tables and their stream logs.

Where ``s3ledger check`` sees only the tables, this checker knows every event S3 emitted for the
workload's requests, which were delivered (or parked in the DLQ), and what the bucket holds in
the end: S3's truth, read back after the run (a HeadObject per key), never the writers' idea of
it. An event is matched to its audit item by S3's request id and event name, not by the
writers' event identity.

=====================  ==========================================================================
anomaly                meaning
=====================  ==========================================================================
lost                   delivered, not in the DLQ, and yet never recorded in the audit log
applied_twice          its effect was written more than once (a second audit write, or the
                       ledger moved to it twice), even with identical data
ledger_without_audit   the ledger's last event has no audit item (from the tables)
audit_without_ledger   an applied audit item whose object has no ledger item (from the tables)
half_done              (``lean``) a ``recorded`` event whose request came after the request of
                       the ledger's last event, on a ledger that does not show what a GET
                       returns, once the pipeline drained: its first write landed and the second
                       it needed never did (judged by the workload's request order and S3)
wrong_state            the ledger does not show what a GET returns (the current version's eTag,
                       size and version id, or deleted) though every event of the object was
                       delivered and none parked; after reconcile, for every object
parked_in_dlq          the event's message ended in the DLQ (poison messages are counted apart)
dropped                never delivered, and the ledger does not show the object's final state
=====================  ==========================================================================

Each anomaly is also attributed to the faults its event (or its object's events) met: the
matrix mode x fault kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from s3ledger.core.ledger import NEEDS_A_LEDGER_ITEM, RECORDED

__all__ = [
    "HISTORY_ANOMALIES",
    "BucketTruth",
    "HistoryReport",
    "Notification",
    "Truth",
    "check_history",
]

# What the history checker finds against the workload's truth (a superset of the tables' own
# `core.consistency.TABLE_ANOMALIES`, which need no truth).
HISTORY_ANOMALIES: Final = (
    "lost",
    "applied_twice",
    "ledger_without_audit",
    "audit_without_ledger",
    "half_done",
    "wrong_state",
    "parked_in_dlq",
    "dropped",
)


@dataclass(eq=False)
class Notification:
    """One event S3 emitted for one request of the workload, as S3 sent it.

    ``key`` is the request's key as the workload made it (never decoded from the record);
    ``request_id`` and ``event_name`` are the record's own fields. ``body`` is the message of the
    path it is delivered by (``path``: ``s3``, ``sns`` or ``eventbridge``, see
    :mod:`s3ledger.proof.paths`), as S3 sent it that way.
    """

    index: int
    key: str
    request_id: str
    event_name: str
    body: str
    faults: set[str] = field(default_factory=set)
    path: str = "s3"

    @property
    def match(self) -> tuple[str, str]:
        return (self.request_id, self.event_name)


@dataclass(frozen=True)
class BucketTruth:
    """What a GET without a version id returned at the end: the version, or nothing."""

    exists: bool
    etag: str | None = None
    size: int | None = None
    version_id: str | None = None

    def shown_by(self, item: Mapping[str, Any] | None) -> bool:
        """Does the ledger item (plain form) show this state?"""
        if item is None:
            return not self.exists
        if not self.exists:
            return item.get("status") == "deleted"
        version = item.get("version_id")
        return (
            item.get("status") == "processed"
            and str(item.get("etag", "")).strip('"') == self.etag
            and item.get("size") == self.size
            and (self.version_id is None or version == self.version_id)
        )


@dataclass
class Truth:
    """What the workload did: S3's events, which were delivered, which messages were parked."""

    bucket: str
    notifications: list[Notification] = field(default_factory=list)
    delivered: set[int] = field(default_factory=set)  # Notification.index
    parked: set[int] = field(default_factory=set)
    poison_parked: int = 0


@dataclass
class HistoryReport:
    anomalies: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HISTORY_ANOMALIES, 0))
    by_fault: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.anomalies.values())

    def flag(self, kind: str, faults: Iterable[str]) -> None:
        self.anomalies[kind] += 1
        for fault in set(faults) or {"none"}:
            self.by_fault.setdefault(fault, Counter())[kind] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "anomalies": dict(self.anomalies),
            "anomalies_total": self.total,
            "by_fault": {f: dict(c) for f, c in sorted(self.by_fault.items())},
        }


def _stream_counts(
    records: Iterable[Mapping[str, Any]], attribute: str, *, changes_only: bool = False
) -> Counter[str]:
    """How many times each value of ``attribute`` was written (INSERT or MODIFY); with
    ``changes_only``, only the writes that changed it (the old image held another value: a
    write that raised the ledger's ``sequencer`` alone did not move the ledger to an event)."""
    counts: Counter[str] = Counter()
    for record in records:
        if record.get("eventName") in ("INSERT", "MODIFY"):
            images = record["dynamodb"]
            value = images.get("NewImage", {}).get(attribute, {}).get("S")
            old = images.get("OldImage", {}).get(attribute, {}).get("S")
            if value is not None and not (changes_only and old == value):
                counts[value] += 1
    return counts


def check_history(
    truth: Truth,
    *,
    ledger_items: Sequence[Mapping[str, Any]],
    audit_items: Sequence[Mapping[str, Any]],
    ledger_stream: Iterable[Mapping[str, Any]],
    audit_stream: Iterable[Mapping[str, Any]],
    bucket_state: Mapping[str, BucketTruth],
    reconciled: bool = False,
) -> HistoryReport:
    """Count the anomalies of one mode's run.

    ``bucket_state`` maps each key of the workload to its state in the bucket at the end.
    ``reconciled``: reconcile has run, so every object must show the bucket's state.
    """
    check = _HistoryCheck(truth, ledger_items, audit_items, bucket_state)
    check.deliveries()
    check.applied_twice(audit_stream, ledger_stream)
    check.table_pairs()
    check.half_done()
    check.final_states(reconciled=reconciled)
    return check.report


class _HistoryCheck:
    """One run's truth and tables, indexed once; each method flags one group of anomalies."""

    def __init__(
        self,
        truth: Truth,
        ledger_items: Sequence[Mapping[str, Any]],
        audit_items: Sequence[Mapping[str, Any]],
        bucket_state: Mapping[str, BucketTruth],
    ) -> None:
        self.report = HistoryReport()
        self.truth, self.audit_items, self.bucket_state = truth, audit_items, bucket_state
        self.by_match = {n.match: n for n in truth.notifications}
        self.audit_by_id = {item["event_id"]: item for item in audit_items}
        self.recorded = {
            (str(item.get("s3_request_id")), str(item.get("event_name"))) for item in audit_items
        }
        self.ledger = {item["id"]: item for item in ledger_items}
        self.by_key: dict[str, list[Notification]] = {}
        for notification in truth.notifications:
            self.by_key.setdefault(notification.key, []).append(notification)
        self.prefix = f"{truth.bucket}/"

    def _notification_of(self, event_id: object) -> Notification | None:
        item = self.audit_by_id.get(event_id)
        if item is None:
            return None
        return self.by_match.get((str(item.get("s3_request_id")), str(item.get("event_name"))))

    def _faults_of(self, event_id: str) -> set[str]:
        if event_id not in self.audit_by_id:
            return {"unknown"}
        found = self._notification_of(event_id)
        return set(found.faults) if found is not None else {"reconcile"}

    def _object_faults(self, object_id: str) -> set[str]:
        notifications = self.by_key.get(object_id.removeprefix(self.prefix), [])
        return set().union(*(n.faults for n in notifications))

    def deliveries(self) -> None:
        """``parked_in_dlq``, and ``lost``: delivered, not parked, never audited."""
        for notification in self.truth.notifications:
            if notification.index in self.truth.parked:
                self.report.flag("parked_in_dlq", notification.faults)
            elif (
                notification.index in self.truth.delivered
                and notification.match not in self.recorded
            ):
                self.report.flag("lost", notification.faults)

    def applied_twice(
        self, audit_stream: Iterable[Mapping[str, Any]], ledger_stream: Iterable[Mapping[str, Any]]
    ) -> None:
        """An event audited twice, or the ledger moved to it twice (from the stream logs)."""
        audit_writes = _stream_counts(audit_stream, "event_id")
        ledger_moves = _stream_counts(ledger_stream, "last_event_id", changes_only=True)
        for event_id in sorted(
            {e for e, n in audit_writes.items() if n > 1}
            | {e for e, n in ledger_moves.items() if n > 1}
        ):
            self.report.flag("applied_twice", self._faults_of(event_id))

    def table_pairs(self) -> None:
        """``ledger_without_audit`` and ``audit_without_ledger``, from the tables alone."""
        for object_id, item in self.ledger.items():
            if item.get("last_event_id") not in self.audit_by_id:
                self.report.flag("ledger_without_audit", self._object_faults(object_id))
        moved = {
            a["object_id"] for a in self.audit_items if a.get("outcome") in NEEDS_A_LEDGER_ITEM
        }
        for object_id in sorted(moved - self.ledger.keys()):
            self.report.flag("audit_without_ledger", self._object_faults(object_id))

    def half_done(self) -> None:
        """A recorded event whose request came after the request of the ledger's last event,
        where the ledger is not what a GET returns.

        Judged by the workload's order (a notification's index is its request's place in the
        history, one request at a time) and the bucket's state, not by the order rule the
        writers use. (On a right ledger such an event was superseded by a later request's
        state, which S3 showed.)
        """
        for audit in self.audit_items:
            current = self.ledger.get(str(audit["object_id"]))
            if audit.get("outcome") != RECORDED or current is None:
                continue
            truth_of_key = self.bucket_state.get(str(audit["object_id"]).removeprefix(self.prefix))
            if truth_of_key is None or truth_of_key.shown_by(current):
                continue
            mine = self._notification_of(audit["event_id"])
            shown = self._notification_of(current.get("last_event_id"))
            # A ledger moved by a repair (reconcile, backfill: no request of the workload) shows
            # S3's state read after every event it counted; only a later request can be missing.
            if mine is not None and shown is not None and mine.index > shown.index:
                self.report.flag("half_done", self._faults_of(str(audit["event_id"])))

    def final_states(self, *, reconciled: bool) -> None:
        """``wrong_state`` (every event delivered, none parked; after reconcile, every object)
        and ``dropped`` (never delivered, and the ledger does not show the object's state)."""
        for key, notifications in self.by_key.items():
            faults = set().union(*(n.faults for n in notifications))
            shown = self.bucket_state[key].shown_by(self.ledger.get(self.prefix + key))
            dropped = [n for n in notifications if n.index not in self.truth.delivered]
            parked = any(n.index in self.truth.parked for n in notifications)
            if not shown and (reconciled or not (dropped or parked)):
                self.report.flag("wrong_state", faults)
            if dropped and not shown:
                for notification in dropped:
                    if notification.match not in self.recorded:
                        self.report.flag("dropped", notification.faults | {"drop"})

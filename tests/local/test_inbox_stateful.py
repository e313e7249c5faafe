"""``inbox`` as a state machine against DynamoDB Local: any interleaving of S3 and SQS misbehaviour.

The model
---------
A bucket holds two or three keys (some awkward: a space, a ``+``, non-ASCII). Each key has a
growing list of S3 events (``ModelEvent``: mostly puts, sometimes deletes, of an unversioned
bucket) in a true order the model knows by position. Their sequencers are made as S3 makes them:
16 hex digits that grow, some with two more digits appended, so a shorter sequencer is often the
newer one (``…4075`` after ``…407460``), which only S3's right-pad rule orders right. The model
never compares sequencers: it knows which event came first. An event is *pending* from the
moment S3 produces it until an
invocation that handled it returns: its message would come back. The rules are what the delivery
chain can do, one step each:

* ``new_event``: S3 produces the next one to three events of a key;
* ``deliver``: any pending event is delivered (through ``handle_sqs`` with one SQS message, or
  ``writer.write`` directly). Any pending event may be chosen, so an older event of a key can
  arrive after a newer one: reordering is part of the choice;
* ``duplicate``: an event already acknowledged is delivered again;
* ``crash``: the invocation dies right after a write of the event committed; the event stays
  pending, since its message comes back;
* ``lose_response``: the next 1 to 4 ``TransactWriteItems`` answers are lost after the write really
  ran (an ambiguous write), or 16 of them, which exhausts botocore's and the writer's retries;
* ``conflict``: the next 1 to 5 transactions are cancelled by a ``TransactionConflict`` before
  reaching DynamoDB (4 or more exhaust the writer's retries and nothing is written);
* ``retry``: a pending event that has been tried before is delivered again.

For every event the model knows whether its audit item must exist (``yes``: an invocation returned,
or crashed after the commit), must not exist (``no``: never tried, or every try definitely failed),
or may exist (``maybe``: the last try ended in an ambiguous failure).

The invariants, checked after every step from a strongly consistent scan of both tables and from
both tables' streams:

* ``check_consistency`` finds no anomaly (ledger without audit, audit without ledger, stale ledger);
* each ``yes`` event has its audit item, each ``no`` event none, and no audit item belongs to an
  event S3 never produced;
* the audit stream holds at most one write per event id, and the ledger moved to each event at most
  once (nothing is applied twice, not even with identical data);
* each key's ledger item is the state of the newest (in the model's true order) event recorded in
  the audit log (last event id, ``deleted`` iff that event is a removal, eTag of a put), and the
  newest ``yes`` event is never newer than it; a key with no recorded event has no ledger item;
* a clean delivery (no fault armed, the key's history fully known) returns what the model
  predicts: ``duplicate`` for a recorded event, else ``applied`` if it is newer than every recorded
  event of its key and ``stale`` if not.

Every example gets fresh tables (created in ``initialize``, deleted in ``teardown``) and its own
client with fault hooks. The run is derandomized and uses no example database, so CI sees the same
examples every time.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import event as tally
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from s3ledger.core import ledger
from s3ledger.core.consistency import check_consistency
from s3ledger.core.errors import RetryableError
from s3ledger.core.events import ObjectEvent, parse_s3_record
from s3ledger.pipeline.writers import Outcome
from s3ledger.workbench.context import LocalContext
from s3ledger.workbench.faults import SimulatedCrash
from tests.support.pipeline import Harness, make_harness, sqs_event, sqs_message
from tests.support.tables import (
    TableNames,
    create_tables,
    delete_tables,
    scan_all,
    stream_records,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BUCKET = "stateful-bucket"
KEYS = ("plain.csv", "q3 summary+final 100%.csv", "café/日本語.csv")
SEQUENCER_STARTS = (0x62E99A88DC4074, 0x62E99A88DC40FF, 0x1, 0x5A3C)
# Writer attempts (4) x HTTP tries per call (botocore's max_attempts=3 means 3 retries, so 4):
# this many lost answers in a row exhaust both, and the invocation fails with the outcome unknown.
EXHAUSTING = 16

Recorded = Literal["no", "maybe", "yes"]
Fault = Literal["none", "crash", "lose_response", "conflict"]

_METRIC_OUTCOMES = {
    "EventsApplied": Outcome.APPLIED,
    "DuplicatesSkipped": Outcome.DUPLICATE,
    "EventsSuperseded": Outcome.SUPERSEDED,
}


def s3_sequencer(value: int) -> str:
    """A sequencer as S3 writes them: 16 hex digits, some with two more appended.

    The value grows by at least one per event, so an appended pair never reorders two events
    under S3's right-pad rule, while it often makes the newer sequencer the shorter one.
    """
    suffix = f"{(value * 37) % 256:02X}" if value % 3 == 0 else ""
    return f"{value:016X}{suffix}"


@dataclass(frozen=True)
class ModelEvent:
    """One S3 event of the model: ``position`` is its true place among its key's events."""

    index: int
    key: str
    position: int
    removal: bool
    sequencer: str
    body: bytes

    @property
    def etag(self) -> str | None:
        return None if self.removal else hashlib.md5(self.body, usedforsecurity=False).hexdigest()

    def record(self) -> dict[str, Any]:
        """The S3 notification record, key URL-encoded as S3 sends it (unversioned bucket)."""
        obj: dict[str, Any] = {"key": quote_plus(self.key), "sequencer": self.sequencer}
        if not self.removal:
            obj.update(size=len(self.body), eTag=self.etag)
        return {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventTime": "2026-11-26T10:00:00.000Z",
            "eventName": "ObjectRemoved:Delete" if self.removal else "ObjectCreated:Put",
            "s3": {"bucket": {"name": BUCKET}, "object": obj},
        }

    def object_event(self) -> ObjectEvent:
        event = parse_s3_record(self.record())
        assert event is not None
        return event


def json_text(text: str) -> str:
    """``text`` as it appears inside botocore's JSON request body."""
    return json.dumps(text)[1:-1]


class InboxMachine(RuleBasedStateMachine):
    """S3 produces, SQS delivers late, twice or out of order, Lambda crashes, answers get lost.

    ``endpoint``, ``admin`` and ``streams`` are set by the test that runs the machine.
    """

    endpoint: ClassVar[str]
    admin: ClassVar[DynamoDBClient]
    streams: ClassVar[Any]

    def __init__(self) -> None:
        super().__init__()
        self.tables: TableNames | None = None
        self.harness: Harness | None = None
        self.keys: tuple[str, ...] = ()
        self.next_value: dict[str, int] = {}
        self.events: list[ModelEvent] = []
        self.recorded: dict[int, Recorded] = {}
        self.pending: set[int] = set()
        self.attempted: set[int] = set()
        self.acknowledged: set[int] = set()

    # -- setup and teardown ---------------------------------------------------------------------

    @initialize(
        key_count=st.integers(min_value=2, max_value=3),
        starts=st.lists(st.sampled_from(SEQUENCER_STARTS), min_size=3, max_size=3),
    )
    def create(self, key_count: int, starts: list[int]) -> None:
        self.tables = create_tables(self.admin)
        self.harness = make_harness(self.endpoint, self.tables, mode="inbox")
        self.keys = KEYS[:key_count]
        self.next_value = dict(zip(self.keys, starts, strict=False))

    def teardown(self) -> None:
        if self.tables is not None:
            delete_tables(self.admin, self.tables)

    @property
    def _harness(self) -> Harness:
        assert self.harness is not None
        return self.harness

    @property
    def _tables(self) -> TableNames:
        assert self.tables is not None
        return self.tables

    # -- rules ----------------------------------------------------------------------------------

    @rule(
        key_index=st.integers(min_value=0, max_value=2),
        removal=st.sampled_from((False, False, False, True)),
        steps=st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=3),
    )
    def new_event(self, key_index: int, removal: bool, steps: list[int]) -> None:
        """S3 produces the next events (one to three) of a key; their messages are on their way.

        Only the last may be a removal. Several at once keep more events of one key pending, which
        is what makes reorderings (and so stale events) frequent.
        """
        key = self.keys[key_index % len(self.keys)]
        for position, step in enumerate(steps):
            self.next_value[key] += step
            index = len(self.events)
            gone = removal and position == len(steps) - 1
            body = b"" if gone else f"{key} #{index}".encode()
            sequencer = s3_sequencer(self.next_value[key])
            place = sum(1 for e in self.events if e.key == key)
            self.events.append(ModelEvent(index, key, place, gone, sequencer, body))
            self.recorded[index] = "no"
            self.pending.add(index)

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), via_sqs=st.booleans())
    def deliver(self, data: st.DataObject, via_sqs: bool) -> None:
        """Any pending event, in any order: an older one after a newer one is a reordering."""
        index = data.draw(st.sampled_from(sorted(self.pending)), label="pending event")
        self._deliver(index, via_sqs=via_sqs)

    @precondition(lambda self: self.acknowledged)
    @rule(data=st.data(), via_sqs=st.booleans())
    def duplicate(self, data: st.DataObject, via_sqs: bool) -> None:
        """SQS (at least once) or S3 itself delivers an acknowledged event again."""
        index = data.draw(st.sampled_from(sorted(self.acknowledged)), label="acknowledged event")
        self._deliver(index, via_sqs=via_sqs)

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), via_sqs=st.booleans())
    def crash(self, data: st.DataObject, via_sqs: bool) -> None:
        """The invocation dies right after the event's write committed."""
        index = data.draw(st.sampled_from(sorted(self.pending)), label="pending event")
        event_id = self.events[index].object_event().event_id
        self._harness.faults.crash_after_write(json_text(event_id))
        self._deliver(index, via_sqs=via_sqs, fault="crash")

    @precondition(lambda self: self.pending)
    @rule(
        data=st.data(),
        via_sqs=st.booleans(),
        # One draw in four loses every answer: each such step sleeps through botocore's backoff.
        times=st.one_of(*[st.integers(min_value=1, max_value=4)] * 3, st.just(EXHAUSTING)),
    )
    def lose_response(self, data: st.DataObject, via_sqs: bool, times: int) -> None:
        """The transaction runs, its answer is lost (``times`` times in a row)."""
        index = data.draw(st.sampled_from(sorted(self.pending)), label="pending event")
        self._harness.faults.lose_response("TransactWriteItems", times=times)
        self._deliver(index, via_sqs=via_sqs, fault="lose_response")

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), via_sqs=st.booleans(), times=st.integers(min_value=1, max_value=5))
    def conflict(self, data: st.DataObject, via_sqs: bool, times: int) -> None:
        """Another transaction holds the items: cancelled before anything is written."""
        index = data.draw(st.sampled_from(sorted(self.pending)), label="pending event")
        self._harness.faults.fail(
            "TransactWriteItems",
            "TransactionCanceledException",
            cancellation_reasons=["None", "TransactionConflict"],
            times=times,
        )
        self._deliver(index, via_sqs=via_sqs, fault="conflict")

    @precondition(lambda self: self.pending & self.attempted)
    @rule(data=st.data(), via_sqs=st.booleans())
    def retry(self, data: st.DataObject, via_sqs: bool) -> None:
        """The message of an event that was tried before comes back."""
        tried = sorted(self.pending & self.attempted)
        index = data.draw(st.sampled_from(tried), label="retried event")
        self._deliver(index, via_sqs=via_sqs)

    # -- one invocation -------------------------------------------------------------------------

    def _deliver(self, index: int, *, via_sqs: bool, fault: Fault = "none") -> None:
        harness = self._harness
        event = self.events[index]
        expected = self._expected_outcome(event) if fault == "none" else None
        before = harness.metrics.snapshot()
        succeeded = False
        outcome: Outcome | None = None
        try:
            if via_sqs:
                body = json.dumps({"Records": [event.record()]})
                response = harness.pipeline.handle_sqs(sqs_event(sqs_message(body)), LocalContext())
                succeeded = not response["batchItemFailures"]
                outcome = self._outcome_from_metrics(before) if succeeded else None
            else:
                try:
                    outcome = harness.pipeline.writer.write(event.object_event(), LocalContext())
                    succeeded = True
                except RetryableError:
                    succeeded = False
        except SimulatedCrash:
            assert fault == "crash", "crashed without a crash armed"
            tally("crash: crashed after the commit")
            self.attempted.add(index)
            self.recorded[index] = "yes"  # the crash comes right after a committed write
            return
        finally:
            harness.faults.clear()

        self.attempted.add(index)
        tally(f"{fault}: {outcome.value if outcome else 'failed'}")
        if succeeded:
            self.recorded[index] = "yes"
            self.pending.discard(index)
            self.acknowledged.add(index)
            if expected is not None:
                assert outcome == expected, f"event {index}: {outcome} instead of {expected}"
        elif fault == "lose_response":
            if self.recorded[index] == "no":
                self.recorded[index] = "maybe"
        else:
            # A definite failure (every try cancelled before it reached DynamoDB): nothing written.
            assert fault == "conflict", f"event {index} failed without a fault injected"

    def _outcome_from_metrics(self, before: dict[str, int]) -> Outcome:
        after = self._harness.metrics.snapshot()
        changed = [
            outcome
            for name, outcome in _METRIC_OUTCOMES.items()
            if after.get(name, 0) != before.get(name, 0)
        ]
        assert len(changed) == 1, f"one SQS message, metrics moved by {after} - {before}"
        return changed[0]

    def _expected_outcome(self, event: ModelEvent) -> Outcome | None:
        """What a clean delivery must return, when the key's history is fully known."""
        same_key = [e for e in self.events if e.key == event.key]
        if any(self.recorded[e.index] == "maybe" for e in same_key):
            return None
        if self.recorded[event.index] == "yes":
            return Outcome.DUPLICATE
        newest = max((e.position for e in same_key if self.recorded[e.index] == "yes"), default=-1)
        return Outcome.APPLIED if event.position > newest else Outcome.SUPERSEDED

    # -- invariants -----------------------------------------------------------------------------

    def _read(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        tables = self._tables
        audit = [ledger.from_item(i) for i in scan_all(self.admin, tables.audit)]
        items = [ledger.from_item(i) for i in scan_all(self.admin, tables.ledger)]
        return audit, items

    @invariant()
    def tables_agree_with_the_model(self) -> None:
        if self.tables is None:
            return
        audit_items, ledger_items = self._read()

        report = check_consistency(audit_items, ledger_items)
        assert report.anomalies_total == 0, report.to_json()

        audit = {item["event_id"]: item for item in audit_items}
        ids = {e.index: e.object_event().event_id for e in self.events}
        unknown = audit.keys() - set(ids.values())
        assert not unknown, f"audit items for events S3 never produced: {unknown}"
        for index, event_id in ids.items():
            state = self.recorded[index]
            if state == "yes":
                assert event_id in audit, f"event {index} ({event_id}) was applied, no audit item"
            elif state == "no":
                assert event_id not in audit, f"event {index} ({event_id}) audited, never written"
            if event_id in audit:
                assert audit[event_id]["outcome"] in (ledger.APPLIED, ledger.SUPERSEDED)

        ledger_by_id = {item["id"]: item for item in ledger_items}
        for key in self.keys:
            self._check_key(key, audit, ledger_by_id)

        audit_stream = stream_records(self.streams, self.admin, self._tables.audit)
        ledger_stream = stream_records(self.streams, self.admin, self._tables.ledger)
        audit_writes = _writes(audit_stream, "event_id")
        twice = {event_id: n for event_id, n in audit_writes.items() if n > 1}
        assert not twice, f"audit written more than once: {twice}"
        ledger_moves = _writes(ledger_stream, "last_event_id")
        twice = {event_id: n for event_id, n in ledger_moves.items() if n > 1}
        assert not twice, f"ledger moved to one event more than once: {twice}"

    def _check_key(
        self,
        key: str,
        audit: dict[str, dict[str, Any]],
        ledger_by_id: dict[str, dict[str, Any]],
    ) -> None:
        events = [e for e in self.events if e.key == key]
        recorded = [e for e in events if e.object_event().event_id in audit]
        object_id = f"{BUCKET}/{key}"
        item = ledger_by_id.get(object_id)
        if not recorded:
            assert item is None, f"{object_id}: ledger item without any recorded event"
            return
        newest = max(recorded, key=lambda e: e.position)
        newest_event = newest.object_event()
        assert item is not None, f"{object_id}: events recorded, no ledger item"
        assert item["last_event_id"] == newest_event.event_id, (object_id, item, newest)
        assert audit[newest_event.event_id]["outcome"] == ledger.APPLIED, (object_id, newest)
        assert (item["status"] == ledger.DELETED) == newest.removal, (object_id, item, newest)
        assert item.get("etag") == newest.etag, (object_id, item, newest)
        sure = [e.position for e in events if self.recorded[e.index] == "yes"]
        assert max(sure, default=-1) <= newest.position, (object_id, sure)


def _writes(records: list[dict[str, Any]], attribute: str) -> Counter[str]:
    """How many stream records (INSERT or MODIFY) wrote each value of ``attribute``."""
    counts: Counter[str] = Counter()
    for record in records:
        if record.get("eventName") in ("INSERT", "MODIFY"):
            value = record["dynamodb"].get("NewImage", {}).get(attribute, {}).get("S")
            if value is not None:
                counts[value] += 1
    return counts


SETTINGS = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def bound_machine(
    endpoint: str, client: DynamoDBClient, streams: Any
) -> type[RuleBasedStateMachine]:
    """The machine, bound to this session's DynamoDB Local."""
    return type(
        "InboxMachineOnLocal",
        (InboxMachine,),
        {"endpoint": endpoint, "admin": client, "streams": streams},
    )


@pytest.mark.slow
def test_inbox_keeps_exactly_once_under_any_delivery_history(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, streams_client: Any
) -> None:
    machine = bound_machine(dynamodb_endpoint, dynamodb_client, streams_client)
    run_state_machine_as_test(machine, settings=SETTINGS)


@pytest.mark.slow
def test_the_machine_catches_a_writer_that_lets_late_events_overwrite(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    streams_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The test has teeth: with left-padded sequencers (the rule S3 once documented, and
    s3ledger once used) a reordering of sequencers of different lengths is caught."""
    monkeypatch.setattr("s3ledger.core.events.pad_sequencer", lambda s: s.upper().rjust(32, "0"))
    machine = bound_machine(dynamodb_endpoint, dynamodb_client, streams_client)
    quick = settings(SETTINGS, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    with pytest.raises(AssertionError):
        run_state_machine_as_test(machine, settings=quick)

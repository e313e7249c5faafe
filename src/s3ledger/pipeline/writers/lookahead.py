"""What ``inbox``, ``inbox-batch`` and ``lean`` share: a sandbox's memory of the events it knows
are done, the look-ahead after a duplicate, and the consistent read of an event's ledger and
audit items."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core.config import Settings
from s3ledger.core.errors import IdentityConflictError
from s3ledger.core.events import ObjectEvent
from s3ledger.core.ledger import ObjectState, audit_key, conflicting_facts, settled_update
from s3ledger.core.settle import Settlement, settle
from s3ledger.pipeline.bucket import S3VersionsReader, StateReader
from s3ledger.pipeline.invocation import InvocationContext, MetricsSink
from s3ledger.pipeline.writers.base import DynamoDBWriter, Outcome

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import KeysAndAttributesTypeDef, UpdateTypeDef

__all__ = ["AUDIT_FACTS_PROJECTION", "LookAheadWriter", "RecentlyRecorded"]

# What a read of audit items needs to tell a duplicate from another event with its id.
AUDIT_FACTS_PROJECTION: Final = "event_id, event_name, version_id, etag"


class RecentlyRecorded:
    """Events this sandbox knows are done, the newest ``capacity`` of them (inbox: recorded in
    the audit log; lean: both writes done), each with the facts it was recorded with.

    A duplicate that lands in the same warm sandbox is then skipped without a request. It cannot
    weaken exactly-once: an event enters only once its writes are known to exist, and s3ledger
    never deletes audit items. An event with a known id but other facts is not known: it goes to
    DynamoDB, whose record of the id makes it fail (``IdentityConflictError``).
    """

    def __init__(self, capacity: int) -> None:
        self._facts: OrderedDict[str, tuple[str | None, ...]] = OrderedDict()
        self._capacity = capacity

    @staticmethod
    def _facts_of(event: ObjectEvent) -> tuple[str | None, ...]:
        return (event.event_name, event.version_id, event.etag)

    def knows(self, event: ObjectEvent) -> bool:
        return self._facts.get(event.event_id) == self._facts_of(event)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._facts

    def add(self, event: ObjectEvent) -> None:
        self._facts[event.event_id] = self._facts_of(event)
        self._facts.move_to_end(event.event_id)
        if len(self._facts) > self._capacity:
            self._facts.popitem(last=False)


class LookAheadWriter(DynamoDBWriter):
    """A writer that skips what its sandbox knows is done, and after a duplicate looks the rest of
    the invocation up in one read (inbox, lean: duplicates come in runs).

    A subclass writes one event in :meth:`_write` and reads ahead in :meth:`_look_ahead`, adding
    to ``_done`` what it finds complete; an event not found still goes through its conditional
    write, so the look-ahead can only save requests, never skip an unfinished event.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        settings: Settings,
        metrics: MetricsSink | None = None,
        state_reader: StateReader | None = None,
    ) -> None:
        super().__init__(client, settings, metrics)
        # Asked only for removals of a version, which carry no state, and for events the clocks
        # cannot place (its client is lazy).
        self._state_reader = state_reader or S3VersionsReader()
        self._done = RecentlyRecorded(settings.recent_events)
        # This invocation's events not yet written, in order (a dict: ordered and unique).
        self._upcoming: dict[str, ObjectEvent] = {}

    def expect(self, events: Sequence[ObjectEvent]) -> None:
        """Announce the events this invocation is about to write, in order."""
        self._upcoming = {event.event_id: event for event in events}

    def write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        self._upcoming.pop(event.event_id, None)
        if self._done.knows(event):
            return Outcome.DUPLICATE
        outcome = self._write(event, context)
        self._done.add(event)
        if outcome is Outcome.DUPLICATE and self._upcoming:
            self._look_ahead()
        return outcome

    def _duplicate(self, event: ObjectEvent, recorded: Mapping[str, Any] | None) -> Outcome:
        """The event's id is recorded: a duplicate, unless the record says other facts."""
        conflicts = {} if recorded is None else conflicting_facts(event, recorded)
        if conflicts:
            self._metrics.count("IdentityConflicts")
            said = ", ".join(
                f"{k} {old!r} (this one: {new!r})" for k, (old, new) in conflicts.items()
            )
            raise IdentityConflictError(f"{event.event_id} is recorded with {said}")
        return Outcome.DUPLICATE

    def _peek(
        self, request: Mapping[str, KeysAndAttributesTypeDef]
    ) -> dict[str, list[dict[str, Any]]] | None:
        """The look-ahead's one read; ``None`` if it failed. Only a shortcut: every event still
        gets its conditional write. Not tried again in this invocation, so a lasting refusal
        costs one request per event."""
        found = self._db.peek(request, what="duplicate look-ahead")
        if found is None:
            self._upcoming.clear()
        return found

    def _remember_found(self, found: Mapping[str, Mapping[str, Any]]) -> None:
        """Mark done the upcoming events whose audit items a look-ahead found with their facts."""
        for event_id, item in found.items():
            event = self._upcoming.get(event_id)
            if event is not None and not conflicting_facts(event, item):
                self._done.add(event)

    def _settle_by_s3(
        self, event: ObjectEvent, own: ObjectState | None, item: Mapping[str, Any] | None
    ) -> tuple[Settlement, UpdateTypeDef | None]:
        """For an event the clocks cannot place: S3's state of its key now decides
        (:func:`settle`), and the ledger update that records it, pinned to ``item`` (``None``:
        nothing to write to the ledger)."""
        current = self._state_reader.current(event.bucket, event.key)
        settlement = settle(own, current, item, order=event.order)
        update = settled_update(
            event,
            self._settings.ledger_table,
            item=item,
            state=settlement.state,
            marks=settlement.marks,
        )
        return settlement, update

    def _write(self, event: ObjectEvent, context: InvocationContext) -> Outcome:
        raise NotImplementedError

    def _look_ahead(self) -> None:
        raise NotImplementedError

    def _read_ledger_and_audit(
        self, event: ObjectEvent, *, audit_projection: str | None = None
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The ledger item and the event's audit item, in one consistent ``BatchGetItem`` (plain
        form; ``None`` where absent)."""
        ledger_table, audit_table = self._settings.ledger_table, self._settings.audit_table
        audit: KeysAndAttributesTypeDef = {
            "Keys": [audit_key(event.event_id)],
            "ConsistentRead": True,
        }
        if audit_projection is not None:
            audit["ProjectionExpression"] = audit_projection
        found = self._db.read(
            {
                ledger_table: {"Keys": [{"id": {"S": event.object_id}}], "ConsistentRead": True},
                audit_table: audit,
            },
            what=event.event_id,
        )
        items, audits = found[ledger_table], found[audit_table]
        return (items[0] if items else None), (audits[0] if audits else None)

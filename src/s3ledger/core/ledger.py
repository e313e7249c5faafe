"""What one event writes where: the ledger and audit items and their conditions.

Pure: it builds request fragments in DynamoDB's low-level shape and sends nothing. Every writer
takes its items from here, so the modes differ only in *how* they write, never in *what*.

The ledger holds what a GET without a version id returns (:class:`ObjectState`), the order it
has reached (:mod:`s3ledger.core.order`) and the event that put it there (``last_event_id``).

The conditions, and what it means when each one fails:

=========================  ==================================  ===================================
action                     condition                           when it fails
=========================  ==================================  ===================================
audit Put (inbox,          ``attribute_not_exists(event_id)``  the event was recorded before: a
supersede)                                                     duplicate, or our own earlier
                                                               attempt whose response was lost
ledger Update (inbox)      ``order.SEQUENCED_IS_NEWER`` or     the event is not clearly newer than
                           ``order.UNSEQUENCED_IS_NEWER``      the ledger: older (superseded), or
                                                               unordered (the writer asks S3)
ledger Update (inbox, a    ``attribute_not_exists(id)`` or     the ledger moved since the writer
state read from S3)        ``last_event_id = :pinned``         read it: read again and re-decide
ledger Put (transact)      ``attribute_not_exists(id)``        the object is known: a duplicate
                                                               *or a re-upload* (the article's
                                                               flaw)
=========================  ==================================  ===================================

Every conditional write here asks for the item that failed it
(``ReturnValuesOnConditionCheckFailure=ALL_OLD``, no read units): a failed audit Put tells the
writer the facts recorded under the event's id, a failed ledger Update where the ledger stands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core.attributes import from_attribute_value, from_item, to_attribute_value, to_item
from s3ledger.core.events import ObjectEvent
from s3ledger.core.order import SEQUENCED_IS_NEWER, UNSEQUENCED_IS_NEWER, LedgerMarks

if TYPE_CHECKING:
    # Type definitions only (boto3-stubs, a dev dependency): the core imports no SDK at run time.
    from mypy_boto3_dynamodb.type_defs import (
        PutTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
    )

__all__ = [
    "APPLIED",
    "AUDIT_POSITION",
    "DELETED",
    "LEDGER_POSITION",
    "MOVES_THE_LEDGER",
    "NEEDS_A_LEDGER_ITEM",
    "PROCESSED",
    "RECORDED",
    "SUPERSEDED",
    "UNCHANGED",
    "AuditOutcome",
    "ObjectState",
    "audit_item",
    "audit_key",
    "audit_put",
    "conflicting_facts",
    "from_attribute_value",
    "from_item",
    "inbox_actions",
    "ledger_item",
    "ledger_put",
    "ledger_update",
    "mark_update",
    "pinned_actions",
    "pinned_update",
    "settled_update",
    "split_event_id",
    "state_update",
    "to_attribute_value",
    "to_item",
    "version_of",
]

PROCESSED: Final = "processed"
DELETED: Final = "deleted"


class AuditOutcome(StrEnum):
    """What an event did to the ledger: its audit item's ``outcome`` attribute (these values)."""

    APPLIED = "applied"  # the ledger's state is now the one this event left
    SUPERSEDED = "superseded"  # older than the ledger's state: the ledger was left alone
    # What a GET returns did not change (a noncurrent version or delete marker was removed, or S3
    # shows the state the ledger already has): the ledger's state stays, only the event's own
    # order mark moves (core.settle).
    UNCHANGED = "unchanged"
    # lean: recorded in the audit log; the ledger takes it if it is newer (core.lean).
    RECORDED = "recorded"


# The members under the names of earlier releases (``ledger.APPLIED``, ...).
APPLIED: Final = AuditOutcome.APPLIED
SUPERSEDED: Final = AuditOutcome.SUPERSEDED
UNCHANGED: Final = AuditOutcome.UNCHANGED
RECORDED: Final = AuditOutcome.RECORDED
# The one definition of which outcomes set the ledger's state and order marks (a recorded one
# did, unless a newer event had already), and of those that also imply the object has a ledger
# item. A stored outcome is a plain string: it is found in these sets all the same.
MOVES_THE_LEDGER: Final = frozenset({AuditOutcome.APPLIED, AuditOutcome.RECORDED})
NEEDS_A_LEDGER_ITEM: Final = MOVES_THE_LEDGER | {AuditOutcome.UNCHANGED}

# Positions of the two actions in the inbox transaction. CancellationReasons come back in request
# order, so these positions are how a cancellation is read.
AUDIT_POSITION: Final = 0
LEDGER_POSITION: Final = 1

AUDIT_IS_NEW: Final = "attribute_not_exists(event_id)"
LEDGER_IS_ABSENT: Final = "attribute_not_exists(id)"
LEDGER_IS_UNMOVED: Final = "#last_event_id = :pinned"
# A failed condition returns the item that failed it, at no extra capacity.
RETURN_OLD: Final = "ALL_OLD"
# The facts that tell two events with one id apart (one sequencer reused for a PUT and a DELETE).
_IDENTIFYING_FACTS: Final = ("event_name", "version_id", "etag")

# The marks of a ledger that has seen nothing.
_NO_MARKS: Final = LedgerMarks(None, None, "")
# Ledger attributes an object's state may lack (a deleted object has no size or eTag; an
# unversioned bucket no versionId). The ledger holds the current state: an absent value removes
# the old one.
_STATE_FIELDS: Final = ("size", "etag", "version_id")


def audit_key(event_id: str) -> dict[str, Any]:
    """The audit log's key of an event, in DynamoDB's form: its object (partition key) and its
    key within the object (sort key), so that one Query lists an object's events in order."""
    object_id, event_key = split_event_id(event_id)
    return {"object_id": {"S": object_id}, "event_key": {"S": event_key}}


def split_event_id(event_id: str) -> tuple[str, str]:
    """``(object_id, event_key)`` of an event id, ``object_id#event_key``: no event key holds a
    ``#`` (a padded sequencer, or ``~time~digest``: :mod:`s3ledger.core.events`)."""
    object_id, _, event_key = event_id.rpartition("#")
    return object_id, event_key


def version_of(version_id: Any) -> str | None:
    """The version id the ledger stores: S3 names an unversioned object's version ``"null"``
    (in listings, and in events of a versioning-suspended bucket); the ledger stores none."""
    return None if version_id in (None, "", "null") else str(version_id)


@dataclass(frozen=True, slots=True)
class ObjectState:
    """What a GET without a version id returns: the current version, or nothing (deleted).

    ``etag`` is unquoted (S3 APIs quote it, notifications do not). ``last_modified`` (when the
    current version or delete marker was written) and ``as_of`` (S3's clock when the state was
    read) are ISO times, informative and not part of equality: two reads of one state are equal.
    """

    exists: bool
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    last_modified: str | None = None
    as_of: str | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ObjectState):
            return NotImplemented
        return self.visible == other.visible

    def __hash__(self) -> int:
        return hash(self.visible)

    @property
    def visible(self) -> tuple[bool, str | None, str | None, int | None]:
        return (self.exists, self.version_id, self.etag, self.size)

    def matches(self, other: ObjectState) -> bool:
        """Is ``other`` this state, as far as both say? (A field one of them lacks is unknown.)

        S3's listing says every field; an event may lack its eTag or size (some emulators).
        """
        if self.exists != other.exists:
            return False
        pairs = zip(self.visible[1:], other.visible[1:], strict=True)
        return all(a == b for a, b in pairs if a is not None and b is not None)

    @classmethod
    def gone(cls, last_modified: str | None = None, as_of: str | None = None) -> ObjectState:
        return cls(exists=False, last_modified=last_modified, as_of=as_of)

    @classmethod
    def of_event(cls, event: ObjectEvent) -> ObjectState:
        """The state an event carries: its new version, or deleted for any removal.

        Right for ``Effect.CURRENT`` and ``Effect.HIDDEN``; a removal of a version
        (``Effect.RESOLVE``) carries no state, and only the article's modes take it as deleted.
        """
        if event.is_removal:
            return cls.gone()
        return cls(True, version_of(event.version_id), event.etag, event.size)

    @classmethod
    def of_ledger(cls, item: Mapping[str, Any] | None) -> ObjectState | None:
        """The state a ledger item (plain form) records, ``None`` for no item."""
        if item is None:
            return None
        if item.get("status") != PROCESSED:
            return cls.gone()
        size = item.get("size")
        return cls(
            True,
            version_of(item.get("version_id")),
            None if item.get("etag") is None else str(item["etag"]),
            None if size is None else int(size),
        )

    def attributes(self) -> dict[str, Any]:
        """The ledger attributes of this state (``None`` where the state has no value)."""
        return {
            "status": PROCESSED if self.exists else DELETED,
            "size": self.size if self.exists else None,
            "etag": self.etag if self.exists else None,
            "version_id": self.version_id if self.exists else None,
        }


def _order_attributes(event: ObjectEvent, marks: LedgerMarks) -> dict[str, Any]:
    return {
        "sequencer": marks.sequencer,
        "time_mark": marks.time_mark,
        "last_event_id": event.event_id,
        "event_name": event.event_name,
        "event_time": marks.event_time,
    }


def _own_marks(event: ObjectEvent) -> LedgerMarks:
    """The marks of a ledger that has seen only ``event``."""
    return _NO_MARKS.after(event.order)


def ledger_item(event: ObjectEvent, state: ObjectState | None = None) -> dict[str, Any]:
    """The ledger's whole item after ``event`` (its state, or ``state`` when one is given)."""
    item = {
        "id": event.object_id,
        "bucket": event.bucket,
        "key": event.key,
        **(state or ObjectState.of_event(event)).attributes(),
        **_order_attributes(event, _own_marks(event)),
    }
    return {name: value for name, value in item.items() if value is not None}


def audit_item(
    event: ObjectEvent, *, outcome: AuditOutcome, request_id: str, processed_at: str
) -> dict[str, Any]:
    """The audit log's record of one event: its lineage, provenance, and what it did.

    The provenance columns are the ones an S3 Metadata journal has (requester, source IP, S3
    request id, version id, size, eTag), each only where the event carries it: an audit item is
    billed per KB, so nothing is stored twice or empty.
    """
    item = {
        "object_id": event.object_id,
        "event_key": split_event_id(event.event_id)[1],
        "event_id": event.event_id,
        "event_name": event.event_name,
        "sequencer": event.order.sequencer,
        "event_time": event.order.event_time,
        "version_id": event.version_id,
        "size": event.size,
        "etag": event.etag,
        "requester": event.requester,
        "source_ip": event.source_ip,
        "s3_request_id": event.s3_request_id,
        "outcome": str(outcome),
        "request_id": request_id,
        "processed_at": processed_at,
    }
    return {name: value for name, value in item.items() if value is not None}


def conflicting_facts(
    event: ObjectEvent, recorded: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """The facts in which ``event`` differs from the audit item recorded under its id (plain
    form): ``{fact: (recorded, this event's)}``, empty for a true duplicate. A fact the item
    lacks (written by an older release) is unknown, not different."""
    # Only the facts are compared: the outcome and the invocation's fields are placeholders.
    mine = audit_item(event, outcome=AuditOutcome.APPLIED, request_id="", processed_at="")
    return {
        fact: (recorded[fact], mine.get(fact))
        for fact in _IDENTIFYING_FACTS
        if fact in recorded and recorded[fact] != mine.get(fact)
    }


def audit_put(
    event: ObjectEvent,
    table: str,
    *,
    outcome: AuditOutcome,
    request_id: str,
    processed_at: str,
    only_if_new: bool,
) -> PutTypeDef:
    """A Put of the audit item; with ``only_if_new`` it fails if the event was recorded before."""
    put: PutTypeDef = {
        "TableName": table,
        "Item": to_item(
            audit_item(event, outcome=outcome, request_id=request_id, processed_at=processed_at)
        ),
    }
    if only_if_new:
        put["ConditionExpression"] = AUDIT_IS_NEW
        put["ReturnValuesOnConditionCheckFailure"] = RETURN_OLD
    return put


def ledger_put(event: ObjectEvent, table: str, *, only_if_absent: bool) -> PutTypeDef:
    """A Put of the whole ledger item, as the article writes it (``transact`` adds a condition)."""
    put: PutTypeDef = {"TableName": table, "Item": to_item(ledger_item(event))}
    if only_if_absent:
        put["ConditionExpression"] = LEDGER_IS_ABSENT
    return put


def _update(
    event: ObjectEvent,
    table: str,
    attributes: Mapping[str, Any],
    condition: str,
    condition_values: Mapping[str, Any],
) -> UpdateTypeDef:
    """An Update that sets ``attributes`` (removing the state fields that are ``None``) under
    ``condition``. DynamoDB refuses unused placeholders, so only the names used are declared."""
    present = {name: value for name, value in attributes.items() if value is not None}
    absent = [name for name in _STATE_FIELDS if name in attributes and attributes[name] is None]
    expression = "SET " + ", ".join(f"#{name} = :{name}" for name in present)
    if absent:
        expression += " REMOVE " + ", ".join(f"#{name}" for name in absent)
    names = {*present, *absent, *re.findall(r"#(\w+)", condition)}
    values = {f":{name}": to_attribute_value(value) for name, value in present.items()}
    values.update({name: to_attribute_value(value) for name, value in condition_values.items()})
    return {
        "TableName": table,
        "Key": {"id": {"S": event.object_id}},
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {f"#{name}": name for name in sorted(names)},
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": RETURN_OLD,
    }


def ledger_update(
    event: ObjectEvent, table: str, *, state: ObjectState | None = None
) -> UpdateTypeDef:
    """An Update of the ledger to the state ``event`` carries (or ``state``), applied only if the
    event is clearly newer.

    DynamoDB decides "newer" with the rule of :mod:`s3ledger.core.order`, so one request both orders
    and writes; a refusal returns the ledger item, which tells older from unordered. Only the mark
    the event moves is set: a sequenced event leaves ``time_mark``, an unsequenced one
    ``sequencer``, as they were.
    """
    order = event.order
    marks = _own_marks(event)
    attributes = {
        "bucket": event.bucket,
        "key": event.key,
        **(state or ObjectState.of_event(event)).attributes(),
        **_order_attributes(event, marks),
    }
    if order.sequencer is not None:
        attributes.pop("time_mark")
        return _update(
            event,
            table,
            attributes,
            SEQUENCED_IS_NEWER,
            {":sequencer": order.sequencer, ":clear": order.clear},
        )
    attributes.pop("sequencer")
    return _update(
        event,
        table,
        attributes,
        UNSEQUENCED_IS_NEWER,
        {":clear": order.clear},
    )


def inbox_actions(
    event: ObjectEvent,
    *,
    ledger_table: str,
    audit_table: str,
    request_id: str,
    processed_at: str,
) -> list[TransactWriteItemTypeDef]:
    """The one transaction ``inbox`` sends per event: audit Put first, ledger Update second."""
    actions: list[TransactWriteItemTypeDef] = [{}, {}]
    actions[AUDIT_POSITION] = {
        "Put": audit_put(
            event,
            audit_table,
            outcome=APPLIED,
            request_id=request_id,
            processed_at=processed_at,
            only_if_new=True,
        )
    }
    actions[LEDGER_POSITION] = {"Update": ledger_update(event, ledger_table)}
    return actions


def pinned_update(
    event: ObjectEvent,
    table: str,
    *,
    state: ObjectState,
    marks: LedgerMarks,
    pinned: str | None,
) -> UpdateTypeDef:
    """An Update of the ledger to ``state`` and the order ``marks``, applied only if the ledger
    item is still the one the writer read (its ``last_event_id`` is ``pinned``; ``None`` for no
    item): the writer decided from that item (and S3), and the pin makes the decision hold."""
    attributes = {
        "bucket": event.bucket,
        "key": event.key,
        **state.attributes(),
        **_order_attributes(event, marks),
    }
    if pinned is None:
        return _update(event, table, attributes, LEDGER_IS_ABSENT, {})
    return _update(event, table, attributes, LEDGER_IS_UNMOVED, {":pinned": pinned})


def mark_update(
    event: ObjectEvent, table: str, *, marks: LedgerMarks, pinned: str
) -> UpdateTypeDef:
    """An Update that sets the one order mark ``event`` moves (``sequencer`` for a sequenced
    event, ``time_mark`` for another) to its value in ``marks`` and changes nothing else, if the
    ledger item is still the one read: an ``unchanged`` event (:mod:`s3ledger.core.settle`)."""
    sequenced = event.order.sequencer is not None
    name, value = ("sequencer", marks.sequencer) if sequenced else ("time_mark", marks.time_mark)
    return _update(event, table, {name: value}, LEDGER_IS_UNMOVED, {":pinned": pinned})


def _pin_of(item: Mapping[str, Any] | None) -> str | None:
    return None if item is None else str(item.get("last_event_id", ""))


def state_update(
    event: ObjectEvent, table: str, *, item: Mapping[str, Any] | None, state: ObjectState
) -> UpdateTypeDef:
    """The Update of the ledger, now ``item`` (plain form; ``None``: no item), to ``state`` and
    the order marks after ``event``, pinned to ``item`` (:func:`pinned_update`)."""
    after = (LedgerMarks.of(item) or _NO_MARKS).after(event.order)
    return pinned_update(event, table, state=state, marks=after, pinned=_pin_of(item))


def settled_update(
    event: ObjectEvent,
    table: str,
    *,
    item: Mapping[str, Any] | None,
    state: ObjectState | None,
    marks: LedgerMarks | None = None,
) -> UpdateTypeDef | None:
    """The ledger Update for an event whose place S3 settled (:mod:`s3ledger.core.settle`),
    pinned to the ledger ``item`` (plain form; ``None``: no item) it was decided against: to
    ``state`` and the marks after ``event``; else, for an ``unchanged`` event, its own order mark
    only (``marks``), where there is an item; ``None`` when nothing is to be written."""
    if state is not None:
        return state_update(event, table, item=item, state=state)
    pinned = _pin_of(item)
    if marks is not None and pinned is not None:
        return mark_update(event, table, marks=marks, pinned=pinned)
    return None


def pinned_actions(
    event: ObjectEvent,
    *,
    update: UpdateTypeDef,
    outcome: AuditOutcome,
    audit_table: str,
    request_id: str,
    processed_at: str,
) -> list[TransactWriteItemTypeDef]:
    """The transaction for an event whose state or place was read (from S3), not carried: the
    audit Put (with ``outcome``) and a pinned ledger ``update`` (:func:`pinned_update`,
    :func:`mark_update`)."""
    actions: list[TransactWriteItemTypeDef] = [{}, {}]
    actions[AUDIT_POSITION] = {
        "Put": audit_put(
            event,
            audit_table,
            outcome=outcome,
            request_id=request_id,
            processed_at=processed_at,
            only_if_new=True,
        )
    }
    actions[LEDGER_POSITION] = {"Update": update}
    return actions

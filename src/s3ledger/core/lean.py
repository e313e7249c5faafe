"""What ``lean`` writes: an audit item that alone says what the ledger becomes, and the guarded
ledger update derived from it.

Pure: request fragments in DynamoDB's low-level shape, nothing sent. The writer
(:mod:`s3ledger.pipeline.writers.lean`) and ``s3ledger rebuild-ledger``
(:mod:`s3ledger.operate.rebuild`) take the ledger update from the same function,
:func:`replay_update`, so healing a half-done event and rebuilding the ledger are the same act:
*replay the audit item under the order guard*.

An audit item of ``lean`` (outcome ``recorded``) holds the event's facts and, with them, what the
ledger should become:

* the state: for an event that carries it (a new version, a delete marker, an unversioned
  delete) it *is* the event's facts (``ObjectState.of_event``: ``event_name``, ``version_id``,
  ``etag``, ``size``); for a removal of a version (``Effect.RESOLVE``), whose state only S3
  knows, the state the writer read from S3 is stored in ``target`` (a map), so a redelivery or a
  rebuild applies the state read the first time, never a second read's;
* the order marks: the padded ``sequencer`` and the normalized ``event_time`` (and, for an
  event without a sequencer, the time key, which is the end of ``event_id``).

Outcome ``recorded`` means "written to the audit log, and the ledger takes it if it is newer than
what the ledger holds". Whether it did is derivable from the ledger (its ``last_event_id`` and
order marks), so the audit item is never updated (a third write). A ``recorded`` event is newer
than the ledger only while its second write is in flight or being retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core import ledger
from s3ledger.core.errors import MalformedRecordError
from s3ledger.core.events import Effect, ObjectEvent
from s3ledger.core.ledger import PROCESSED, ObjectState, to_attribute_value

if TYPE_CHECKING:  # type stubs only: the core imports no AWS SDK at run time
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, UpdateTypeDef

__all__ = [
    "RECORDED",
    "RETURN_OLD",
    "TARGET",
    "event_of_audit",
    "lean_audit_put",
    "replay_update",
    "target_state",
]

RECORDED: Final = ledger.AuditOutcome.RECORDED
# The audit attribute that holds the state a removal of a version left (read from S3).
TARGET: Final = "target"
# On a failed condition, DynamoDB returns the item as it is, at no extra cost: a duplicate learns
# what was recorded (or what the ledger holds) from the failed write itself.
RETURN_OLD: Final = ledger.RETURN_OLD


def lean_audit_put(
    event: ObjectEvent,
    table: str,
    *,
    state: ObjectState,
    request_id: str,
    processed_at: str,
) -> PutTypeDef:
    """Write 1: the audit Put, only if the event is new; a failure returns the item recorded.

    ``state`` is stored in ``target`` only when the event does not carry it (a removal of a
    version): elsewhere it is the event's own facts, and an audit item is billed per KB.
    """
    put = ledger.audit_put(
        event,
        table,
        outcome=RECORDED,
        request_id=request_id,
        processed_at=processed_at,
        only_if_new=True,
    )
    if event.effect is Effect.RESOLVE:
        attributes = {k: v for k, v in state.attributes().items() if v is not None}
        put["Item"] = {**put["Item"], TARGET: to_attribute_value(attributes)}
    return put


def event_of_audit(item: Mapping[str, Any]) -> ObjectEvent:
    """The event an audit item (plain form) records, rebuilt from the item alone.

    Its ``event_id`` must come out as the item's: the identity is the check that nothing was
    lost on the way.
    """
    object_id, event_id = str(item["object_id"]), str(item["event_id"])
    bucket, _, key = object_id.partition("/")
    token = event_id.removeprefix(f"{object_id}#")
    sequencer = item.get("sequencer")
    event_time = str(item["event_time"])
    common: dict[str, Any] = {
        "bucket": bucket,
        "key": key,
        "event_name": str(item["event_name"]),
        "event_time": event_time,
        "size": item.get("size"),
        "etag": item.get("etag"),
        "version_id": item.get("version_id"),
        "requester": item.get("requester"),
        "source_ip": item.get("source_ip"),
        "s3_request_id": item.get("s3_request_id"),
    }
    if sequencer is not None:
        event = ObjectEvent(**common, sequencer=str(sequencer))
    else:
        event = ObjectEvent(**common, identity=token.removeprefix(f"~{event_time}~"))
    if event.event_id != event_id:
        raise MalformedRecordError(f"audit item {event_id!r} does not rebuild its own event")
    return event


def target_state(item: Mapping[str, Any]) -> ObjectState | None:
    """What the ledger should become by an audit item (plain form); ``None`` if the item does
    not say (a removal of a version audited by another mode, which did not store the state)."""
    target = item.get(TARGET)
    if isinstance(target, Mapping):
        size = target.get("size")
        return ObjectState(
            exists=target.get("status") == PROCESSED,
            version_id=ledger.version_of(target.get("version_id")),
            etag=None if target.get("etag") is None else str(target["etag"]),
            size=None if size is None else int(size),
        )
    event = event_of_audit(item)
    if event.effect is Effect.RESOLVE:
        return None
    return ObjectState.of_event(event)


def replay_update(item: Mapping[str, Any], table: str) -> UpdateTypeDef | None:
    """Write 2: the ledger Update an audit item (plain form) asks for, applied only if its event
    is clearly newer than the ledger (``order.SEQUENCED_IS_NEWER`` / ``UNSEQUENCED_IS_NEWER``); a
    failure returns the ledger item. ``None`` when the item does not say what the ledger becomes."""
    state = target_state(item)
    if state is None:
        return None
    return ledger.ledger_update(event_of_audit(item), table, state=state)

"""The notifications themselves: which events moto's S3 sends, what each one says (sequencer,
version id, provenance, lifecycle) and where its EventBridge events go.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import logging
from collections.abc import Callable
from typing import Any, Final

from s3ledger.workbench.moto_s3.context import (
    _completing_multipart,
    _new_request,
    _operation,
    _removal_notified_by_wrapper,
    _request,
    _sequencer,
)
from s3ledger.workbench.moto_s3.hooks import _Moto
from s3ledger.workbench.moto_s3.records import (
    _COMPLETE_MULTIPART,
    _CREATED,
    _EMPTY_ETAG,
    _EXPIRED,
    _REMOVED,
    LIFECYCLE_PRINCIPAL,
    S3Operation,
    eventbridge_event,
    s3_record,
)

__all__: list[str] = []

_log = logging.getLogger(__name__)

_VERSIONED_STATES: Final = frozenset({"Enabled", "Suspended"})


def _plain(event_name: Any) -> str:
    # moto passes S3NotificationEvent members (a str Enum); compare and slice their values.
    return str(getattr(event_name, "value", event_name))


def _versioned(bucket: Any) -> bool:
    # A bucket that was ever versioned stays so: Suspended still has versions and null versions.
    return getattr(bucket, "versioning_status", None) in _VERSIONED_STATES


def _cached_etag(key: Any) -> str | None:
    # A removed version's body may be disposed of already: use the ETag only if moto computed it.
    raw = getattr(key, "_etag", None)
    return raw.strip('"') if isinstance(raw, str) else None


def _owner_for(account_id: str) -> str:
    # "Amazon-customer-ID-of-the-bucket-owner" (the documented example: A3NL1KOZZKExample).
    return "A" + hashlib.sha256(account_id.encode()).hexdigest().upper()[:16]


def _operation_for(
    moto: _Moto, account_id: str, event_name: str, bucket: Any, key: Any
) -> S3Operation:
    request = _request.get() or _new_request()
    by_lifecycle = event_name.startswith(_EXPIRED)
    removed = by_lifecycle or event_name.startswith(_REMOVED)
    is_marker = isinstance(key, moto.delete_marker)
    size: int | None = None
    etag: str | None = None
    if removed:
        etag = _EMPTY_ETAG if is_marker else _cached_etag(key)
    elif not is_marker:
        size, etag = int(key.size), str(key.etag).strip('"')
    return S3Operation(
        event_name=event_name,
        bucket=str(bucket.name),
        bucket_arn=str(bucket.arn),
        region=str(bucket.region_name),
        key=str(key.name),
        event_time=datetime.datetime.now(datetime.UTC),
        request_id=request.request_id,
        host_id=request.host_id,
        principal_id=LIFECYCLE_PRINCIPAL if by_lifecycle else request.principal_id,
        source_ip=LIFECYCLE_PRINCIPAL if by_lifecycle else request.source_ip,
        requester=LIFECYCLE_PRINCIPAL if by_lifecycle else account_id,
        owner_id=_owner_for(str(getattr(bucket, "account_id", account_id))),
        version_id=str(key.version_id) if _versioned(bucket) else None,
        # AWS's documents disagree on lifecycle expirations: the field's description says the
        # sequencer is "only used with PUTs and DELETEs" (notification-content-structure.html),
        # while the lifecycle examples show one (lifecycle-configure-notification.html,
        # ev-events.html). The workbench sends none: the product must order these events either
        # way, and the case without a sequencer is the one that can freeze a key if it is wrong,
        # so it is the one the proof must exercise.
        sequencer=(
            _sequencer.next()
            if not by_lifecycle and (removed or event_name.startswith(_CREATED))
            else None
        ),
        size=size,
        etag=etag,
    )


def _wrap_send_event(moto: _Moto, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        name = _plain(event_name)
        request = _request.get()
        if _removal_notified_by_wrapper.get() and name.startswith((_REMOVED, _EXPIRED)):
            return  # delete_object's wrapper notifies what actually changed instead
        if _completing_multipart.get() and name != _COMPLETE_MULTIPART:
            return  # the inner PutObject, tagging and ACL of CompleteMultipartUpload
        if name.startswith(_CREATED):
            if request is not None:
                request.created_object = True
        elif name.startswith("s3:ObjectTagging:") and request and request.created_object:
            return  # tags given at creation: S3 notifies the creation only
        if getattr(bucket, "notification_configuration", None) is None:
            return
        operation = _operation_for(moto, account_id, name, bucket, key)
        token = _operation.set(operation)
        try:
            original(account_id, event_name, bucket, key)
        finally:
            _operation.reset(token)

    return send_event


def _wrap_get_s3_event(moto: _Moto) -> Callable[..., Any]:
    def get_s3_event(
        event_name: Any, bucket: Any, key: Any, notification_id: str
    ) -> dict[str, list[dict[str, Any]]]:
        name = _plain(event_name)
        operation = _operation.get()
        if operation is None or operation.event_name != name:
            operation = _operation_for(moto, str(bucket.account_id), name, bucket, key)
        return {"Records": [s3_record(operation, notification_id)]}

    return get_s3_event


def _wrap_send_event_bridge_message(moto: _Moto) -> Callable[..., Any]:
    def send_event_bridge_message(account_id: str, bucket: Any, event_name: Any, key: Any) -> None:
        name = _plain(event_name)
        try:
            operation = _operation.get()
            if operation is None or operation.event_name != name:
                operation = _operation_for(moto, account_id, name, bucket, key)
            detail_type = None
            if not (operation.created or operation.removed):
                detail_type = moto.detail_type(name)
            event = eventbridge_event(operation, account_id, detail_type)
            # Inside moto's EventBridge an event's time is a unix timestamp, which its targets
            # (SQS, CloudWatch Logs) write out in the ISO form above.
            event["time"] = operation.event_time.timestamp()
            from moto.events.models import events_backends  # noqa: PLC0415

            # "Your account's default event bus receives events from AWS services"
            # (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_EventBus.html);
            # moto sent S3's to every bus.
            bus: Any = events_backends[account_id][bucket.region_name].event_buses.get("default")
            rules: list[Any] = list(bus.rules.values()) if bus is not None else []
            for rule in rules:
                rule.send_to_targets(event, transform_input=False)
        except Exception:  # asynchronous on AWS: a failed delivery must not fail the request
            _log.warning("S3 event %s not delivered to EventBridge", name, exc_info=True)

    return send_event_bridge_message


def _notify_removal(
    moto: _Moto, account_id: str, bucket: Any, before: list[Any], after: list[Any]
) -> None:
    """Notify what one DeleteObject changed: a marker added, or versions removed."""
    before_ids, after_ids = {id(v) for v in before}, {id(v) for v in after}
    markers = [v for v in after if id(v) not in before_ids and isinstance(v, moto.delete_marker)]
    removed = [v for v in before if id(v) not in after_ids]
    request = _request.get()
    prefix = _EXPIRED if request is not None and request.lifecycle else _REMOVED
    event_type = moto.notifications.S3NotificationEvent
    send = moto.notifications.send_event  # the wrapped one: it stamps the operation
    if markers:
        # One event per operation: on a Suspended bucket the null version the marker replaces
        # goes silently, as the marker's creation is what S3 notifies.
        send(account_id, event_type(prefix + "DeleteMarkerCreated"), bucket, markers[-1])
        return
    for version in removed:
        send(account_id, event_type(prefix + "Delete"), bucket, version)

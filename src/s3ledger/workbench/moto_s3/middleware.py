"""The S3 notifier: a WSGI middleware in front of moto's server that sends S3's notifications
as AWS does, from what moto's S3 API answers (see :mod:`.operations`), and keeps each bucket's
notification configuration itself (:mod:`.configuration`), so moto's own notifier never fires.

Per S3 request it also does what S3's HTTP side does: gives the request its ids and answers
with them (``x-amz-request-id``, ``x-amz-id-2``: "Common Response Headers",
https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonResponseHeaders.html), and applies
mutations one at a time, so sequencers follow the order S3 applied the operations (moto's
threaded server runs requests concurrently). Needs no moto.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from s3ledger.workbench.moto_s3.calls import S3Call
from s3ledger.workbench.moto_s3.configuration import (
    BucketNotifications,
    ConfigurationError,
    NotificationStore,
    parse_configuration,
)
from s3ledger.workbench.moto_s3.identity import S3Request, Sequencer, StrictClock
from s3ledger.workbench.moto_s3.loopback import Loopback
from s3ledger.workbench.moto_s3.operations import Answer, OperationReader, Removal
from s3ledger.workbench.moto_s3.records import S3Operation, eventbridge_event, s3_record

__all__ = ["S3NotificationMiddleware"]

_log = logging.getLogger(__name__)

T = TypeVar("T")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_ERROR_REQUEST_ID = re.compile(rb"(?<=<RequestId>)[^<]*(?=</RequestId>)")
_EMPTY_DOCUMENT: Final = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
)


def _iso_ms_now() -> str:
    import datetime  # noqa: PLC0415 -- one use

    now = datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class S3NotificationMiddleware:
    """Wraps moto's WSGI application; ``account_id`` is moto's account for the workbench's
    dummy credentials (EventBridge's ``requester``, the bucket owner's id)."""

    def __init__(self, app: WsgiApp, account_id: str) -> None:
        self._app = app
        self._account_id = account_id
        self._store = NotificationStore()
        self._sequencer = Sequencer()
        self._clock = StrictClock()
        # One S3 mutation at a time (re-entrant: a nested call of this thread never waits).
        self._mutation_lock = threading.RLock()
        self._loopback: Loopback | None = None
        self._setup_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        call = S3Call.from_environ(environ)
        if call is None:
            return self._app(environ, start_response)
        request = S3Request.from_environ(environ)
        loopback = self._loopback_for(environ)
        if call.action == "put_notification":
            answer = self._put_notification(call, request, loopback, _read_body(environ))
        elif call.action == "get_notification":
            answer = self._get_notification(call, request, loopback)
        elif call.mutating:
            answer = self._mutate(call, request, loopback, environ)
        else:
            answer = self._forward(environ)
        return _respond(start_response, answer, request)

    # --- plumbing ---------------------------------------------------------------------------

    def _loopback_for(self, environ: Mapping[str, Any]) -> Loopback:
        with self._setup_lock:
            if self._loopback is None:
                host = environ.get("HTTP_HOST") or (
                    f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
                )
                self._loopback = Loopback(f"{environ.get('wsgi.url_scheme', 'http')}://{host}")
            return self._loopback

    def _forward(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None  # moto never writes through it

        chunks = self._app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return captured["status"], list(captured["headers"]), body

    # --- mutations and their notifications --------------------------------------------------

    def _mutate(
        self, call: S3Call, request: S3Request, loopback: Loopback, environ: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        body = _read_body(environ) if call.action == "delete_objects" else b""
        with self._mutation_lock:
            self._clock.wait_past_previous()
            notifications = self._store.get(call.bucket)
            reader = OperationReader(loopback, self._sequencer, self._account_id)
            removals: list[Removal] | None = None
            if notifications is not None:
                removals = _logged(lambda: reader.removals(call, body), call)
            status, headers, content = self._forward(environ)
            self._clock.mark_end()
            answer = Answer(int(status.split()[0]), _lower(headers), content)
            if notifications is not None and removals is not None:
                operations = _logged(
                    lambda: reader.operations(
                        call, request, answer, removals, notifications.region
                    ),
                    call,
                )
                for operation in operations or ():
                    self._deliver(operation, notifications, loopback)
            if call.action == "delete_bucket" and answer.ok:
                self._store.forget(call.bucket)
        return status, headers, content

    def _deliver(
        self, operation: S3Operation, notifications: BucketNotifications, loopback: Loopback
    ) -> None:
        """Send one operation to every destination that takes it; one operation carries the
        same sequencer, request id and time to each, as on AWS."""
        for destination in notifications.destinations:
            if not destination.matches(operation.event_name, operation.key):
                continue
            record = {"Records": [s3_record(operation, destination.id)]}
            if destination.kind == "queue":
                loopback.send_to_queue(destination.arn, record)
            elif destination.kind == "topic":
                loopback.publish_to_topic(destination.arn, record)
            else:
                _log.warning(
                    "S3 event not sent to %s: the workbench runs no Lambda", destination.arn
                )
        if notifications.eventbridge:
            event = eventbridge_event(operation, self._account_id)
            loopback.put_on_default_bus(event, operation.event_time)

    # --- the notification configuration -----------------------------------------------------

    def _put_notification(
        self, call: S3Call, request: S3Request, loopback: Loopback, document: bytes
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        region = loopback.bucket_region(call.bucket)
        if region is None:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist", call)
        try:
            notifications = parse_configuration(document, region)
        except ConfigurationError as error:
            return _error(400, error.code, str(error), call)
        self._store.put(call.bucket, notifications)
        # "When the notification is configured, Amazon S3 sends a test message" to each
        # queue and topic (notification-content-structure.html).
        test_event = {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": _iso_ms_now(),
            "Bucket": call.bucket,
            "RequestId": request.request_id,
            "HostId": request.host_id,
        }
        for arn in dict.fromkeys(d.arn for d in notifications.destinations if d.kind == "queue"):
            loopback.send_to_queue(arn, test_event)
        for arn in dict.fromkeys(d.arn for d in notifications.destinations if d.kind == "topic"):
            loopback.publish_to_topic(arn, test_event)
        return "200 OK", [("Content-Length", "0")], b""

    def _get_notification(
        self, call: S3Call, request: S3Request, loopback: Loopback
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        if loopback.bucket_region(call.bucket) is None:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist", call)
        notifications = self._store.get(call.bucket)
        body = notifications.to_xml() if notifications is not None else _EMPTY_DOCUMENT
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        return "200 OK", headers, body


def _logged(read: Callable[[], T], call: S3Call) -> T | None:
    """What ``read`` returns, or None, logged, if it fails: S3 notifies asynchronously, so a
    notification that cannot be made must never fail the request that caused it."""
    try:
        return read()
    except Exception:  # anything the loopback raises: the request itself goes on
        _log.warning(
            "S3 notification of %s %s/%s not made",
            call.method,
            call.bucket,
            call.key,
            exc_info=True,
        )
        return None


def _lower(headers: list[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request's body, put back so that moto reads it too."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    body = stream.read(int(length)) if length else stream.read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return bytes(body)


def _error(
    status: int, code: str, message: str, call: S3Call
) -> tuple[str, list[tuple[str, str]], bytes]:
    reason = {400: "Bad Request", 404: "Not Found"}[status]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<BucketName>{call.bucket}</BucketName><RequestId></RequestId></Error>"
    )
    return f"{status} {reason}", [("Content-Type", "application/xml")], body.encode()


def _respond(
    start_response: Callable[..., Any],
    answer: tuple[str, list[tuple[str, str]], bytes],
    request: S3Request,
) -> list[bytes]:
    """Answer with the request's ids, as S3 does. moto's ``x-amzn-requestid`` goes: S3 sends no
    such header, and boto3 would read the request id from it rather than from
    ``x-amz-request-id``. An error body's ``<RequestId>`` gets the same id."""
    status, headers, body = answer
    if b"<RequestId>" in body:
        body = _ERROR_REQUEST_ID.sub(request.request_id.encode(), body)
        # Only a rewritten body gets a new length (a HEAD's length is the object's).
        headers = [h for h in headers if h[0].lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
    dropped = {"x-amzn-requestid", "x-amz-request-id", "x-amz-id-2"}
    kept = [(name, value) for name, value in headers if name.lower() not in dropped]
    kept += [("x-amz-request-id", request.request_id), ("x-amz-id-2", request.host_id)]
    start_response(status, kept)
    return [body]

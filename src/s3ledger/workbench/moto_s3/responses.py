"""S3's HTTP side: each request gets its ids, caller and lifecycle flag, and answers with S3's
request-id headers; the notification document shows EventBridge delivery when it is on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from s3ledger.workbench.moto_s3.context import _Request, _request, _request_from_http

__all__: list[str] = []

_ERROR_REQUEST_ID = re.compile(rb"(?<=<RequestId>)[^<]*(?=</RequestId>)")


def _with_request_headers(response: Any, request: _Request) -> Any:
    """Answer with the request's ids, as S3 does ("Common Response Headers",
    https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonResponseHeaders.html).

    moto's own ``x-amzn-requestid`` goes: S3 sends no such header, and boto3 would read the
    request id from it rather than from ``x-amz-request-id``. An error body's ``<RequestId>``
    gets the same id.
    """
    if not (isinstance(response, tuple) and len(response) == 3 and isinstance(response[1], dict)):
        return response
    status, headers, body = response
    headers = {k: v for k, v in headers.items() if k.lower() != "x-amzn-requestid"}
    headers["x-amz-request-id"] = request.request_id
    headers["x-amz-id-2"] = request.host_id
    if isinstance(body, bytes) and b"<RequestId>" in body:
        body = _ERROR_REQUEST_ID.sub(request.request_id.encode(), body)
    return status, headers, body


def _wrap_serving(original: Callable[..., Any]) -> Callable[..., Any]:
    """Give one S3 request its ids, caller and lifecycle flag, and answer with its ids."""

    @functools.wraps(original)
    def respond(self: Any, request: Any, full_url: str, headers: Any) -> Any:
        if _request.get() is not None:
            return original(self, request, full_url, headers)
        current = _request_from_http(request)
        token = _request.set(current)
        try:
            response = original(self, request, full_url, headers)
        finally:
            _request.reset(token)
        return _with_request_headers(response, current)

    return respond


def _wrap_get_notification(original: Callable[..., Any]) -> Callable[..., Any]:
    """GetBucketNotificationConfiguration answers ``<EventBridgeConfiguration/>`` when the
    bucket's EventBridge delivery is on, as S3 does (moto stores it but leaves it out, so a
    read-merge-write of the document, as ``s3ledger attach`` does, would turn it off)."""

    @functools.wraps(original)
    def get_bucket_notification(response: Any) -> Any:
        answer = original(response)
        config = response.backend.get_bucket_notification_configuration(response.bucket_name)
        if config is None or config.event_bridge is None or not isinstance(answer, tuple):
            return answer
        status, headers, body = answer
        closing = "</NotificationConfiguration>"
        text = body.decode() if isinstance(body, bytes) else str(body)
        if "<EventBridgeConfiguration" not in text:
            # moto writes an empty document as one self-closed element.
            text = re.sub(
                r"<NotificationConfiguration([^>]*)/>",
                r"<NotificationConfiguration\1>" + closing,
                text,
            )
            text = text.replace(closing, "<EventBridgeConfiguration/>" + closing)
        return status, headers, text.encode() if isinstance(body, bytes) else text

    return get_bucket_notification

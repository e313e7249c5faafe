"""What the patch keeps while moto serves S3: the sequencer and clock shared by every request,
the lock that applies one mutation at a time, the request being served (its ids, caller and
lifecycle flag) and the per-request flags the wrappers pass each other. Needs no moto.
"""

from __future__ import annotations

import base64
import contextvars
import datetime
import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from s3ledger.workbench.moto_s3.records import LIFECYCLE_EXPIRATION_HEADER, S3Operation

__all__: list[str] = []

# moto's own default when a request carries no credential (BaseResponse.get_access_key).
_ANONYMOUS_ACCESS_KEY: Final = "AKIAEXAMPLE"
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")


# --- sequencers and clocks ------------------------------------------------------------------


class _Sequencer:
    """Process-wide, strictly increasing, tied to the clock like S3's; every third is 18 digits.

    The first 16 hex digits grow strictly, so S3's rule (right-pad, then compare) orders any two
    correctly whatever their suffix, while left-padding puts a 16-digit one below an older
    18-digit one: ``0062E99A88DC4075`` (newer) against ``0062E99A88DC407460`` (older). Which
    ones get the suffix follows the count of sequencers issued, not the clock, whose
    milliseconds can keep step with a client's pace.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0
        self._issued = 0

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, int(time.time() * 1000) << 8)
            self._issued += 1
            value, suffixed = self._last, self._issued % 3 == 0
        digits = f"{value:016X}"
        if suffixed:
            digits += f"{value % 255 + 1:02X}"  # never 00, so the two lengths are told apart
        return digits


class _StrictClock:
    """Makes each new ``last_modified`` later than the previous one, by a microsecond if needed.

    moto orders a key's versions by ``last_modified`` (``unix_time_millis``, a float of
    milliseconds that keeps the microseconds); two versions created in the same microsecond (or
    while the wall clock steps back) tie, and the stable sort then calls the older one latest.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: datetime.datetime | None = None

    def after_previous(self, moment: datetime.datetime) -> datetime.datetime:
        with self._lock:
            if self._last is not None and moment <= self._last:
                moment = self._last + datetime.timedelta(microseconds=1)
            self._last = moment
            return moment


_sequencer = _Sequencer()
_clock = _StrictClock()
# One S3 mutation at a time, so that sequencers follow the order S3 applied the operations
# (moto's threaded server runs requests concurrently; its key store has no lock of its own).
_mutation_lock = threading.RLock()


# --- the request being served ---------------------------------------------------------------


@dataclass(slots=True)
class _Request:
    """One S3 API request, as its notifications describe it."""

    request_id: str
    host_id: str
    principal_id: str
    source_ip: str
    lifecycle: bool = False
    created_object: bool = False


def _principal_for(access_key: str) -> str:
    # "Amazon-customer-ID-of-the-user-who-caused-the-event", e.g. AIDAJDPLRKLG7UEXAMPLE: an IAM
    # user id is AIDA and 17 more characters. A stable one per access key stands in for it.
    digest = hashlib.sha256(access_key.encode()).hexdigest().upper()
    return f"AWS:AIDA{digest[:17]}"


def _new_request(
    access_key: str = _ANONYMOUS_ACCESS_KEY,
    source_ip: str = "127.0.0.1",
    lifecycle: bool = False,
) -> _Request:
    return _Request(
        # Like S3's: 16 upper-case hex digits, and a base64 x-amz-id-2.
        request_id=secrets.token_hex(8).upper(),
        host_id=base64.b64encode(secrets.token_bytes(48)).decode(),
        principal_id=_principal_for(access_key),
        source_ip=source_ip,
        lifecycle=lifecycle,
    )


def _request_from_http(request: Any) -> _Request:
    headers = getattr(request, "headers", None) or {}
    match = _ACCESS_KEY.search(str(headers.get("Authorization", "")))
    if match is None:  # a presigned URL carries its credential in the query
        args = getattr(request, "args", None) or {}
        match = _ACCESS_KEY.search(f"Credential={args.get('X-Amz-Credential', '')}")
    flag = str(headers.get(LIFECYCLE_EXPIRATION_HEADER, "")).strip().lower() == "true"
    return _new_request(
        access_key=match.group(1) if match else _ANONYMOUS_ACCESS_KEY,
        source_ip=getattr(request, "remote_addr", None) or "127.0.0.1",
        lifecycle=flag,
    )


# Each of moto's server threads serves one request in its own context.
_request: contextvars.ContextVar[_Request | None] = contextvars.ContextVar(
    "s3ledger_s3_request", default=None
)
# The operation whose notification is being sent (one per send_event, shared by destinations).
_operation: contextvars.ContextVar[S3Operation | None] = contextvars.ContextVar(
    "s3ledger_s3_operation", default=None
)
# Inside the delete_object wrapper: moto's own removal notification is replaced by ours.
_removal_notified_by_wrapper: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "s3ledger_s3_removal_wrapped", default=False
)
# Inside complete_multipart_upload: only its own CompleteMultipartUpload event goes out.
_completing_multipart: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "s3ledger_s3_completing_multipart", default=False
)
# A DeleteObject on a Suspended bucket, which moto treats as unversioned: take its versioned path.
_suspended_as_versioned: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "s3ledger_s3_suspended_as_versioned", default=False
)
# ListObjectVersions with a prefix: the key store yields only the keys under it.
_listing_prefix: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "s3ledger_s3_listing_prefix", default=None
)

"""Who and when, for each S3 request the workbench's moto serves: the sequencer and the clock
shared by every request, and one request's ids, caller and lifecycle flag. Needs no moto.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs

from s3ledger.workbench.moto_s3.records import LIFECYCLE_EXPIRATION_HEADER

__all__ = ["S3Request", "Sequencer", "StrictClock"]

# moto's own default when a request carries no credential (BaseResponse.get_access_key).
_ANONYMOUS_ACCESS_KEY: Final = "AKIAEXAMPLE"
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")


class Sequencer:
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


class StrictClock:
    """Lets each S3 mutation start only once the wall clock is past the end of the previous one.

    moto stamps a new version's ``last_modified`` with the wall clock and lists a key's versions
    by it; two versions stamped in one microsecond (or while the clock steps back) tie, and
    moto's stable sort then calls the older one latest. S3 orders versions by when it wrote
    them. Mutations run one at a time (the caller holds the mutation lock), so waiting here
    makes every stamp strictly later than the previous one without touching moto.
    """

    def __init__(self) -> None:
        self._last = datetime.datetime.min.replace(tzinfo=datetime.UTC)

    def wait_past_previous(self) -> None:
        while datetime.datetime.now(datetime.UTC) <= self._last:
            time.sleep(0)  # a microsecond, in practice: yield to other threads meanwhile

    def mark_end(self) -> None:
        self._last = datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True, slots=True)
class S3Request:
    """One S3 API request, as its notifications and its response describe it."""

    request_id: str
    host_id: str
    principal_id: str
    source_ip: str
    lifecycle: bool = False

    @classmethod
    def new(
        cls,
        access_key: str = _ANONYMOUS_ACCESS_KEY,
        source_ip: str = "127.0.0.1",
        lifecycle: bool = False,
    ) -> S3Request:
        return cls(
            # Like S3's: 16 upper-case hex digits, and a base64 x-amz-id-2.
            request_id=secrets.token_hex(8).upper(),
            host_id=base64.b64encode(secrets.token_bytes(48)).decode(),
            principal_id=_principal_for(access_key),
            source_ip=source_ip,
            lifecycle=lifecycle,
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> S3Request:
        """The request a WSGI environ describes: its caller from the signature's credential
        (the Authorization header, or a presigned URL's query) and the lifecycle header."""
        match = _ACCESS_KEY.search(str(environ.get("HTTP_AUTHORIZATION", "")))
        if match is None:
            query = parse_qs(str(environ.get("QUERY_STRING", "")))
            match = _ACCESS_KEY.search(f"Credential={query.get('X-Amz-Credential', [''])[0]}")
        header = "HTTP_" + LIFECYCLE_EXPIRATION_HEADER.upper().replace("-", "_")
        return cls.new(
            access_key=match.group(1) if match else _ANONYMOUS_ACCESS_KEY,
            source_ip=str(environ.get("REMOTE_ADDR") or "127.0.0.1"),
            lifecycle=str(environ.get(header, "")).strip().lower() == "true",
        )


def _principal_for(access_key: str) -> str:
    # "Amazon-customer-ID-of-the-user-who-caused-the-event", e.g. AIDAJDPLRKLG7UEXAMPLE: an IAM
    # user id is AIDA and 17 more characters. A stable one per access key stands in for it.
    digest = hashlib.sha256(access_key.encode()).hexdigest().upper()
    return f"AWS:AIDA{digest[:17]}"

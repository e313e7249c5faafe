"""Writing a chunk: the synthetic event of one object, and the writer that reads a chunk's ledger
items and writes, pinned to "no item", the objects without one.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from s3ledger.core.config import Settings
from s3ledger.core.errors import S3LedgerError
from s3ledger.core.events import ObjectEvent
from s3ledger.core.ledger import ObjectState
from s3ledger.core.order import utc_now
from s3ledger.operate.backfill.report import _Tally
from s3ledger.operate.reconcile import OperatorContext
from s3ledger.operate.scan import get_items
from s3ledger.pipeline.writers.base import Outcome
from s3ledger.pipeline.writers.inbox import InboxWriter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["BACKFILLED_EVENT", "backfill_event"]

BACKFILLED_EVENT: Final = "ObjectCreated:Backfilled"
# BatchGetItem takes at most 100 keys.
_CHUNK: Final = 100


def backfill_event(bucket: str, key: str, state: ObjectState) -> ObjectEvent:
    """The synthetic event that brings ``bucket/key`` into the ledger as ``state``.

    Its time is the snapshot's (``state.as_of``), its identity a digest of the state, so the
    same backfill of the same object is one audit item however often it is tried.
    """
    size = "" if state.size is None else str(state.size)
    identity = "\x1f".join(("backfill", state.etag or "", size, state.version_id or ""))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return ObjectEvent(
        bucket=bucket,
        key=key,
        event_name=BACKFILLED_EVENT,
        event_time=state.as_of or utc_now(),
        size=state.size,
        etag=state.etag,
        version_id=state.version_id,
        identity=f"backfill~{digest}",
    )


class _Writer:
    """Reads a chunk's ledger items and writes, pinned to "no item", the objects without one."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        *,
        bucket: str,
        ledger_table: str,
        audit_table: str,
        tally: _Tally,
        context: OperatorContext,
    ) -> None:
        self._dynamodb = dynamodb
        self._bucket = bucket
        self._ledger_table = ledger_table
        self._tally = tally
        self._context = context
        settings = Settings(mode="inbox", ledger_table=ledger_table, audit_table=audit_table)
        self._local = threading.local()
        self._settings = settings

    def _inbox(self) -> InboxWriter:
        writer: InboxWriter | None = getattr(self._local, "writer", None)  # per thread, lazily
        if writer is None:
            # One writer per thread; it never reads S3 (a backfill writes no removals).
            writer = InboxWriter(self._dynamodb, self._settings, state_reader=_NoReader())
            self._local.writer = writer
        return writer

    def write(self, states: Mapping[str, ObjectState]) -> None:
        keys = list(states)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            items = get_items(
                self._dynamodb, self._ledger_table, "id", (f"{self._bucket}/{k}" for k in chunk)
            )
            written = already = superseded = failed = 0
            for key in chunk:
                if f"{self._bucket}/{key}" in items:
                    already += 1
                    continue
                state = states[key]
                event = backfill_event(self._bucket, key, state)
                try:
                    outcome = self._inbox().write_state(event, state, None, self._context)
                except S3LedgerError:
                    failed += 1
                    continue
                if outcome is Outcome.APPLIED:
                    written += 1
                else:
                    superseded += 1
            self._tally.add(len(chunk), written, already, superseded, failed)


class _NoReader:
    def current(self, bucket: str, key: str) -> ObjectState:  # pragma: no cover - never asked
        raise AssertionError(f"a backfill never reads state: s3://{bucket}/{key}")

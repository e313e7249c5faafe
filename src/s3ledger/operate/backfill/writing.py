"""Writing a chunk: the writer that reads a chunk's ledger items and writes, pinned to "no item",
the objects without one (:class:`s3ledger.pipeline.bulk.BulkWriter`, the code the Step Functions
engine runs too), one writer per thread. The synthetic event is
:func:`s3ledger.core.synthetic.backfill_event`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from s3ledger.core.ledger import ObjectState
from s3ledger.core.synthetic import BACKFILLED_EVENT, backfill_event
from s3ledger.operate.backfill.report import ObjectCounts
from s3ledger.operate.reconcile import OperatorContext
from s3ledger.pipeline.bulk import BulkWriter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["BACKFILLED_EVENT", "ChunkWriter", "backfill_event"]


class ChunkWriter:
    """Reads a chunk's ledger items and writes, pinned to "no item", the objects without one."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        *,
        bucket: str,
        ledger_table: str,
        audit_table: str,
        counts: ObjectCounts,
        context: OperatorContext,
    ) -> None:
        self._dynamodb = dynamodb
        self._bucket = bucket
        self._tables = (ledger_table, audit_table)
        self._counts = counts
        self._context = context
        self._local = threading.local()

    def _bulk(self) -> BulkWriter:
        writer: BulkWriter | None = getattr(self._local, "writer", None)  # per thread, lazily
        if writer is None:
            # One writer per thread; it never reads S3 (a backfill writes no removals).
            writer = BulkWriter(
                self._dynamodb,
                ledger_table=self._tables[0],
                audit_table=self._tables[1],
                state_reader=_NoReader(),
                context=self._context,
            )
            self._local.writer = writer
        return writer

    def write(self, states: Mapping[str, ObjectState]) -> None:
        self._counts.add(self._bulk().backfill(self._bucket, states).counts)


class _NoReader:
    def current(self, bucket: str, key: str) -> ObjectState:  # pragma: no cover - never asked
        raise AssertionError(f"a backfill never reads state: s3://{bucket}/{key}")

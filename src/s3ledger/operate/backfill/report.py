"""What one backfill saw and wrote: :class:`BackfillReport`, and :class:`ObjectCounts`, what its
workers add to."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["BackfillReport", "ObjectCounts", "Source"]

Source = Literal["listing", "inventory"]


@dataclass(frozen=True, slots=True)
class BackfillReport:
    """What one backfill saw and wrote.

    ``objects_seen``: current versions found (delete markers excluded); ``objects_written``: new
    ledger items; ``already_in_ledger``: objects the ledger had; ``superseded``: writes refused
    because a live event (or another run) got there first; ``failed``: writes that failed (the
    next run retries them).
    """

    bucket: str
    source: Source
    units: int
    units_skipped: int
    objects_seen: int
    objects_written: int
    already_in_ledger: int
    superseded: int
    failed: int
    elapsed_seconds: float
    interrupted: bool

    @property
    def objects_per_second(self) -> float:
        return self.objects_seen / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "source": self.source,
            "units": self.units,
            "units_skipped": self.units_skipped,
            "objects_seen": self.objects_seen,
            "objects_written": self.objects_written,
            "already_in_ledger": self.already_in_ledger,
            "superseded": self.superseded,
            "failed": self.failed,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "objects_per_second": round(self.objects_per_second, 1),
            "interrupted": self.interrupted,
        }


@dataclass
class ObjectCounts:
    """The objects a backfill's workers saw, wrote, found in the ledger already, lost to a live
    event (``superseded``) and failed to write, added up across threads."""

    seen: int = 0
    written: int = 0
    already: int = 0
    superseded: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, counts: Mapping[str, int]) -> None:
        """Add a chunk's counts (:class:`s3ledger.pipeline.bulk.BulkResult`'s keys)."""
        with self.lock:
            self.seen += counts.get("objects_seen", 0)
            self.written += counts.get("objects_written", 0)
            self.already += counts.get("already_in_ledger", 0)
            self.superseded += counts.get("superseded", 0)
            self.failed += counts.get("failed", 0)

"""What one backfill saw and wrote: :class:`BackfillReport`, and the tally its workers add to."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["BackfillReport", "Source"]

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
class _Tally:
    seen: int = 0
    written: int = 0
    already: int = 0
    superseded: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seen: int, written: int, already: int, superseded: int, failed: int) -> None:
        with self.lock:
            self.seen += seen
            self.written += written
            self.already += already
            self.superseded += superseded
            self.failed += failed

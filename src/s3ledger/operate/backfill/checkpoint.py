"""Where a backfill resumes: the finished units and each unit's last written key, in a JSON file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from s3ledger.operate.backfill.errors import BackfillError

__all__ = ["Checkpoint", "default_checkpoint"]


class Checkpoint:
    """Finished units and the last written key of units in progress, in a small JSON file.

    Saved (atomically: a temporary file renamed over it) after every page; thread-safe.
    ``path`` ``None`` keeps it in memory only.
    """

    def __init__(self, path: Path | None, run: Mapping[str, str]) -> None:
        self.path = path
        self._run = dict(run)
        self._lock = threading.Lock()
        self.done: set[str] = set()
        self.last_key: dict[str, str] = {}
        if path is not None and path.exists():
            data = json.loads(path.read_text())
            if data.get("run") != self._run:
                raise BackfillError(
                    f"checkpoint {path} is of another run ({data.get('run')}); "
                    "remove it or pass another --checkpoint"
                )
            self.done = set(data.get("done", []))
            self.last_key = dict(data.get("last_key", {}))

    def advance(self, unit: str, key: str) -> None:
        with self._lock:
            self.last_key[unit] = key
            self._save()

    def finish(self, unit: str) -> None:
        with self._lock:
            self.done.add(unit)
            self.last_key.pop(unit, None)
            self._save()

    def remove(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"run": self._run, "done": sorted(self.done), "last_key": self.last_key}
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(temporary, self.path)


def default_checkpoint(bucket: str, prefix: str, inventory: str | None) -> Path:
    """``./.s3ledger-backfill-<bucket>[-<digest of prefix and inventory>].json``."""
    scope = (
        ""
        if not (prefix or inventory)
        else "-" + hashlib.sha256(f"{prefix}\x1f{inventory or ''}".encode()).hexdigest()[:8]
    )
    return Path.cwd() / f".s3ledger-backfill-{bucket}{scope}.json"

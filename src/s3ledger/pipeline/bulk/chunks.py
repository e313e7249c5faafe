"""One chunk of a backfill or a reconcile: read the ledger items of up to 100 keys with one
``BatchGetItem``, and write only what is missing (backfill) or missing or different
(reconcile), each through the ``inbox`` writer's pinned write (``InboxWriter.write_state``).

The one copy of this logic: ``s3ledger backfill``/``reconcile`` on one machine
(:mod:`s3ledger.operate`) and the Step Functions engine's bulk handler
(:mod:`s3ledger.pipeline.bulk.handler`) both call :class:`BulkWriter`. Why the pinned write is
safe while live events flow, and why each synthetic event has the time and identity it has:
docs/exactly-once.md#backfill and #reconcile.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core.config import Settings
from s3ledger.core.errors import S3LedgerError
from s3ledger.core.ledger import ObjectState
from s3ledger.core.synthetic import (
    Discrepancy,
    backfill_event,
    compare,
    is_settling,
    repair_event,
)
from s3ledger.pipeline.dynamodb import BATCH_GET_LIMIT, get_items
from s3ledger.pipeline.invocation import InvocationContext
from s3ledger.pipeline.writers.base import Outcome
from s3ledger.pipeline.writers.inbox import InboxWriter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from s3ledger.pipeline.bucket import StateReader

__all__ = ["BulkResult", "BulkWriter"]

_log = logging.getLogger(__name__)
# Keys a reconcile report names per kind of finding (the rest are counted only).
EXAMPLES: Final = 5


@dataclass
class BulkResult:
    """What chunks found and wrote: counts under the keys of the run's report
    (``objects_written``, ``missing_from_ledger``, ...) and a few example keys per finding.
    Results of chunks, batches and whole runs add up with :meth:`merge`."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    # Keys a reconcile's first pass found different (its second pass leaves them alone).
    found: set[str] = field(default_factory=set)

    def note(self, kind: str, key: str, *, count: bool = True) -> None:
        if count:
            self.counts[kind] += 1
        listed = self.examples.setdefault(kind, [])
        if len(listed) < EXAMPLES:
            listed.append(key)

    def merge(self, other: BulkResult) -> BulkResult:
        self.counts.update(other.counts)
        for kind, keys in other.examples.items():
            listed = self.examples.setdefault(kind, [])
            listed.extend(keys[: max(0, EXAMPLES - len(listed))])
        self.found |= other.found
        return self

    def to_json(self) -> dict[str, Any]:
        """What a bulk handler returns (``found`` stays with the caller)."""
        return {"counts": dict(self.counts), "examples": self.examples}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BulkResult:
        counts = Counter({str(k): int(v) for k, v in dict(data.get("counts", {})).items()})
        examples = {str(k): [str(x) for x in v] for k, v in dict(data.get("examples", {})).items()}
        return cls(counts=counts, examples=examples)


def _failed(bucket: str, key: str, error: S3LedgerError) -> None:
    """Say why an object was not written (its key and the error; never its contents)."""
    _log.warning(
        "write failed; the next run retries it",
        extra={"bucket": bucket, "key": key, "error": type(error).__name__, "reason": str(error)},
    )


def _chunks(keys: Iterable[str]) -> Iterable[list[str]]:
    ordered = list(keys)
    for start in range(0, len(ordered), BATCH_GET_LIMIT):
        yield ordered[start : start + BATCH_GET_LIMIT]


class BulkWriter:
    """Writes chunks of one bucket through one ``InboxWriter`` (not thread-safe: one per thread).

    ``settle_seconds`` and ``apply`` are reconcile's: differences in objects changed within the
    settle window are left for a later run; without ``apply`` nothing is written. ``readers``:
    how many objects' states a reconcile's second pass reads from S3 at once (its state reader
    must then be thread-safe, as ``S3VersionsReader`` is).
    """

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        *,
        ledger_table: str,
        audit_table: str,
        state_reader: StateReader,
        context: InvocationContext,
        settle_seconds: float = 0.0,
        apply: bool = True,
        readers: int = 1,
    ) -> None:
        self._dynamodb = dynamodb
        self._ledger_table = ledger_table
        self._context = context
        self._reader = state_reader
        self._settle_seconds = settle_seconds
        self._apply = apply
        self._readers = readers
        settings = Settings(mode="inbox", ledger_table=ledger_table, audit_table=audit_table)
        self._writer = InboxWriter(dynamodb, settings, state_reader=state_reader)

    def _items(self, bucket: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The chunk's ledger items by key (one consistent ``BatchGetItem``)."""
        found = get_items(self._dynamodb, self._ledger_table, "id", (f"{bucket}/{k}" for k in keys))
        return {str(item["key"]): item for item in found.values()}

    def backfill(self, bucket: str, states: Mapping[str, ObjectState]) -> BulkResult:
        """Write, pinned to "no item", each existing object of ``states`` the ledger lacks."""
        result = BulkResult()
        for chunk in _chunks(key for key, state in states.items() if state.exists):
            items = self._items(bucket, chunk)
            result.counts["objects_seen"] += len(chunk)
            for key in chunk:
                if key in items:
                    result.counts["already_in_ledger"] += 1
                    continue
                event = backfill_event(bucket, key, states[key])
                try:
                    outcome = self._writer.write_state(event, states[key], None, self._context)
                except S3LedgerError as exc:
                    _failed(bucket, key, exc)
                    result.note("failed", key)
                    continue
                applied = outcome is Outcome.APPLIED
                result.counts["objects_written" if applied else "superseded"] += 1
        return result

    def reconcile_listed(self, bucket: str, states: Mapping[str, ObjectState]) -> BulkResult:
        """A reconcile's first pass over listed ``states``: compare each with its ledger item,
        confirm a difference with a fresh read (after the ledger read), and repair it."""
        result = BulkResult()
        result.counts["objects_listed"] += sum(1 for state in states.values() if state.exists)
        for chunk in _chunks(states):
            items = self._items(bucket, chunk)
            for key in chunk:
                item = items.get(key)
                if compare(item, states[key]) is None:
                    continue
                state = self._reader.current(bucket, key)
                kind = compare(item, state)
                if kind is not None:
                    result.found.add(key)
                    self._repair(result, bucket, kind=kind, key=key, item=item, state=state)
        return result

    def reconcile_ledger(
        self, bucket: str, items: Iterable[Mapping[str, Any]], skip: frozenset[str] = frozenset()
    ) -> BulkResult:
        """A reconcile's second pass over ``processed`` ledger items: each object S3 no longer
        has (no listing shows an unversioned delete) is repaired as deleted. ``skip``: keys the
        first pass already counted. The objects' states are read ``readers`` at a time."""
        result = BulkResult()
        todo: list[Mapping[str, Any]] = []
        for item in items:
            result.counts["ledger_items_checked"] += 1
            if str(item["key"]) not in skip:
                todo.append(item)
        states = self._read_states(bucket, [str(item["key"]) for item in todo])
        for item, state in zip(todo, states, strict=True):
            if not state.exists:
                key = str(item["key"])
                self._repair(
                    result, bucket, kind="gone_from_bucket", key=key, item=item, state=state
                )
        return result

    def _read_states(self, bucket: str, keys: list[str]) -> list[ObjectState]:
        """Each key's state from S3, read after its ledger item was (in order of ``keys``)."""
        if self._readers <= 1 or len(keys) <= 1:
            return [self._reader.current(bucket, key) for key in keys]
        with ThreadPoolExecutor(max_workers=min(self._readers, len(keys))) as pool:
            return list(pool.map(lambda key: self._reader.current(bucket, key), keys))

    def _repair(
        self,
        result: BulkResult,
        bucket: str,
        *,
        kind: Discrepancy,
        key: str,
        item: Mapping[str, Any] | None,
        state: ObjectState,
    ) -> None:
        result.note(kind, key)
        if is_settling(state, self._settle_seconds):
            # Its own event may still be on the way: a later run repairs it if it never comes.
            result.counts["settling"] += 1
            result.note("settling", key, count=False)
            return
        if not self._apply:
            return
        event = repair_event(bucket, key, item, state)
        try:
            outcome = self._writer.write_state(event, state, item, self._context)
        except S3LedgerError as exc:
            # One object's failure must not stop the bucket's repair; the next run retries it.
            _failed(bucket, key, exc)
            result.counts["failed"] += 1
            result.note("failed", key, count=False)
            return
        result.counts["repaired" if outcome is Outcome.APPLIED else "superseded"] += 1

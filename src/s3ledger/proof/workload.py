"""A seeded history of S3 events with a known ground truth.

Keys get one to four events each (uploads, overwrites, deletes) with real-shaped sequencers that
grow per key; some keys cross a hex-digit boundary (``FF`` → ``100``), so their sequencers differ
in length. Awkward keys (spaces, ``+``, ``%``, non-ASCII, deep paths) are mixed in.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from s3ledger.events import ObjectEvent

__all__ = ["TruthEvent", "generate_history", "round_prefix"]

_AWKWARD_STEMS = (
    "q3 summary+final",
    "c++ notes 100%",
    "café 日本語",
    "deep/a/b/c/d/e",
    "plus+and space",
    "percent%2Bliteral",
)
_BASE_TIME = 1_764_151_200  # 2025-11-26T10:00:00Z: a fixed clock keeps runs identical


@dataclass(frozen=True, slots=True)
class TruthEvent:
    """One event of the ground truth, and everything the notification says about it."""

    index: int
    bucket: str
    key: str
    removal: bool
    sequencer: str
    body: bytes = b""
    faults: set[str] = field(default_factory=set, compare=False, hash=False)

    @property
    def event_name(self) -> str:
        return "ObjectRemoved:Delete" if self.removal else "ObjectCreated:Put"

    @property
    def etag(self) -> str | None:
        return None if self.removal else hashlib.md5(self.body, usedforsecurity=False).hexdigest()

    @property
    def event_time(self) -> str:
        seconds, millis = divmod(self.index, 1000)
        stamp = _BASE_TIME + seconds
        hours, rest = divmod(stamp % 86_400, 3600)
        return f"2025-11-26T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{millis:03d}Z"

    def object_event(self) -> ObjectEvent:
        return ObjectEvent(
            bucket=self.bucket,
            key=self.key,
            event_name=self.event_name,
            event_time=self.event_time,
            sequencer=self.sequencer,
            size=None if self.removal else len(self.body),
            etag=self.etag,
        )

    def record(self) -> dict[str, Any]:
        """The S3 notification record, key URL-encoded as S3 sends it."""
        obj: dict[str, Any] = {"key": quote_plus(self.key), "sequencer": self.sequencer}
        if not self.removal:
            obj.update(size=len(self.body), eTag=self.etag)
        return {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": self.event_time,
            "eventName": self.event_name,
            "userIdentity": {"principalId": "AWS:CHAOS"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "s3ledger-chaos",
                "bucket": {"name": self.bucket, "arn": f"arn:aws:s3:::{self.bucket}"},
                "object": obj,
            },
        }


def _key(rng: random.Random, number: int) -> str:
    folder = rng.choice(("in", "out", "archive", "tmp"))
    if number % 7 == 0:
        stem = _AWKWARD_STEMS[(number // 7) % len(_AWKWARD_STEMS)]
        return f"{folder}/{stem} {number}.csv"
    return f"{folder}/file-{number:06d}.csv"


def round_prefix(number: int) -> str:
    """The key prefix of one round of the workload (reconcile and checks go round by round)."""
    return f"r{number:04d}/"


def generate_history(
    events: int, seed: int, bucket: str, round_size: int = 1000
) -> Iterator[list[TruthEvent]]:
    """Yield each key's events (oldest first) until ``events`` events exist in all.

    Every key starts with the prefix of the round (``round_size`` events) its first event
    falls in, so a long run can be checked and reconciled one round at a time.
    """
    rng = random.Random(seed)
    index = 0
    number = 0
    while index < events:
        key = round_prefix(index // round_size) + _key(rng, number)
        number += 1
        count = min(events - index, rng.choice((1, 1, 2, 2, 3, 4)))
        # A start just below a digit boundary makes some sequencers one digit longer than the
        # ones before them: "FF" then "100" must still read as older then newer.
        value = rng.choice((0xFE, 0xFFE, rng.randrange(0x1000, 0xFFFFFF)))
        history: list[TruthEvent] = []
        for position in range(count):
            value += rng.randrange(1, 3)
            removal = position > 0 and rng.random() < 0.25
            body = b"" if removal else f"{key} v{position} {rng.random()}".encode()
            history.append(
                TruthEvent(
                    index=index,
                    bucket=bucket,
                    key=key,
                    removal=removal,
                    sequencer=f"{value:X}",
                    body=body,
                )
            )
            index += 1
        yield history

"""The order of one object's events: S3's sequencer rule, and what to do where the clocks cannot
tell.

Pure: no boto3, no I/O. The rule is stated twice, in Python (:func:`place`) and as the DynamoDB
conditions the ledger's update carries (:data:`SEQUENCED_IS_NEWER`, :data:`UNSEQUENCED_IS_NEWER`);
``tests/local/test_order_conditions.py`` checks on DynamoDB Local that the two agree.

**Sequenced events.** S3's *Event message structure* page
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html):
the sequencer "provides a way to determine the sequence of events", for PUTs and DELETEs of one
key; "to compare these values, first right pad the shorter value with zeros, and then do a
lexicographical comparison." So a sequencer is upper-cased and right-padded with zeros to
:data:`SEQUENCER_WIDTH` hex digits; plain string order is then S3's order, in Python and in a
DynamoDB condition. Sequencers order the events of one key only.

**Where only a clock is left.** S3 Lifecycle's expirations may carry no sequencer
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configure-notification.html),
and the ledger's repairs (backfill, reconcile) are reads of S3, not events. They can be placed
only by a clock: ``eventTime`` (milliseconds), EventBridge's ``time`` (whole seconds:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html) or S3's ``Date`` header
(whole seconds: https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonResponseHeaders.html).
AWS documents no skew bound between those clocks, so two times closer than one whole second plus
:data:`CLOCK_MARGIN_SECONDS` are :attr:`Place.UNORDERED`: the writer then asks S3
(docs/semantics.md#never-guess-an-order) and never breaks the tie itself.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

from s3ledger.core.errors import MalformedRecordError, SequencerError

__all__ = [
    "CLOCK_MARGIN_SECONDS",
    "SEQUENCED_IS_NEWER",
    "SEQUENCER_WIDTH",
    "UNSEQUENCED_IS_NEWER",
    "EventOrder",
    "LedgerMarks",
    "Place",
    "clearly_before",
    "compare_sequencers",
    "is_newer",
    "normalize_event_time",
    "pad_sequencer",
    "place",
    "utc_now",
]

# S3's sequencers are 16 to 18 hex digits in practice; 32 leaves room and keeps items small.
SEQUENCER_WIDTH: Final = 32
# The skew allowed between two AWS clocks (eventTime, EventBridge's time, the Date header) on top
# of their whole-second resolution. AWS documents none; a wider margin costs only S3 reads.
CLOCK_MARGIN_SECONDS: Final = 1

_HEX: Final = frozenset(string.hexdigits)

# The same rule as place(...) is Place.NEWER, as DynamoDB evaluates it on the ledger item.
# Placeholders: :sequencer (padded) and :clear (the event's clearly_before, see EventOrder).
SEQUENCED_IS_NEWER: Final = (
    "attribute_not_exists(#id) OR ("
    "(attribute_not_exists(#sequencer) OR #sequencer < :sequencer) AND "
    "(attribute_not_exists(#time_mark) OR #time_mark < :clear))"
)
UNSEQUENCED_IS_NEWER: Final = (
    "attribute_not_exists(#id) OR ("
    "(attribute_not_exists(#time_mark) OR #time_mark < :clear) AND "
    "(attribute_not_exists(#event_time) OR #event_time < :clear))"
)


class Place(StrEnum):
    """Where an event stands against the ledger's state."""

    NEWER = "newer"  # it comes after what the ledger shows: it may move the ledger
    OLDER = "older"  # it comes before (or the ledger shows it already): it must not
    UNORDERED = "unordered"  # the clocks at hand cannot tell: ask S3


def pad_sequencer(sequencer: str) -> str:
    """``sequencer`` upper-cased and right-padded with zeros, as S3 says to compare them.

    >>> pad_sequencer("0062E99A88DC4075") > pad_sequencer("0062E99A88DC407460")
    True
    """
    if not sequencer or len(sequencer) > SEQUENCER_WIDTH:
        raise SequencerError(
            f"sequencer must be 1 to {SEQUENCER_WIDTH} hex digits, got {len(sequencer)}"
        )
    if not _HEX.issuperset(sequencer):
        raise SequencerError(f"sequencer is not hexadecimal: {sequencer!r}")
    return sequencer.upper().ljust(SEQUENCER_WIDTH, "0")


def compare_sequencers(a: str, b: str) -> int:
    """Order two sequencers of one key: negative if ``a`` is older, 0 if equal, else positive."""
    pa, pb = pad_sequencer(a), pad_sequencer(b)
    return (pa > pb) - (pa < pb)


def utc_now() -> str:
    """Now, in the form of :func:`normalize_event_time` (the audit items' ``processed_at``)."""
    return _utc_form(datetime.now(UTC))


def normalize_event_time(event_time: str) -> str:
    """``event_time`` in one fixed form, ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC), so strings sort as
    times do. S3 notifications carry milliseconds; EventBridge's ``time`` has whole seconds."""
    try:
        moment = datetime.fromisoformat(event_time)
    except (TypeError, ValueError):
        raise MalformedRecordError(f"event time is not ISO 8601: {event_time!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _utc_form(moment)


def _utc_form(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@lru_cache(maxsize=4096)
def clearly_before(time: str) -> str:
    """The instant every time *clearly before* ``time`` is earlier than (normalized form).

    ``time`` and the other time may each be whole seconds (EventBridge, ``Date``), and their
    clocks may differ by :data:`CLOCK_MARGIN_SECONDS`: ``u`` is clearly before ``time`` only if
    its whole second is at least ``1 + margin`` seconds before ``time``'s, that is, if
    ``u < floor(time) - margin``. A time key (``time~digest``) compares the same way as a string.
    """
    moment = datetime.fromisoformat(time[:23] + "+00:00").replace(microsecond=0)
    return _utc_form(moment - timedelta(seconds=CLOCK_MARGIN_SECONDS))


def _time_of(time_key: str) -> str:
    return time_key.split("~", 1)[0]


@dataclass(frozen=True, slots=True)
class EventOrder:
    """Where one event stands among its key's events.

    ``sequencer`` is padded (or ``None``); ``event_time`` is normalized; ``time_key`` is
    ``event_time`` for a sequenced event, ``event_time~digest`` for an unsequenced one.
    """

    sequencer: str | None
    event_time: str
    time_key: str

    @property
    def clear(self) -> str:
        """Ledger times below this are clearly before this event (the conditions' ``:clear``)."""
        return clearly_before(self.event_time)


@dataclass(frozen=True, slots=True)
class LedgerMarks:
    """What a ledger item records of the order it has reached."""

    sequencer: str | None
    time_mark: str | None
    event_time: str

    @classmethod
    def of(cls, item: Mapping[str, Any] | None) -> LedgerMarks | None:
        """The marks of a ledger item in plain form (``None`` for no item)."""
        if item is None:
            return None
        sequencer, time_mark = item.get("sequencer"), item.get("time_mark")
        return cls(
            sequencer=None if sequencer is None else str(sequencer),
            time_mark=None if time_mark is None else str(time_mark),
            event_time=str(item.get("event_time", "")),
        )

    def after(self, order: EventOrder) -> LedgerMarks:
        """The marks once an event at ``order`` moved the ledger from this state.

        Marks only grow: ``max`` keeps a write whose place was decided by S3 (not by the marks)
        from moving one back.
        """
        if order.sequencer is not None:
            sequencer = max(filter(None, (self.sequencer, order.sequencer)))
            return LedgerMarks(sequencer, self.time_mark, order.event_time)
        time_mark = max(filter(None, (self.time_mark, order.time_key)))
        return LedgerMarks(self.sequencer, time_mark, order.event_time)


def place(order: EventOrder, marks: LedgerMarks | None) -> Place:
    """Where an event at ``order`` stands against the ledger state that has ``marks``."""
    if marks is None:
        return Place.NEWER
    if order.sequencer is not None:
        if marks.sequencer is not None and marks.sequencer >= order.sequencer:
            return Place.OLDER  # S3's own order: this event, or one before it
        clocks = [marks.time_mark] if marks.time_mark else []
    else:
        if marks.time_mark == order.time_key:
            return Place.OLDER  # this very event is the ledger's newest unsequenced write
        clocks = [mark for mark in (marks.time_mark, marks.event_time) if mark]
    if all(clock < order.clear for clock in clocks):
        return Place.NEWER
    if any(order.event_time < clearly_before(_time_of(clock)) for clock in clocks):
        return Place.OLDER
    return Place.UNORDERED


def is_newer(order: EventOrder, marks: LedgerMarks | None) -> bool:
    """Would the ledger's conditional update take an event at ``order``? (``place`` is NEWER)"""
    return place(order, marks) is Place.NEWER

"""The order of one object's events: S3's sequencer rule, and the fallback where there is none.

Pure: no boto3, no I/O. The rule is stated twice, in Python (:func:`is_newer`) and as the
DynamoDB conditions the ledger's update carries (:data:`SEQUENCED_IS_NEWER`,
:data:`UNSEQUENCED_IS_NEWER`); ``tests/local/test_order_conditions.py`` checks on DynamoDB Local
that the two statements agree.

**Sequenced events.** S3's *Event message structure* page
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html):
the sequencer "provides a way to determine the sequence of events", for PUTs and DELETEs of one
key; "the sequencers can be of different lengths. So, to compare these values, first right pad
the shorter value with zeros, and then do a lexicographical comparison." So a sequencer is
upper-cased and right-padded with zeros to :data:`SEQUENCER_WIDTH` hex digits; plain string
order is then S3's order, in Python and in a DynamoDB condition. ``0062E99A88DC4075`` is newer
than ``0062E99A88DC407460`` (left-padding, which an older copy of the page suggested, says the
opposite). Sequencers order the events of one key only, never across keys.

**Events without a sequencer.** The sequencer is documented for PUT and DELETE events only;
S3 Lifecycle's expiration events may carry none (see the example on *Configuring S3 Lifecycle
event notifications*), and some emulators send none at all. Between such an event and any other
event of its key the only clock left is ``eventTime`` ("when Amazon S3 finished processing the
request"), so the ledger keeps two marks:

* ``sequencer``: the greatest sequencer it applied (sequenced events compare with it);
* ``time_mark``: the greatest *time key* of an unsequenced event it applied (or of a repair,
  see reconcile), where a time key is the event time in milliseconds, ``~`` and a digest of the
  event, so two unsequenced events of one millisecond are still ordered, and ordered the same
  way on every delivery.

========================  ==================================================================
event                     newer than the ledger's state when
========================  ==================================================================
sequenced (s, time t)     s > ``sequencer`` (or none yet) **and** t > ``time_mark`` (or none)
unsequenced (time key k)  k > ``time_mark`` (or none) **and** k > the state's ``event_time``
========================  ==================================================================

A sequenced event is therefore never frozen out by an unsequenced one: it only has to be later
in time than the unsequenced events applied before it (the old rule put every unsequenced key
after every sequencer, which froze the key). Limits, stated in the README: between a sequenced
and an unsequenced event of one key, order is eventTime's, so two of them within S3's clock
skew (or within the same millisecond: the unsequenced one counts as later) may be misordered.
Lifecycle acts on versions at least a day old, so in practice only a user's request racing the
lifecycle action itself can meet that case.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from s3ledger.core.errors import MalformedRecordError, SequencerError

__all__ = [
    "SEQUENCED_IS_NEWER",
    "SEQUENCER_WIDTH",
    "UNSEQUENCED_IS_NEWER",
    "EventOrder",
    "LedgerMarks",
    "compare_sequencers",
    "is_newer",
    "normalize_event_time",
    "pad_sequencer",
]

# S3's sequencers are 16 to 18 hex digits in practice; 32 leaves room and keeps items small.
SEQUENCER_WIDTH: Final = 32

_HEX: Final = frozenset(string.hexdigits)

# The same rule as is_newer, as DynamoDB evaluates it on the ledger item. Placeholders:
# :sequencer (padded), :event_time (normalized), :time_key.
SEQUENCED_IS_NEWER: Final = (
    "attribute_not_exists(#id) OR ("
    "(attribute_not_exists(#sequencer) OR #sequencer < :sequencer) AND "
    "(attribute_not_exists(#time_mark) OR #time_mark < :event_time))"
)
UNSEQUENCED_IS_NEWER: Final = (
    "attribute_not_exists(#id) OR ("
    "(attribute_not_exists(#time_mark) OR #time_mark < :time_key) AND #event_time < :time_key)"
)


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


@dataclass(frozen=True, slots=True)
class EventOrder:
    """Where one event stands among its key's events.

    ``sequencer`` is padded (or ``None``); ``event_time`` is normalized; ``time_key`` is
    ``event_time`` for a sequenced event, ``event_time~digest`` for an unsequenced one.
    """

    sequencer: str | None
    event_time: str
    time_key: str


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
        """The marks once an event at ``order`` is applied over this state.

        Marks only grow: ``max`` is a no-op for an event that :func:`is_newer` let through, and
        keeps a repair (whose place is not decided by the marks) from moving one back.
        """
        if order.sequencer is not None:
            sequencer = max(filter(None, (self.sequencer, order.sequencer)))
            return LedgerMarks(sequencer, self.time_mark, order.event_time)
        time_mark = max(filter(None, (self.time_mark, order.time_key)))
        return LedgerMarks(self.sequencer, time_mark, order.event_time)


def is_newer(order: EventOrder, marks: LedgerMarks | None) -> bool:
    """Is an event at ``order`` newer than the ledger state that has ``marks``? (see the table)"""
    if marks is None:
        return True
    after_unsequenced = marks.time_mark is None or marks.time_mark < (
        order.event_time if order.sequencer is not None else order.time_key
    )
    if order.sequencer is not None:
        return after_unsequenced and (marks.sequencer is None or marks.sequencer < order.sequencer)
    return after_unsequenced and marks.event_time < order.time_key

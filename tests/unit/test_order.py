"""The order of one key's events (``core.order``): S3's right-pad rule and the time mark."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3ledger.core.errors import MalformedRecordError
from s3ledger.core.events import Effect, ObjectEvent
from s3ledger.core.order import (
    EventOrder,
    LedgerMarks,
    Place,
    is_newer,
    normalize_event_time,
    pad_sequencer,
    place,
)

T0 = "2026-11-26T10:00:00.000Z"
T1 = "2026-11-26T10:00:10.000Z"
T2 = "2026-11-26T10:00:20.000Z"


def sequenced(sequencer: str, time: str = T1) -> EventOrder:
    return EventOrder(pad_sequencer(sequencer), time, time)


def unsequenced(time: str, digest: str = "d") -> EventOrder:
    return EventOrder(None, time, f"{time}~{digest}")


def marks_after(*orders: EventOrder) -> LedgerMarks | None:
    """The marks of a ledger that applied ``orders`` in turn (each must be newer)."""
    marks: LedgerMarks | None = None
    for order in orders:
        assert is_newer(order, marks)
        marks = (marks or LedgerMarks(None, None, "")).after(order)
    return marks


def test_the_documented_pair_is_ordered_by_right_padding() -> None:
    """S3: right-pad the shorter sequencer, then compare: ``…4075`` is newer than ``…407460``."""
    older, newer = sequenced("0062E99A88DC407460"), sequenced("0062E99A88DC4075")
    assert is_newer(newer, marks_after(older))
    assert place(older, marks_after(newer)) is Place.OLDER


def test_an_event_is_not_newer_than_itself() -> None:
    order = sequenced("0A")
    assert place(order, marks_after(order)) is Place.OLDER
    lifecycle = unsequenced(T1)
    assert place(lifecycle, marks_after(lifecycle)) is Place.OLDER


def test_a_later_sequenced_event_follows_a_lifecycle_event() -> None:
    """The old rule froze a key after an unsequenced event; a later PUT must still apply."""
    marks = marks_after(sequenced("01", T0), unsequenced(T1))
    assert is_newer(sequenced("02", T2), marks)


def test_a_sequenced_event_clearly_older_than_a_lifecycle_event_is_older() -> None:
    """A PUT that S3 finished seconds before the lifecycle expiry, delivered after it."""
    marks = marks_after(sequenced("01", T0), unsequenced(T2))
    assert place(sequenced("02", T1), marks) is Place.OLDER


def test_a_lifecycle_event_is_placed_against_the_ledgers_last_event() -> None:
    assert place(unsequenced(T0), marks_after(sequenced("05", T1))) is Place.OLDER
    assert place(unsequenced(T2), marks_after(sequenced("05", T1))) is Place.NEWER


@pytest.mark.parametrize(
    ("mark_time", "event_time", "expected"),
    [
        # Whole seconds either side and a second of skew: whole seconds two apart are "clearly".
        ("2026-11-26T10:00:07.000Z", "2026-11-26T10:00:07.000Z", Place.UNORDERED),
        ("2026-11-26T10:00:07.000Z", "2026-11-26T10:00:08.999Z", Place.UNORDERED),
        ("2026-11-26T10:00:07.999Z", "2026-11-26T10:00:09.000Z", Place.NEWER),
        ("2026-11-26T10:00:09.000Z", "2026-11-26T10:00:08.000Z", Place.UNORDERED),
        ("2026-11-26T10:00:09.999Z", "2026-11-26T10:00:08.000Z", Place.UNORDERED),
        ("2026-11-26T10:00:09.000Z", "2026-11-26T10:00:07.999Z", Place.OLDER),
    ],
)
def test_clocks_order_only_what_is_clearly_apart(
    mark_time: str, event_time: str, expected: Place
) -> None:
    """A repair's whole-second mark and an EventBridge event's whole-second time: within one
    second plus the margin, neither is newer, whatever the strings say."""
    marks = LedgerMarks(None, f"{mark_time}~reconcile~abc", mark_time)
    assert place(sequenced("01", event_time), marks) is expected


def test_in_one_second_neither_tier_is_newer() -> None:
    """The old rule counted the unsequenced event as later in a tie; now S3 is asked both ways."""
    assert place(unsequenced(T1), marks_after(sequenced("05", T1))) is Place.UNORDERED
    assert place(sequenced("06", T1), marks_after(unsequenced(T1))) is Place.UNORDERED


def test_unsequenced_events_of_one_second_are_unordered() -> None:
    """No tie-break by digest: two lifecycle events of one second are placed by S3."""
    a, b = unsequenced(T1, "aaa"), unsequenced(T1, "bbb")
    assert place(b, marks_after(a)) is Place.UNORDERED
    assert place(a, marks_after(b)) is Place.UNORDERED


def test_marks_only_grow() -> None:
    marks = LedgerMarks(pad_sequencer("05"), f"{T2}~z", T2)
    after = marks.after(unsequenced(T1, "a"))
    assert after.time_mark == f"{T2}~z"
    assert after.after(sequenced("01", T0)).sequencer == pad_sequencer("05")


sequencers = st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=20)


@given(st.lists(sequencers, min_size=2, max_size=6, unique_by=pad_sequencer))
def test_sequenced_events_apply_exactly_in_right_padded_order(values: list[str]) -> None:
    """Whatever order they come in, a sequenced event applies iff it is greater than all
    applied before it (right-padded), and the ledger ends at the greatest."""
    marks: LedgerMarks | None = None
    for value in values:
        order = sequenced(value)
        expected = marks is None or pad_sequencer(value) > (marks.sequencer or "")
        assert is_newer(order, marks) == expected
        if expected:
            marks = (marks or LedgerMarks(None, None, "")).after(order)
    assert marks is not None
    assert marks.sequencer == max(pad_sequencer(v) for v in values)


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("2026-11-26T10:00:00.123Z", "2026-11-26T10:00:00.123Z"),
        ("2026-11-26T10:00:00Z", "2026-11-26T10:00:00.000Z"),
        ("2026-11-26T11:00:00+01:00", "2026-11-26T10:00:00.000Z"),
        ("2026-11-26T10:00:00.123456Z", "2026-11-26T10:00:00.123Z"),
    ],
)
def test_event_times_normalize_to_one_sortable_form(text: str, normalized: str) -> None:
    assert normalize_event_time(text) == normalized


def test_an_unreadable_time_is_a_malformed_record() -> None:
    with pytest.raises(MalformedRecordError):
        normalize_event_time("last tuesday")


# The README's event table, row by row: event type (and whether it names a version) → effect.
@pytest.mark.parametrize(
    ("event_name", "version_id", "effect"),
    [
        ("ObjectCreated:Put", "v2", Effect.CURRENT),
        ("ObjectCreated:Post", None, Effect.CURRENT),
        ("ObjectCreated:Copy", "v2", Effect.CURRENT),
        ("ObjectCreated:CompleteMultipartUpload", "v2", Effect.CURRENT),
        ("ObjectRemoved:DeleteMarkerCreated", "dm1", Effect.HIDDEN),
        ("LifecycleExpiration:DeleteMarkerCreated", "dm1", Effect.HIDDEN),
        ("ObjectRemoved:Delete", None, Effect.HIDDEN),
        ("LifecycleExpiration:Delete", None, Effect.HIDDEN),
        ("ObjectRemoved:Delete", "v1", Effect.RESOLVE),
        ("ObjectRemoved:Delete", "null", Effect.RESOLVE),
        ("LifecycleExpiration:Delete", "v1", Effect.RESOLVE),
    ],
)
def test_every_object_event_type_has_its_effect(
    event_name: str, version_id: str | None, effect: Effect
) -> None:
    event = ObjectEvent("b", "k", event_name, T0, sequencer="01", version_id=version_id)
    assert event.effect is effect

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
    is_newer,
    normalize_event_time,
    pad_sequencer,
)

T0 = "2026-11-26T10:00:00.000Z"
T1 = "2026-11-26T10:00:01.000Z"
T2 = "2026-11-26T10:00:02.000Z"


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
    assert not is_newer(older, marks_after(newer))


def test_an_event_is_not_newer_than_itself() -> None:
    order = sequenced("0A")
    assert not is_newer(order, marks_after(order))
    lifecycle = unsequenced(T1)
    assert not is_newer(lifecycle, marks_after(lifecycle))


def test_a_later_sequenced_event_follows_a_lifecycle_event() -> None:
    """The old rule froze a key after an unsequenced event; a later PUT must still apply."""
    marks = marks_after(sequenced("01", T0), unsequenced(T1))
    assert is_newer(sequenced("02", T2), marks)


def test_a_sequenced_event_older_than_a_lifecycle_event_is_stale() -> None:
    """A PUT that S3 finished before the lifecycle expiry, delivered after it, is older."""
    marks = marks_after(sequenced("01", T0), unsequenced(T2))
    assert not is_newer(sequenced("02", T1), marks)


def test_a_lifecycle_event_older_than_the_ledgers_state_is_stale() -> None:
    assert not is_newer(unsequenced(T0), marks_after(sequenced("05", T1)))
    assert is_newer(unsequenced(T2), marks_after(sequenced("05", T1)))


def test_in_one_millisecond_the_unsequenced_event_counts_as_later() -> None:
    """Ties between the tiers go one way, both ways round: no cycle."""
    assert is_newer(unsequenced(T1), marks_after(sequenced("05", T1)))
    assert not is_newer(sequenced("06", T1), marks_after(unsequenced(T1)))


def test_unsequenced_events_of_one_millisecond_are_ordered_by_digest() -> None:
    a, b = unsequenced(T1, "aaa"), unsequenced(T1, "bbb")
    assert is_newer(b, marks_after(a))
    assert not is_newer(a, marks_after(b))


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

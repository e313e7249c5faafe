"""Planning inbox-batch's waves: DynamoDB's limits, and one object's events kept in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from s3ledger.core.events import ObjectEvent
from s3ledger.pipeline.writers.inbox_batch import plan_waves


def event(key: str, sequencer: int) -> ObjectEvent:
    return ObjectEvent(
        "b", key, "ObjectCreated:Put", "2026-11-26T10:00:00Z", sequencer=f"{sequencer:X}"
    )


def test_distinct_objects_share_one_wave() -> None:
    events = [event(f"k{i}", 1) for i in range(10)]
    assert plan_waves(events, 50) == [list(range(10))]


def test_events_of_one_object_go_in_successive_waves() -> None:
    """Two actions on one item are not allowed in one transaction: v1, v2, v3 take three waves."""
    events = [event("a", 1), event("b", 1), event("a", 2), event("a", 3), event("c", 1)]
    assert plan_waves(events, 50) == [[0, 1, 4], [2], [3]]


def test_a_wave_never_exceeds_the_action_limit() -> None:
    events = [event(f"k{i}", 1) for i in range(120)]
    assert [len(w) for w in plan_waves(events, 50)] == [50, 50, 20]


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(1, 9)), max_size=60))
def test_every_event_is_planned_once_within_the_limits(pairs: list[tuple[str, int]]) -> None:
    """Any batch: each event in exactly one wave, ≤ 50 per wave, one per object, order kept."""
    events = [event(key, seq) for key, seq in pairs]
    waves = plan_waves(events, 50)
    assert sorted(p for w in waves for p in w) == list(range(len(events)))
    wave_of = {p: n for n, w in enumerate(waves) for p in w}
    for wave in waves:
        assert len(wave) <= 50
        assert len({events[p].object_id for p in wave}) == len(wave)
    for p in range(len(events)):
        for q in range(p):
            if events[q].object_id == events[p].object_id:
                assert wave_of[q] < wave_of[p]

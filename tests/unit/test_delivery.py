"""``s3ledger chaos``' delivery plan, without an emulator: fault rates and who gets what.

``FaultRates.parse`` reads ``--faults``; ``plan_deliveries`` turns S3's events into the lanes'
messages with the workload faults (reorder, drop, duplicate, poison) decided by the seed. Both
are pure, so their promises (determinism, disjoint lanes, each fault doing what it says) are
checked here directly.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter

import pytest

from s3ledger.core.errors import PoisonError
from s3ledger.core.events import parse_sqs_body
from s3ledger.proof.chaos import ChaosPlan, plan_deliveries
from s3ledger.proof.checker import Notification
from s3ledger.proof.delivery import FAULT_KINDS, FaultRates

BUCKET = "chaos-bucket"
LANES = 3

# ------------------------------------------------------------------------------ FaultRates.parse


def test_all_gives_every_fault_its_default_rate() -> None:
    """``all`` turns on every kind, each at its documented default."""
    rates = FaultRates.parse("all")
    assert all(rates[kind] > 0 for kind in FAULT_KINDS)
    assert rates["duplicate"] == 0.10
    assert rates["deadline"] == 0.005


@pytest.mark.parametrize("text", ["none", "", " , "])
def test_none_or_nothing_turns_every_fault_off(text: str) -> None:
    """``none`` (or an empty list) gives a rate of zero for every kind."""
    rates = FaultRates.parse(text)
    assert [rates[kind] for kind in FAULT_KINDS] == [0.0] * len(FAULT_KINDS)


def test_a_list_sets_only_the_kinds_it_names() -> None:
    """``kind=rate`` sets that rate, a bare kind takes its default, spaces around parts are
    fine, and every kind left out is off."""
    rates = FaultRates.parse("crash=0.5, drop ,poison=1")
    assert rates["crash"] == 0.5
    assert rates["drop"] == FaultRates.parse("all")["drop"] == 0.02
    assert rates["poison"] == 1.0
    assert rates["duplicate"] == 0.0
    assert rates.rates == {"crash": 0.5, "drop": 0.02, "poison": 1.0}


def test_an_unknown_kind_is_refused_with_the_kinds_to_choose_from() -> None:
    with pytest.raises(ValueError, match=r"unknown fault 'flood': choose from duplicate, reorder"):
        FaultRates.parse("crash,flood")


def test_reading_the_rate_of_an_unknown_fault_raises_naming_it() -> None:
    """A misspelt kind read from the rates raises KeyError naming it, rather than reading as a
    fault that never strikes; a known kind the run leaves out reads 0.0."""
    rates = FaultRates.parse("crash")
    assert rates["drop"] == 0.0
    with pytest.raises(KeyError, match=r"unknown fault 'crahs': choose from duplicate"):
        rates["crahs"]


@pytest.mark.parametrize("text", ["crash=1.5", "drop=-0.1"])
def test_a_rate_outside_zero_to_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"must be between 0 and 1"):
        FaultRates.parse(text)


def test_a_rate_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ValueError, match=r"could not convert"):
        FaultRates.parse("crash=often")


# ------------------------------------------------------------------------------ plan_deliveries


def histories(keys: int = 30, events_per_key: int = 3) -> list[list[Notification]]:
    """Fresh notifications (the plan marks their faults): keys ``k0``... with a few events each,
    numbered in S3's order; every third key has a single event."""
    out: list[list[Notification]] = []
    index = 0
    for k in range(keys):
        history = []
        for _ in range(1 if k % 3 == 0 else events_per_key):
            body = json.dumps({"Records": [{"index": index}]})
            history.append(Notification(index, f"k{k}", f"REQ{index}", "ObjectCreated:Put", body))
            index += 1
        out.append(history)
    return out


def plan(rates: str, seed: int = 7, keys: int = 30) -> tuple[list[list[Notification]], ChaosPlan]:
    made = histories(keys)
    return made, plan_deliveries(made, FaultRates.parse(rates), seed, LANES, BUCKET)


def fingerprint(rates: str, seed: int) -> list[list[tuple[str, bool, float]]]:
    _, result = plan(rates, seed)
    return [[(m.body, m.concurrent_twin, m.order) for m in lane] for lane in result.lanes]


def test_without_faults_every_event_is_delivered_once_on_its_key_s_lane() -> None:
    """No fault: one message per event, nothing injected, every event delivered, and all of a
    key's messages on one lane (the lane its key hashes to), so lanes never share an object."""
    made = histories()
    result = plan_deliveries(made, FaultRates.parse("none"), 7, LANES, BUCKET)
    everything = [n for history in made for n in history]
    messages = [m for lane in result.lanes for m in lane]
    assert len(result.lanes) == LANES
    assert sorted(m.notification.index for m in messages if m.notification) == [
        n.index for n in everything
    ]
    assert len(messages) == len(everything)
    assert result.injected == Counter()
    assert result.truth.delivered == {n.index for n in everything}
    assert result.truth.notifications == everything
    assert result.truth.bucket == BUCKET
    for number, lane in enumerate(result.lanes):
        for message in lane:
            assert message.notification is not None
            assert zlib.crc32(message.notification.key.encode()) % LANES == number
            assert message.body == message.notification.body
            assert not message.concurrent_twin
    assert all(not n.faults for n in everything)


def test_each_lane_is_in_delivery_time_order() -> None:
    """A lane plays its messages in the order of their planned delivery times."""
    _, result = plan("all")
    for lane in result.lanes:
        orders = [m.order for m in lane]
        assert orders == sorted(orders)


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    """Determinism is what makes ``chaos --seed`` replayable."""
    assert fingerprint("all", 2026) == fingerprint("all", 2026)
    assert fingerprint("all", 2026) != fingerprint("all", 2027)


def test_a_dropped_event_is_never_delivered_and_is_marked() -> None:
    """``drop=1``: no message at all; S3's events are still in the truth, each marked dropped."""
    made, result = plan("drop=1")
    everything = [n for history in made for n in history]
    assert all(lane == [] for lane in result.lanes)
    assert result.truth.delivered == set()
    assert len(result.truth.notifications) == len(everything)
    assert all("drop" in n.faults for n in everything)
    assert result.injected == Counter({"drop": len(everything)})


def test_a_duplicate_is_a_second_message_or_a_concurrent_twin() -> None:
    """``duplicate=1``: every event is duplicated, either as a later second message (marked
    ``duplicate``) or as one message delivered to two sandboxes at once (``concurrent_twin``)."""
    made, result = plan("duplicate=1")
    everything = [n for history in made for n in history]
    copies = Counter(m.notification.index for lane in result.lanes for m in lane if m.notification)
    twins = {
        m.notification.index
        for lane in result.lanes
        for m in lane
        if m.concurrent_twin and m.notification
    }
    assert result.injected == Counter({"duplicate": len(everything)})
    assert twins  # both kinds occur with this many events
    assert len(twins) < len(everything)
    for n in everything:
        if n.index in twins:
            assert copies[n.index] == 1
            assert "duplicate" not in n.faults
        else:
            assert copies[n.index] == 2
            assert "duplicate" in n.faults


def test_poison_adds_an_unparseable_message_beside_the_event() -> None:
    """``poison=1``: one poison message per event (no notification; a body the parser rejects
    as poison), and the event itself is still delivered."""
    made, result = plan("poison=1")
    everything = [n for history in made for n in history]
    messages = [m for lane in result.lanes for m in lane]
    poison = [m for m in messages if m.notification is None]
    assert len(poison) == len(everything)
    assert len(messages) == 2 * len(everything)
    assert result.injected == Counter({"poison": len(everything)})
    assert result.truth.delivered == {n.index for n in everything}
    for message in poison:
        with pytest.raises(PoisonError):
            parse_sqs_body(message.body)


def test_reorder_marks_every_event_of_a_key_with_more_than_one() -> None:
    """``reorder=1``: each key with several events has them all marked ``reorder`` (and counted
    once per key); a key with one event cannot be reordered and is left alone."""
    made, result = plan("reorder=1")
    several = [h for h in made if len(h) > 1]
    single = [h for h in made if len(h) == 1]
    assert several
    assert single
    assert result.injected == Counter({"reorder": len(several)})
    assert all("reorder" in n.faults for h in several for n in h)
    assert all(not n.faults for h in single for n in h)

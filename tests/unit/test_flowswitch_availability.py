"""Availability clustering: all traffic to one primary, one promotion, no preemption."""
import pytest
from hypothesis import given, settings, strategies as st

from hitless.flowswitch.availability import (PRIMARY, SECONDARY_FAILED, SECONDARY_OPERATIONAL,
                                             Availability)


def test_preferred_becomes_primary_when_up():
    a = Availability(["a", "b", "c"], preferred="b", up=["a", "b", "c"])
    # "a" came up first and was promoted before b: no preemption even at start
    assert a.primary == "a"
    a = Availability(["a", "b", "c"], preferred="b")
    a.server_up("b")
    a.server_up("a")
    assert a.primary == "b"


def test_failure_promotes_exactly_one_and_recovery_does_not_preempt():
    a = Availability(["a", "b", "c"])
    for s in "abc":
        a.server_up(s)
    assert a.primary == "a" and a.promotions == 1
    assert a.server_down("a") == "b"
    assert a.promotions == 2
    assert a.states == {"a": SECONDARY_FAILED, "b": PRIMARY, "c": SECONDARY_OPERATIONAL}
    assert a.server_up("a") == "b"
    assert a.states["a"] == SECONDARY_OPERATIONAL
    assert a.promotions == 2


def test_secondary_failure_does_not_promote():
    a = Availability(["a", "b", "c"], up="abc")
    a.server_down("c")
    assert a.primary == "a" and a.promotions == 1


def test_all_down_then_one_up_is_promoted():
    a = Availability(["a", "b"], up="ab")
    a.server_down("a")
    a.server_down("b")
    assert a.primary is None
    a.server_up("a")
    assert a.primary == "a"


def test_restore_adopts_previous_primary():
    a = Availability(["a", "b", "c"], preferred="a")
    a.restore("c", up=["a", "c"])
    assert a.primary == "c" and a.states["a"] == SECONDARY_OPERATIONAL


def test_unknown_preferred_rejected():
    with pytest.raises(ValueError):
        Availability(["a"], preferred="x")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.booleans()), max_size=40))
def test_property_at_most_one_primary_and_never_preempted(events):
    a = Availability(list("abcd"))
    for s, up in events:
        before = a.primary
        (a.server_up if up else a.server_down)(s)
        prim = [x for x, st_ in a.states.items() if st_ == PRIMARY]
        assert len(prim) <= 1
        # a primary exists whenever some server is operational
        if any(st_ != SECONDARY_FAILED for st_ in a.states.values()):
            assert len(prim) == 1
        # no preemption: an up event never replaces a live primary
        if up and before is not None:
            assert a.primary == before

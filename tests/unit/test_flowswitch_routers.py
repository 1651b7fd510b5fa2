"""Router pool: servers spread ~1/N per router, sticky assignments, cover for dead routers."""
from collections import Counter

from hypothesis import given, settings, strategies as st

from hitless.flowswitch.routers import RouterPool, fallback_index


def servers(n):
    return [f"s{i:02d}" for i in range(n)]


def test_round_robin_spreads_evenly():
    p = RouterPool.of("core", ["r1", "r2", "r3"])
    a = p.assign(servers(12))
    assert Counter(a.values()) == {"r1": 4, "r2": 4, "r3": 4}


def test_assignment_sticks_when_nothing_changes():
    p = RouterPool.of("core", ["r1", "r2"])
    a = p.assign(servers(5))
    assert p.assign(servers(5)) == a
    # a new server does not move old ones
    b = p.assign(servers(6))
    assert {s: b[s] for s in a} == a


def test_dead_router_servers_reassigned_and_rebalanced_on_recovery():
    p = RouterPool.of("core", ["r1", "r2"])
    p.assign(servers(6))
    p.set_up("r2", False)
    a = p.assign(servers(6))
    assert set(a.values()) == {"r1"}
    assert p.cover() == {"r2": "r1"}
    p.set_up("r2", True)
    a = p.assign(servers(6))
    assert Counter(a.values()) == {"r1": 3, "r2": 3}
    assert p.cover() == {}


def test_all_dead():
    p = RouterPool.of("core", ["r1"])
    p.set_up("r1", False)
    assert p.assign(servers(2)) == {}
    assert p.cover() == {"r1": None}


def test_load_mode_balances_bytes():
    p = RouterPool.of("core", ["r1", "r2"], select="load")
    p.set_loads({}, {"a": 100, "b": 60, "c": 50, "d": 10})
    a = p.assign(["a", "b", "c", "d"])
    load = Counter()
    for s, r in a.items():
        load[r] += p.server_load[s]
    assert abs(load["r1"] - load["r2"]) <= 20


def test_load_mode_cover_picks_least_loaded():
    p = RouterPool.of("core", ["r1", "r2", "r3"], select="load")
    p.set_loads({"r1": 500, "r2": 100, "r3": 900}, {})
    p.set_up("r3", False)
    assert p.cover() == {"r3": "r2"}


def test_fallback_index_matches_fnv1a():
    # FNV-1a 32 of b"" is the offset basis; of b"a" is 0xe40c292c
    assert fallback_index(b"a", 1 << 32) == 0xE40C292C
    assert 0 <= fallback_index(bytes(6), 3) < 3


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6), st.integers(0, 40), st.lists(st.tuples(st.integers(0, 5), st.booleans()), max_size=15))
def test_property_spread_within_one(nr, ns, events):
    names = [f"r{i}" for i in range(nr)]
    p = RouterPool.of("x", names)
    for i, up in events:
        if i < nr:
            p.set_up(names[i], up)
        a = p.assign(servers(ns))
        live = p.live
        if not live:
            assert a == {}
            continue
        c = Counter(a.values())
        assert set(c) <= set(live)
        counts = [c.get(r, 0) for r in live]
        assert max(counts) - min(counts) <= 1
        assert len(a) == ns

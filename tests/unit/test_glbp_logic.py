"""GLBP protocol logic with a fake clock: every behaviour of spec/glbp.md §6 that the pure
state machines decide (numbered B1..B25 as in the spec), plus the issue's extras:
preemption, standby AVG, 4 forwarders, weighting/tracking, planned shutdown, partitions.
The data-plane and on-the-wire halves of the same behaviours are in tests/gateway/."""
from __future__ import annotations

import collections

import pytest

from glbp_sim import VIP, Net, three
from hitless.config.schema import Section
from hitless.errors import ConfigError
from hitless.gateway.config import GroupConfig, Track, parse_config
from hitless.wire import glbp
from hitless.wire.glbp import VFState, VGState

BCAST = b"\xff" * 6
HOLD = 0.3


def host(i: int) -> bytes:
    return bytes([0x52, 0x54, 0, 0, i >> 8, i & 0xFF])


def ask(net: Net, name: str, i: int, dst: bytes = BCAST):
    r = net.nodes[name].engine.arp_reply(host(i), dst)
    return None if r is None else r[1]


# --- election (B10, B11, standby, preemption) -------------------------------------

def test_b10_highest_priority_becomes_avg_and_second_is_standby():
    net = three()
    assert net.avg() == ["r1"] and net.standby() == ["r2"]
    assert net.vg("r3") == VGState.LISTEN


def test_b10_tie_is_broken_by_highest_ip():
    net = Net()
    for name, octet in (("a", 21), ("b", 23), ("c", 22)):
        net.add(name, octet, priority=100)
    net.start("a", "b", "c")
    net.run(3)
    assert net.avg() == ["b"] and net.standby() == ["c"]


def test_every_vg_state_is_visited_in_order():
    net = three()
    seen = [line.split("VG ")[1] for _, line in net.nodes["r1"].logs if " VG " in line]
    assert seen == ["disabled -> init", "init -> listen", "listen -> speak", "speak -> active"]
    seen = [line.split("VG ")[1] for _, line in net.nodes["r2"].logs if " VG " in line]
    assert seen[-1] == "speak -> standby"


def test_b11_higher_priority_newcomer_does_not_take_over():
    net = three()
    net.add("r4", 14, priority=250)
    net.start("r4")
    net.run(3)
    assert net.avg() == ["r1"]
    assert net.standby() == ["r4"]  # it becomes standby, the old standby listens
    assert net.vg("r2") == VGState.LISTEN


def test_avg_preemption_when_enabled_waits_for_its_delay():
    net = three()
    net.add("r4", 14, priority=250, preempt=True, preempt_delay_ms=1000)
    net.start("r4")
    net.run(HOLD + 0.5)       # listen period over, delay still running
    assert net.avg() == ["r1"]
    net.run(1.0)
    assert net.avg() == ["r4"]
    assert net.vg("r1") in (VGState.STANDBY, VGState.LISTEN, VGState.SPEAK)


def test_two_avgs_after_a_partition_resolve_to_the_better_rank():
    net = three()
    net.cut = {frozenset(("r1", "r2")), frozenset(("r1", "r3"))}
    net.run(2)
    assert sorted(net.avg()) == ["r1", "r2"]
    net.cut = set()
    net.run(2)
    assert net.avg() == ["r1"]


# --- forwarders, VMACs, hellos (B7, B8, 4 AVFs) -------------------------------------

def test_avg_assigns_one_vmac_per_member():
    net = three()
    for name, n in (("r1", 1), ("r2", 2), ("r3", 3)):
        assert net.owner_of(name) == n
        assert net.accepting(name) == {glbp.vmac(1, n)}
    for name in net.nodes:  # every member has the same table
        t = {n: vf.owner for n, vf in net.nodes[name].engine.fwds.items()}
        assert t == {1: net.nodes["r1"].mac, 2: net.nodes["r2"].mac, 3: net.nodes["r3"].mac}


def test_b7_every_member_sends_periodic_hellos_sourced_from_its_vmac():
    net = three()
    t0 = net.now
    net.run(1.0)
    for name in net.nodes:
        mine = [t for t, src in net.nodes[name].hello_sources if t >= t0 and src == net.vmac_of(name)]
        assert 9 <= len(mine) <= 11, (name, len(mine))  # hello 100 ms
        assert all(src == net.vmac_of(name) for t, src in net.nodes[name].hello_sources if t >= t0)


def test_b8_unknown_member_gets_a_peer_entry_and_its_vmac_enters_the_distribution():
    net = three()
    net.add("r4", 14)
    net.start("r4")
    net.run(1.0)
    mac4 = net.nodes["r4"].mac
    for name in ("r1", "r2", "r3"):
        e = net.nodes[name].engine
        assert mac4 in e.peers
        assert any(vf.owner == mac4 and vf.vmac == glbp.vmac(1, 4) for vf in e.fwds.values())
    assert glbp.vmac(1, 4) in [v for _, v, _ in net.nodes["r1"].engine.distribution()]
    assert net.accepting("r4") == {glbp.vmac(1, 4)}


def test_at_most_four_forwarders_and_a_fifth_member_is_secondary_only():
    net = three()
    net.add("r4", 14)
    net.add("r5", 15)
    net.start("r4", "r5")
    net.run(1.5)
    e = net.nodes["r1"].engine
    assert sorted(e.fwds) == [1, 2, 3, 4]
    assert net.nodes["r5"].mac not in {vf.owner for vf in e.fwds.values()}
    assert net.accepting("r5") == set()
    # r5 keeps asking (request TLV, forwarder 0) and is a listening secondary for all four
    hello = net.nodes["r5"].engine.build_hello()
    assert hello.request is not None and hello.request.owner == net.nodes["r5"].mac
    assert {f.number: f.state for f in hello.forwarders if f.number} == {n: VFState.LISTEN for n in (1, 2, 3, 4)}


def test_request_is_answered_by_the_avg_hello():
    net = three()
    net.add("r4", 14)
    net.start("r4")
    t0 = net.now
    net.run(0.05)
    first = net.nodes["r4"].sent[0][1]
    assert first.request is not None and first.request.owner == net.nodes["r4"].mac
    # the AVG's next hello, within a millisecond or two, is the response: forwarder 4 is r4's
    t, resp = next((t, p) for t, p in net.nodes["r1"].sent if t > t0 and any(f.number == 4 for f in p.forwarders))
    assert t - t0 < 0.01
    assert any(f.number == 4 and f.owner == net.nodes["r4"].mac for f in resp.forwarders)
    assert net.nodes["r4"].engine.build_hello().request is None


# --- ARP load balancing (B1, B3, B4, B5, B6, B9) -------------------------------------

def test_b1_only_the_avg_answers_broadcast_arp():
    net = three()
    for i in range(10):
        assert ask(net, "r2", i) is None and ask(net, "r3", i) is None
        assert ask(net, "r1", i) is not None


def test_b3_answer_is_a_vmac_from_the_distribution_set():
    net = three()
    dist = {v for _, v, _ in net.nodes["r1"].engine.distribution()}
    assert dist == {glbp.vmac(1, n) for n in (1, 2, 3)}
    src, vmac = net.nodes["r1"].engine.arp_reply(host(1), BCAST)
    assert vmac in dist
    # Ethernet source is the AVG's own VMAC, never another live member's
    assert src == glbp.vmac(1, 1)


def test_b4_round_robin_cycles_in_a_fixed_order():
    net = three()
    got = [ask(net, "r1", i) for i in range(9)]
    assert got == [glbp.vmac(1, n) for n in (1, 2, 3) * 3]


def test_b5_host_dependent_is_stable_and_covers_all():
    net = three(load_balancing="host-dependent")
    first = [ask(net, "r1", i) for i in range(60)]
    net.nodes["r1"].engine.balancer.bindings.clear()  # no stickiness: the hash alone
    again = [ask(net, "r1", i) for i in range(60)]
    assert first == again
    assert set(first) == {glbp.vmac(1, n) for n in (1, 2, 3)}


def test_b6_weighted_shares_follow_weights():
    net = Net()
    net.add("r1", 11, priority=150, load_balancing="weighted", weight_max=200, weight_upper=200)
    net.add("r2", 12, priority=120, load_balancing="weighted", weight_max=100, weight_upper=100)
    net.add("r3", 13, priority=100, load_balancing="weighted", weight_max=100, weight_upper=100)
    net.start("r1", "r2", "r3")
    net.run(3)
    got = collections.Counter(ask(net, "r1", i) for i in range(1000))
    assert abs(got[glbp.vmac(1, 1)] - 500) <= 20
    assert abs(got[glbp.vmac(1, 2)] - 250) <= 20
    assert abs(got[glbp.vmac(1, 3)] - 250) <= 20


def test_b9_join_moves_no_host_and_sends_no_garp():
    net = three()
    before = {i: ask(net, "r1", i) for i in range(12)}
    net.add("r4", 14)
    net.start("r4")
    net.run(1.5)
    assert {i: ask(net, "r1", i) for i in range(12)} == before
    assert all(not n.garps for n in net.nodes.values())
    # new hosts now also get the newcomer's VMAC
    assert glbp.vmac(1, 4) in {ask(net, "r1", i) for i in range(100, 108)}


def test_unicast_refresh_is_answered_by_the_vmac_holder_only():
    net = three()
    v2 = glbp.vmac(1, 2)
    assert ask(net, "r2", 7, dst=v2) == v2
    assert ask(net, "r1", 7, dst=v2) is None and ask(net, "r3", 7, dst=v2) is None


# --- forwarder failure, redirect, timeout (B12..B18) --------------------------------

def test_b12_after_hold_the_avg_forwards_the_failed_vmac():
    net = three()
    v3 = glbp.vmac(1, 3)
    net.crash("r3")
    net.run(HOLD / 2)
    assert net.who_accepts(v3) == []          # not before the hold time
    net.run(HOLD)
    assert net.who_accepts(v3) == ["r1"]      # the AVG, not the standby


def test_b13_every_survivor_starts_the_redirect_timer_only_avg_acts():
    net = three()
    net.crash("r3")
    net.run(HOLD + 0.1)
    for name in ("r1", "r2"):
        vf = net.nodes[name].engine.fwds[3]
        assert vf.redirect_at is not None and vf.timeout_at is not None
    net.run(2.0)  # redirect expired everywhere
    assert net.nodes["r2"].engine.fwds[3].redirected
    assert ask(net, "r2", 1) is None          # the standby still hands nothing out
    assert glbp.vmac(1, 3) not in {ask(net, "r1", i) for i in range(10)}


def test_b14_during_redirect_the_failed_vmac_is_still_handed_out():
    net = three()
    net.crash("r3")
    net.run(HOLD + 0.1)
    assert glbp.vmac(1, 3) in {ask(net, "r1", i) for i in range(6)}


def test_b15_after_redirect_not_handed_out_but_forwarded_and_timeout_runs():
    net = three()
    v3 = glbp.vmac(1, 3)
    bound = [ask(net, "r1", i) for i in range(3)]   # host 2 gets VMAC 3 (round-robin 1, 2, 3)
    assert bound[2] == v3
    net.crash("r3")
    net.run(HOLD + 2.1)
    vf = net.nodes["r1"].engine.fwds[3]
    assert vf.redirected and vf.timeout_at is not None
    assert v3 not in {v for _, v, _ in net.nodes["r1"].engine.distribution()}
    assert v3 not in {ask(net, "r1", i) for i in range(100, 110)}
    assert ask(net, "r1", 2) != v3          # even its old host is moved when it asks again
    assert net.who_accepts(v3) == ["r1"]


def test_b16_at_timeout_the_vmac_is_dropped_and_every_member_deletes_it():
    net = three()
    v3 = glbp.vmac(1, 3)
    net.crash("r3")
    net.run(HOLD + 4.9)
    assert net.who_accepts(v3) == ["r1"]
    net.run(0.2)
    assert net.who_accepts(v3) == []
    assert 3 not in net.nodes["r1"].engine.fwds and 3 not in net.nodes["r2"].engine.fwds


def test_b16_config_rejects_timeout_not_above_redirect_and_defaults_to_4h():
    with pytest.raises(ConfigError, match=r"timers.timeout: must be longer than redirect"):
        parse_config(Section({"groups": [{"group": 1, "interface": "e", "vip": "10.0.0.1",
                                          "timers": {"redirect": "10s", "timeout": "10s"}}]}, "a.yml", "gateway"))
    g = parse_config(Section({"groups": [{"group": 1, "interface": "e", "vip": "10.0.0.1"}]}, "a.yml", "gateway")).groups[0]
    assert g.timeout_ms >= 4 * 3600 * 1000 and g.redirect_ms == 600_000
    assert (g.hello_ms, g.hold_ms) == (3000, 10000)


@pytest.mark.parametrize("downtime", [1.0, 3.0])  # within redirect; after redirect, before timeout
def test_b17_member_back_before_timeout_gets_its_vmac_back(downtime):
    net = three()
    v3 = glbp.vmac(1, 3)
    net.crash("r3")
    net.run(downtime)
    assert net.who_accepts(v3) == ["r1"]
    net.start("r3")
    net.run(HOLD + 0.05)   # r3 heard: timers cancelled everywhere, back in the distribution
    for name in ("r1", "r2", "r3"):
        vf = net.nodes[name].engine.fwds[3]
        assert vf.redirect_at is None and vf.timeout_at is None and not vf.redirected
    assert v3 in {v for _, v, _ in net.nodes["r1"].engine.distribution()}
    net.run(0.5 + 0.2)     # forwarder preempt delay 500 ms, then the drain grace
    assert net.who_accepts(v3) == ["r3"]
    assert net.owner_of("r3") == 3


def test_b18_member_back_after_timeout_is_a_new_member():
    net = three()
    net.crash("r3")
    net.run(HOLD + 5.2)
    assert 3 not in net.nodes["r1"].engine.fwds
    net.start("r3")
    net.run(1.5)
    n = net.owner_of("r3")
    assert n is not None
    assert glbp.vmac(1, n) in {v for _, v, _ in net.nodes["r1"].engine.distribution()}
    assert net.accepting("r3") == {glbp.vmac(1, n)}
    assert any("assigned to 02:00:00:00:00:0d" in line for _, line in net.nodes["r1"].logs[-40:])


# --- AVG failure (B19..B23) ---------------------------------------------------------

def test_b19_avg_failure_survivor_takes_avg_role_and_its_vmac():
    net = three()
    v1 = glbp.vmac(1, 1)
    net.crash("r1")
    net.run(HOLD + 0.05)
    assert net.avg() == ["r2"]
    assert net.who_accepts(v1) == ["r2"]
    assert ask(net, "r2", 1) is not None
    net.run(HOLD + 0.1)     # r3 speaks for one hold time, then stands by
    assert net.standby() == ["r3"]


def test_b20_old_avg_returns_as_member_gets_vmac_not_avg():
    net = three()
    v1 = glbp.vmac(1, 1)
    net.crash("r1")
    net.run(1.0)
    net.start("r1")
    net.run(2.0)
    assert net.avg() == ["r2"]
    assert net.who_accepts(v1) == ["r1"]
    assert net.vg("r1") == VGState.STANDBY


def test_b21_sole_surviving_new_avg_sends_garp_for_its_own_vmac():
    net = three()
    net.crash("r3")
    net.run(0.1)
    net.crash("r1")          # r3 is already gone when r2 becomes AVG
    net.run(HOLD + 0.5)
    assert net.avg() == ["r2"]
    garps = net.nodes["r2"].garps
    assert len(garps) == 3 and {v for _, v in garps} == {glbp.vmac(1, 2)}


def test_b21_resumed_member_alone_sends_garp():
    net = three()
    for n in ("r1", "r2", "r3"):
        net.crash(n)
    net.run(1)
    net.start("r3")
    net.run(2)
    assert net.avg() == ["r3"]
    assert {v for _, v in net.nodes["r3"].garps} == {net.vmac_of("r3")}


def test_b22_no_garp_in_any_other_case():
    net = three()                      # normal start with peers
    net.crash("r3")                    # slave takeover
    net.run(1)
    net.add("r4", 14)
    net.start("r4")                    # member join
    net.run(1)
    net.crash("r1")                    # AVG failover with live members
    net.run(1)
    assert net.avg() == ["r2"]
    assert all(not n.garps for n in net.nodes.values())


def test_b23_double_failure_third_member_forwards_all_three():
    net = three()
    net.crash("r1")
    net.run(HOLD + 0.2)
    net.crash("r2")
    net.run(HOLD + 0.2)
    assert net.avg() == ["r3"]
    assert net.accepting("r3") == {glbp.vmac(1, n) for n in (1, 2, 3)}


def test_b24_hellos_carry_the_member_identity_not_the_vip():
    net = three()
    for name, n in net.nodes.items():
        p = n.engine.build_hello()
        assert p.owner == n.mac and p.hello.vip == VIP   # the VIP only as the group's address


# --- weighting, tracking, planned shutdown ------------------------------------------

def test_tracked_interface_down_drops_weight_and_avf_gives_up_below_lower():
    track = Track("interface", "up0", 60)
    net = Net()
    net.add("r1", 11, priority=150)
    net.add("r2", 12, priority=120, track=(track,), weight_lower=50, weight_upper=90)
    net.add("r3", 13, priority=100)
    net.start("r1", "r2", "r3")
    net.run(3)
    v2 = glbp.vmac(1, 2)
    e2 = net.nodes["r2"].engine
    e2.set_tracked(track, False, net.now)
    assert e2.weight == 40 and not e2.able
    net.run(0.3)
    assert net.who_accepts(v2) == ["r1"]        # secondary took it over, make-before-break done
    assert v2 not in {v for _, v, _ in net.nodes["r1"].engine.distribution()}
    e2.set_tracked(track, True, net.now)
    net.run(1.0)
    assert e2.weight == 100 and e2.able
    assert net.who_accepts(v2) == ["r2"]


def test_weight_between_thresholds_keeps_state_hysteresis():
    t1, t2 = Track("interface", "a", 30), Track("interface", "b", 30)
    net = Net()
    net.add("r1", 11, track=(t1, t2), weight_lower=50, weight_upper=80)
    net.start("r1")
    e = net.nodes["r1"].engine
    e.set_tracked(t1, False, 0.0)
    assert e.weight == 70 and e.able
    e.set_tracked(t2, False, 0.0)
    assert e.weight == 40 and not e.able
    e.set_tracked(t2, True, 0.0)
    assert e.weight == 70 and not e.able     # below upper: still out
    e.set_tracked(t1, True, 0.0)
    assert e.weight == 100 and e.able


def test_forwarder_preemption_off_keeps_the_secondary():
    net = three(forwarder_preempt=False)
    v3 = glbp.vmac(1, 3)
    net.crash("r3")
    net.run(1)
    net.start("r3")
    net.run(3)
    assert net.who_accepts(v3) == ["r1"]


def test_forwarder_preempt_defaults_on_30s():
    g = GroupConfig(group=1, interface="e", vip="10.0.0.1")
    assert g.forwarder_preempt and g.forwarder_preempt_delay_ms == 30_000 and not g.preempt


def _always_accepted(net: Net, vmacs, duration: float, step: float = 0.002) -> list:
    gaps = []
    for _ in range(int(duration / step)):
        net.run(step)
        for v in vmacs:
            if not net.who_accepts(v):
                gaps.append((round(net.now, 3), v.hex()))
    return gaps


def test_planned_shutdown_of_an_avf_is_make_before_break():
    net = three()
    v2 = glbp.vmac(1, 2)
    net.shutdown("r2")
    both = False
    for _ in range(200):
        net.run(0.002)
        acc = net.who_accepts(v2)
        assert acc, f"nobody accepts VMAC 2 at {net.now:.3f}"
        both |= len(acc) == 2
        if net.nodes["r2"].engine.finished(net.now):
            break
    assert both and net.who_accepts(v2) == ["r1"]
    assert net.nodes["r2"].engine.finished(net.now)
    assert net.now - 3.0 < HOLD        # handed over without waiting for the hold time
    net.crash("r2")
    assert _always_accepted(net, [v2], 1.0) == []


def test_planned_shutdown_of_the_avg_hands_over_role_and_vmac_without_gap():
    net = three()
    v1 = glbp.vmac(1, 1)
    net.shutdown("r1")
    for _ in range(200):
        net.run(0.002)
        assert net.who_accepts(v1)
        if net.nodes["r1"].engine.finished(net.now):
            break
    assert net.avg() == ["r2"] and net.who_accepts(v1) == ["r2"]
    assert ask(net, "r1", 5) is None and ask(net, "r2", 5) is not None


def test_returning_owner_takeback_is_make_before_break():
    net = three()
    v3 = glbp.vmac(1, 3)
    net.crash("r3")
    net.run(1)
    net.start("r3")
    assert _always_accepted(net, [v3], 2.0) == []
    assert net.who_accepts(v3) == ["r3"]


def test_link_down_disables_everything_and_link_up_rejoins():
    net = three()
    e3 = net.nodes["r3"].engine
    e3.set_link(False, net.now)
    assert e3.vg.state == VGState.DISABLED and all(vf.state == VFState.DISABLED for vf in e3.fwds.values())
    assert e3.accepting(net.now) == set()
    e3.set_link(True, net.now)
    net.run(2)
    assert net.accepting("r3") == {glbp.vmac(1, 3)}


def test_snapshot_shows_roles_forwarders_and_timers():
    net = three()
    net.crash("r3")
    net.run(HOLD + 0.1)
    s = net.nodes["r2"].engine.snapshot(net.now)
    assert s["state"] == "standby" and s["avg"]["ip"] == "10.0.0.11" and s["standby"]["local"]
    f3 = next(f for f in s["forwarders"] if f["number"] == 3)
    assert f3["owner_ip"] is None and not f3["owner_alive"] and f3["active_ip"] == "10.0.0.11"
    assert 1.0 < f3["redirect_in_s"] <= 2.0 and f3["timeout_in_s"] > 4
    assert s["timers"] == {"hello_ms": 100, "hold_ms": 300, "redirect_ms": 2000, "timeout_ms": 5000}

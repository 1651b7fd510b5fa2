"""GLBP on the lab, failures: AVF crash with redirect and timeout (B12-B16), a returning
member (B17, B18), AVG failure (B19, B20, B22), double failure (B23), sole survivor's
gratuitous ARP (B21), planned shutdown, tracking and a wrong authentication key.

"crash" = the router dies (agent killed, LAN link down); "kill" = only the agent dies
(kill -9), its XDP data plane keeps forwarding. Probes run from hosts pinned to one VMAC."""
import json
import time

import pytest

from gwlab import HOLD_MS, HOSTS, ROUTERS, SERVER, VIP, V, wait_for
from hitless.probe import background

pytestmark = pytest.mark.lab
HOLD = HOLD_MS / 1000


def xdp_packets(gw, router: str, vmac: str) -> int:
    return next((v["packets"] for v in gw.show(router)["dataplane"]["vmacs"] if v["vmac"] == vmac), 0)


def fdb_port(gw, mac: str) -> str | None:
    """The switch port the LAN bridge has learnt `mac` on."""
    out = gw.lab.run("sw", ["bridge", "-j", "fdb", "show", "br", "br0"]).stdout
    return next((e.get("ifname") for e in json.loads(out or "[]") if e.get("mac") == mac), None)


def probe(gw, host: str, rate: int, count: int, **kw):
    return background(host, "srv", lab=gw.lab.prefix, dst_ip=SERVER, rate=rate, count=count, **kw)


def test_avf_crash_takeover_redirect_and_timeout(gw):
    from gwlab import TIMERS
    gw.start_all(timers=dict(TIMERS, timeout="14s"))   # room for the ARP checks between timers
    gw.wait_converged()
    gw.warm()
    gw.bind("h3", V(3))
    with probe(gw, "h3", 1000, 25000) as p:
        time.sleep(0.5)
        t0 = time.monotonic()
        gw.crash("r3")
        # B12: after the hold time the AVG (not the standby) accepts and forwards VMAC 3
        wait_for(lambda: V(3) in gw.accepting("r1"), 5, "r1 to take VMAC 3")
        assert time.monotonic() - t0 >= HOLD * 0.8
        assert V(3) not in gw.accepting("r2")
        # the new holder's VMAC-sourced frames taught the switch: VMAC 3 is now on r1's port
        wait_for(lambda: fdb_port(gw, V(3)) == "p5", 2, "the switch to learn VMAC 3 on r1's port (p5)")
        # B13: every survivor runs the redirect and timeout timers
        for r in ("r1", "r2"):
            f = gw.fwd(r, 3)
            assert not f["owner_alive"] and f["redirect_in_s"] is not None and f["timeout_in_s"] is not None
        # B14: during redirect, VMAC 3 is still handed out (round-robin 1, 2, 3)
        assert V(3) in {gw.arp(h)[0]["sha"] for h in ("h1", "h2", "h4")}
        # B15: after redirect it is no longer handed out, but still forwarded
        wait_for(lambda: gw.fwd("r1", 3)["redirected"], 6, "the redirect timer to expire")
        n0 = xdp_packets(gw, "r1", V(3))
        time.sleep(0.5)
        assert xdp_packets(gw, "r1", V(3)) > n0 + 200
        assert gw.fwd("r2", 3)["timeout_in_s"] is not None
        handed = {gw.arp(h)[0]["sha"] for h in ("h1", "h2", "h4") for _ in range(2)}
        assert V(3) not in handed and handed <= {V(1), V(2)}
        assert gw.fwd("r1", 3) is not None, "the ARP checks outlasted the timeout: make it longer"
        # B16: at timeout the VMAC is dropped from the data plane and every table
        wait_for(lambda: gw.fwd("r1", 3) is None, 14, "forwarder 3 to time out")
        wait_for(lambda: gw.fwd("r2", 3) is None, 2, "r2 to delete forwarder 3 too")
        assert V(3) not in gw.accepting("r1")
        rep = p.report()
    assert 0 < rep.lost < rep.sent, rep.table()   # an outage at the crash, traffic after it


def test_returning_member_gets_its_vmac_back_without_loss(gw):
    gw.start_all()
    gw.wait_converged()
    gw.warm()
    gw.bind("h3", V(3))
    gw.crash("r3")
    wait_for(lambda: V(3) in gw.accepting("r1"), 5, "r1 to take VMAC 3")
    with probe(gw, "h3", 10_000, 50_000) as p:     # 5 s at 10,000 packets/s
        time.sleep(0.3)
        gw.revive("r3")
        # B17: heard again, its timers are cancelled everywhere and it is handed out again
        wait_for(lambda: gw.fwd("r1", 3)["owner_alive"], 5, "r1 to hear r3 again")
        f = gw.fwd("r2", 3)
        assert f["redirect_in_s"] is None and f["timeout_in_s"] is None
        # after the forwarder preempt delay (1 s) r3 takes VMAC 3 back, make-before-break
        wait_for(lambda: gw.accepting("r3") == {V(3)} and V(3) not in gw.accepting("r1"), 6,
                 "VMAC 3 to move back to r3")
        rep = p.wait()
    assert rep.lost == 0, rep.table()
    assert gw.group("r3")["state"] in ("listen", "speak", "standby")


def test_member_back_after_timeout_is_a_new_member(gw):
    gw.start_all()
    gw.wait_converged()
    gw.crash("r3")
    wait_for(lambda: gw.fwd("r1", 3) is None, 15, "forwarder 3 to time out")
    gw.revive("r3")
    wait_for(lambda: len(gw.accepting("r3")) == 1, 10, "r3 to be given a forwarder")
    vm = gw.owner_vmac("r3")
    f = next(f for f in gw.group("r1")["forwarders"] if f["vmac"] == vm)
    assert f["owner_ip"] == ROUTERS["r3"][0] and f["owner_alive"]
    assert vm in {gw.arp(h)[0]["sha"] for h in ("h1", "h2", "h4")}  # in the distribution


def test_avg_agent_killed_loses_nothing_and_returns_as_member(gw):
    gw.start_all()
    gw.wait_converged()
    gw.warm()
    gw.bind("h1", V(1))
    assert fdb_port(gw, V(1)) == "p5"
    prog_ids = {r: gw.show(r)["dataplane"]["program"]["prog_id"] for r in ROUTERS}
    links = {r: json.loads(gw.lab.run(r, ["ip", "-j", "addr", "show", "dev", "eth0"]).stdout) for r in ("r2", "r3")}
    with probe(gw, "h1", 10_000, 40_000) as p:        # 4 s at 10,000 packets/s
        time.sleep(0.5)
        gw.kill("r1")
        # B19: the standby becomes AVG, takes the old AVG's VMAC and answers ARP
        wait_for(lambda: gw.group("r2")["state"] == "active" and V(1) in gw.accepting("r2"), 5,
                 "r2 to become AVG and take VMAC 1")
        rep = p.wait()
    assert rep.lost == 0, rep.table()
    assert fdb_port(gw, V(1)) == "p6"      # moved to r2's port by r2's VMAC-sourced hellos
    replies = gw.arp("h2")
    assert len(replies) == 1 and replies[0]["eth_src"] == V(2)
    wait_for(lambda: gw.group("r3")["state"] == "standby", 5, "r3 to become standby")
    # B22: a failover with live members sends no gratuitous ARP
    assert all(gw.group(r)["counters"]["garp_tx"] == 0 for r in ("r2", "r3"))
    # nothing flapped: same programs, same addresses, the takeover was one map write
    for r in ("r2", "r3"):
        assert gw.show(r)["dataplane"]["program"]["prog_id"] == prog_ids[r]
        assert json.loads(gw.lab.run(r, ["ip", "-j", "addr", "show", "dev", "eth0"]).stdout) == links[r]
    # B20: the old AVG comes back as a member and gets its VMAC back, not the AVG role
    gw.start("r1")
    wait_for(lambda: gw.accepting("r1") == {V(1)} and V(1) not in gw.accepting("r2"), 8,
             "r1 to take VMAC 1 back")
    assert gw.group("r2")["state"] == "active" and gw.group("r1")["state"] in ("standby", "listen", "speak")


def test_double_failure_third_member_forwards_everything(gw):
    gw.start_all()
    gw.wait_converged()
    gw.warm()
    gw.crash("r1")
    wait_for(lambda: gw.group("r2")["state"] == "active" and V(1) in gw.accepting("r2"), 5, "r2 to take over")
    wait_for(lambda: gw.group("r3")["state"] == "standby", 5, "r3 to stand by")
    gw.crash("r2")
    wait_for(lambda: gw.accepting("r3") == {V(1), V(2), V(3)}, 5, "r3 to forward all three VMACs")
    assert gw.group("r3")["state"] == "active"
    for host, n in (("h1", 1), ("h2", 2), ("h3", 3)):
        gw.bind(host, V(n))
        with probe(gw, host, 1000, 300) as p:
            rep = p.wait()
        assert rep.lost == 0, (host, rep.table())


def test_sole_surviving_avg_sends_gratuitous_arp(gw):
    gw.start_all()
    gw.wait_converged()
    gw.crash("r3")
    wait_for(lambda: all(p["ip"] != ROUTERS["r3"][0] for p in gw.group("r2")["peers"]), 5, "r3 to be gone")
    spy = gw.listen("h1", 3.0)
    time.sleep(0.3)
    gw.crash("r1")
    wait_for(lambda: gw.group("r2")["state"] == "active", 5, "r2 to become the only AVG")
    garps = [f for f in gw.collect(spy) if f["kind"] == "arp" and f["eth_dst"] == "ff:ff:ff:ff:ff:ff"
             and f["spa"] == VIP and f["tpa"] == VIP]
    assert len(garps) >= 3
    assert {(f["sha"], f["eth_src"]) for f in garps} == {(V(2), V(2))}
    assert gw.group("r2")["counters"]["garp_tx"] == 3


def test_planned_avf_shutdown_is_make_before_break(gw):
    gw.start_all()
    gw.wait_converged()
    gw.warm()
    gw.bind("h2", V(2))
    with probe(gw, "h2", 10_000, 30_000) as p:
        time.sleep(0.5)
        t0 = time.monotonic()
        assert gw.agents["r2"].stop() == 0
        took = time.monotonic() - t0
        rep = p.wait()
    assert rep.lost == 0, rep.table()
    assert took < HOLD + 2          # handed over on resignation, not by waiting out the hold
    assert V(2) in gw.accepting("r1") and gw.group("r1")["state"] == "active"
    assert gw.group("r3")["state"] == "standby"


def test_tracked_interface_down_hands_the_vmac_over_and_back(gw):
    track = {"track": [{"interface": "eth1", "decrement": 60}], "weighting": {"lower": 50, "upper": 90}}
    gw.start_all()
    gw.agents["r2"].stop()
    gw.start("r2", **track)
    gw.wait_converged()
    gw.warm()
    gw.lab.run("r2", ["ip", "link", "set", "dev", "eth1", "down"])
    wait_for(lambda: V(2) in gw.accepting("r1") and V(2) not in gw.accepting("r2"), 5, "r1 to take VMAC 2")
    g = gw.group("r2")
    assert g["weighting"]["current"] == 40 and not g["weighting"]["forwarding"]
    assert g["tracking"] == [{"kind": "interface", "target": "eth1", "decrement": 60, "up": False}]
    assert next(f for f in gw.group("r1")["forwarders"] if f["number"] == 2)["weight"] == 40
    gw.bind("h2", V(2))
    with probe(gw, "h2", 1000, 300) as p:
        assert p.wait().lost == 0
    # below the lower threshold its VMAC is not handed to new hosts
    assert V(2) not in {gw.arp(h)[0]["sha"] for h in ("h1", "h3", "h4") for _ in range(2)}
    gw.lab.run("r2", ["ip", "link", "set", "dev", "eth1", "up"])
    wait_for(lambda: gw.accepting("r2") == {V(2)} and V(2) not in gw.accepting("r1"), 6, "r2 to take VMAC 2 back")
    assert gw.group("r2")["weighting"] == {"current": 100, "maximum": 100, "lower": 50, "upper": 90, "forwarding": True}


def test_wrong_authentication_key_is_dropped_and_counted(gw):
    gw.start_all("r1", "r2", authentication={"type": "md5", "key": "alpha"})
    gw.start("r3", authentication={"type": "md5", "key": "beta"})
    gw.wait_converged(routers=("r1", "r2"))
    wait_for(lambda: gw.group("r3")["counters"]["auth_failures"] >= 10, 5, "r3 to count failures")
    time.sleep(HOLD * 2)
    for r in ("r1", "r2"):
        g = gw.group(r)
        assert g["counters"]["auth_failures"] >= 10
        assert ROUTERS["r3"][0] not in {p["ip"] for p in g["peers"]}
        assert len(g["forwarders"]) == 2
    assert gw.group("r3")["peers"] == []
    assert gw.group("r1")["state"] == "active" and gw.group("r2")["state"] == "standby"

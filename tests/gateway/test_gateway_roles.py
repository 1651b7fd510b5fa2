"""GLBP on the lab, roles and ARP: election, VMAC assignment, hosts spread across forwarders,
and the ARP behaviours of spec/glbp.md §6 (B1-B4, B7-B11, B22, B24, B25) on real sockets."""
import json
import subprocess
import sys
import time

import pytest

from gwlab import HOSTS, ROUTERS, SERVER, VIP, V, wait_for
from hitless.probe import background

pytestmark = pytest.mark.lab


def test_election_assignment_and_hosts_spread_across_forwarders(gw):
    gw.start_all()
    gw.wait_converged()
    g1 = gw.group("r1")
    assert g1["state"] == "active" and g1["standby"]["ip"] == ROUTERS["r2"][0]
    assert gw.group("r2")["state"] == "standby" and gw.group("r3")["state"] == "listen"
    # one VMAC per router, in the data plane of exactly that router
    owners = {f["vmac"]: f["owner_ip"] for f in g1["forwarders"]}
    assert sorted(owners) == [V(1), V(2), V(3)]
    for r in ROUTERS:
        assert gw.accepting(r) == {gw.owner_vmac(r)}
    # hosts ARP one after the other: round-robin, then traffic goes through each one's VMAC
    got = {}
    for h in HOSTS:
        replies = gw.arp(h)
        assert len(replies) == 1, replies
        got[h] = replies[0]["sha"]
    assert [got[h] for h in HOSTS] == [V(1), V(2), V(3), V(1)]
    gw.warm()
    before = {r: {v["vmac"]: v["packets"] for v in gw.show(r)["dataplane"]["vmacs"]} for r in ROUTERS}
    for h in HOSTS:
        gw.bind(h, got[h])
        with background(h, "srv", lab=gw.lab.prefix, dst_ip=SERVER, rate=1000, count=300) as p:
            rep = p.wait()
        assert rep.lost == 0, rep.table()
    for r in ROUTERS:
        v = gw.owner_vmac(r)
        after = {x["vmac"]: x["packets"] for x in gw.show(r)["dataplane"]["vmacs"]}[v]
        hosts_on_it = sum(1 for h in HOSTS if got[h] == v)
        assert after - before[r][v] >= 300 * hosts_on_it, (r, v)


def test_b1_b2_b3_only_the_avg_answers_by_unicast_with_a_vmac(gw):
    gw.start_all()
    gw.wait_converged()
    spy = gw.listen("h2", 2.0)
    time.sleep(0.5)
    replies = gw.arp("h1", wait=0.8)
    seen_elsewhere = [f for f in gw.collect(spy) if f["kind"] == "arp" and f["op"] == 2 and f["spa"] == VIP]
    assert len(replies) == 1
    r = replies[0]
    assert r["eth_dst"] == HOSTS["h1"][1] and r["tha"] == HOSTS["h1"][1] and r["tpa"] == HOSTS["h1"][0]
    assert r["spa"] == VIP and r["sha"] in {V(1), V(2), V(3)}
    assert r["eth_src"] == V(1)          # the AVG's own VMAC, never another member's
    assert seen_elsewhere == []          # unicast: another host never sees it
    counts = {rt: gw.group(rt)["counters"]["arp_replies"] for rt in ROUTERS}
    assert counts["r1"] >= 1 and counts["r2"] == 0 and counts["r3"] == 0
    assert all(gw.group(rt)["counters"]["arp_requests"] >= 1 for rt in ROUTERS)  # all heard it


def test_unicast_arp_refresh_is_confirmed_by_the_vmac_holder(gw):
    gw.start_all()
    gw.wait_converged()
    replies = gw.arp("h3", dst=V(3))
    assert [(r["sha"], r["eth_src"]) for r in replies] == [(V(3), V(3))]
    assert gw.group("r3")["counters"]["arp_refreshes"] == 1


def test_b7_b24_hellos_from_each_vmac_and_member_address(gw):
    gw.start_all()
    gw.wait_converged()
    frames = gw.collect(gw.listen("h4", 1.5))
    hellos = [f for f in frames if f["kind"] == "glbp"]
    for r, (ip, mac, prio) in ROUTERS.items():
        mine = [f for f in hellos if f["owner"] == mac]
        assert len(mine) >= 10, r                          # hello every 100 ms
        assert {f["eth_src"] for f in mine} == {gw.owner_vmac(r)}
        assert {f["ip_src"] for f in mine} == {ip}         # never the VIP
        assert {f["ip_dst"] for f in mine} == {"224.0.0.102"} and {f["eth_dst"] for f in mine} == {"01:00:5e:00:00:66"}
        assert {f["sport"] for f in mine} == {3222} and {f["priority"] for f in mine} == {prio}


def test_b8_b9_b22_joining_member_moves_no_host_and_sends_no_garp(gw):
    gw.start_all("r1", "r2")
    gw.wait_converged(routers=("r1", "r2"))
    first = {h: gw.arp(h)[0]["sha"] for h in ("h1", "h2")}
    spy = gw.listen("h4", 4.0)
    time.sleep(0.3)
    gw.start("r3")
    wait_for(lambda: gw.accepting("r3") == {V(3)}, 15, "r3 to own VMAC 3")
    for r in ("r1", "r2"):
        g = gw.group(r)
        assert any(p["ip"] == ROUTERS["r3"][0] for p in g["peers"])
        assert any(f["vmac"] == V(3) and f["owner_ip"] == ROUTERS["r3"][0] for f in g["forwarders"])
    assert {h: gw.arp(h)[0]["sha"] for h in ("h1", "h2")} == first       # not moved
    assert V(3) in {gw.arp("h3")[0]["sha"], gw.arp("h4")[0]["sha"]}      # new hosts can get it
    frames = gw.collect(spy)
    assert [f for f in frames if f["kind"] == "arp" and f["eth_dst"] == "ff:ff:ff:ff:ff:ff"
            and f["spa"] == VIP] == []
    assert all(gw.group(r)["counters"]["garp_tx"] == 0 for r in ROUTERS)


def test_b10_b11_higher_priority_newcomer_does_not_take_over(gw):
    gw.start_all("r2", "r3")
    gw.wait_converged(routers=("r2", "r3"), avg="r2")
    gw.start("r1", priority=250)
    wait_for(lambda: gw.group("r1")["state"] == "standby", 15, "the newcomer to become standby")
    wait_for(lambda: gw.group("r3")["state"] == "listen", 5, "the old standby to listen")
    time.sleep(1.0)
    assert gw.group("r2")["state"] == "active" and gw.group("r1")["state"] == "standby"
    assert gw.group("r3")["state"] == "listen"


def test_b10_priority_tie_is_won_by_the_highest_ip(gw):
    gw.start_all(priority=100)
    gw.wait_converged(avg="r3", standby="r2")   # .4 then .3, whatever the start order
    assert gw.group("r1")["state"] == "listen"


def test_b25_vip_entries_are_permanent_and_not_overwritten_by_arp(gw):
    gw.start_all()
    gw.wait_converged()
    before = {r: gw.lab.run(r, ["ip", "-j", "neigh", "show", VIP]).stdout for r in ROUTERS}
    for r in ROUTERS:
        e = json.loads(before[r])[0]
        assert "PERMANENT" in e["state"] and e["lladdr"] == ROUTERS[r][1]
    # h4 claims the VIP with a gratuitous ARP and an unsolicited reply
    from hitless.gateway.arp import ArpPacket, gratuitous
    h4mac = bytes.fromhex(HOSTS["h4"][1].replace(":", ""))
    spoof = [gratuitous(h4mac, VIP).encode().hex(),
             ArpPacket(b"\xff" * 6, h4mac, 2, h4mac, VIP, b"\xff" * 6, VIP).encode().hex()]
    gw.tool("h4", "send", "eth0", *spoof)
    time.sleep(0.3)
    for r in ROUTERS:
        assert gw.lab.run(r, ["ip", "-j", "neigh", "show", VIP]).stdout == before[r]
        assert "local" in gw.lab.run(r, ["ip", "route", "get", VIP]).stdout
        assert gw.accepting(r) == {gw.owner_vmac(r)}


def test_kernel_never_answers_arp_for_the_vip(gw):
    gw.start_all("r2")      # r2 only: listen period, before it is AVG nobody may answer
    assert gw.arp("h1", wait=0.3) == []
    wait_for(lambda: gw.group("r2")["state"] == "active", 10, "r2 to become AVG")
    gw.agents["r2"].stop()
    time.sleep(0.2)
    assert gw.arp("h1", wait=0.5) == []   # agent gone: the kernel stays silent too


def test_malformed_and_unknown_packets_are_counted_and_dropped(gw):
    gw.start_all("r1")
    wait_for(lambda: gw.group("r1")["state"] == "active", 10, "r1 to become AVG")
    from hitless.wire import glbp
    own = bytes.fromhex(HOSTS["h1"][1].replace(":", ""))
    good = glbp.Packet(1, own, hello=glbp.Hello(4, 100, 100, 600, 4, 8, VIP)).encode()
    bad = [good[:20],                                   # truncated
           bytes([1, 0, 0, 1, 0, 0]) + own + bytes([1, 1]),   # TLV length 1
           bytes([2]) + good[1:],                       # version 2
           glbp.Packet(77, own, hello=glbp.Hello(4, 100, 100, 600, 4, 8, VIP)).encode()]  # other group
    frames = [glbp.frame(b, own, HOSTS["h1"][0]).hex() for b in bad]
    gw.tool("h1", "send", "eth0", *frames)
    c = wait_for(lambda: (lambda c: c if c["rx_truncated"] and c["rx_malformed"] >= 2 else None)(gw.show("r1")["counters"]),
                 5, "the counters to move")
    assert c["rx_truncated"] == 1 and c["rx_malformed"] == 2 and c["rx_unknown_group"] == 1
    assert gw.group("r1")["state"] == "active" and gw.agents["r1"].proc.poll() is None


def test_show_gateway_cli_table_and_json_and_metrics(gw):
    gw.start_all(extra={"r1": {"metrics": {"listen": "10.31.1.2:9464"}}})
    gw.wait_converged()
    sock = gw.agents["r1"].socket
    hitless = [sys.executable, "-m", "hitless"]
    txt = subprocess.run(hitless + ["show", "gateway", "--socket", sock], capture_output=True, text=True, timeout=30)
    assert txt.returncode == 0, txt.stderr
    assert "State is Active" in txt.stdout and f"Standby is {ROUTERS['r2'][0]}" in txt.stdout
    assert V(2) in txt.stdout and "Hello time 100 ms, hold time 600 ms" in txt.stdout
    js = subprocess.run(hitless + ["show", "gateway", "--json", "--socket", sock], capture_output=True, text=True, timeout=30)
    d = json.loads(js.stdout)
    g = d["groups"][0]
    assert g["state"] == "active" and g["weighting"]["current"] == 100 and g["timers"]["hold_ms"] == 600
    assert {f["vmac"]: f["owner_ip"] for f in g["forwarders"]} == {V(1): ROUTERS["r1"][0], V(2): ROUTERS["r2"][0],
                                                                    V(3): ROUTERS["r3"][0]}
    assert "hello_rx" in g["counters"] and d["dataplane"]["program"]["name"] == "gateway"
    import urllib.request  # noqa: F401  (the scrape runs inside r1's namespace)
    scrape = gw.lab.run("r1", [sys.executable, "-c", "import urllib.request;print(urllib.request.urlopen("
                               "'http://10.31.1.2:9464/metrics', timeout=10).read().decode())"]).stdout
    assert 'hitless_gateway_is_avg{group="1",interface="eth0"} 1.0' in scrape
    assert f'hitless_gateway_forwarder_state{{forwarder="1",group="1",interface="eth0",vmac="{V(1)}"}} 32.0' in scrape

"""Flow switch in the lab: real namespaces, veths, the bridge, XDP attached by a real agent.

spec/flow-switch.md testable behaviours covered here: 1, 2 (ARP isolation), 4-6 (one server,
only the destination MAC changes, every protocol), 7 (server -> healthy router untouched,
never at the agent), 11 (capacity proportion), 13-15 (router pool ARP, 1/N spread, counters),
16 (failed router cover), 17 (clusters isolated), 18 (non-cluster frames bridged), 19 (no L3
hop), plus the TCP health check, the metrics endpoint and `hitless show flowswitch`.
State-changing failovers are in test_lab_failover.py.
"""
import json
import subprocess
from collections import Counter

import pytest
from scapy.layers.inet import GRE, ICMP, IP, TCP, UDP, fragment
from scapy.layers.ipsec import AH, ESP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from fs_lab import (API, CLIENT_IP, CLIENT_MAC, FLOWTOOL, GW, MAIL, METRICS, PY, R1_OUTSIDE_MAC, ROUTER_IP,
                    ROUTER_MAC, SERVER_ADDR, SERVER_MAC, SERVERS, VMAC, WEB, lab_env)

pytestmark = pytest.mark.lab

MARK = "203.0.113.50"  # a client address behind r1 that marks the test's frames
R1, R2 = ROUTER_MAC["r1"], ROUTER_MAC["r2"]
SWITCH_MAC = "02:00:00:3a:00:00"  # br0


@pytest.fixture(scope="module")
def env():
    with lab_env("tfsb") as e:
        yield e


def frames_of(res: dict) -> list[tuple[str, bytes]]:
    return [(node, bytes.fromhex(h)) for node, r in res.items() for h in r["frames"]]


def flows_to(env, dst, flows=400, rounds=1, sport_base=30000, pps=2500):
    env.lab.run("cl", [PY, FLOWTOOL, "flows", "--iface", "eth0", "--dst-mac", R1_OUTSIDE_MAC, "--src-mac",
                       CLIENT_MAC, "--src", CLIENT_IP, "--dst", dst, "--flows", str(flows), "--rounds",
                       str(rounds), "--pps", str(pps), "--sport-base", str(sport_base)], timeout=120)


# ---- ARP ---------------------------------------------------------------------------------

def test_only_the_switch_answers_arp_for_the_cluster_ip_and_servers_never_see_it(env):
    req = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=R1) / ARP(op=1, hwsrc=R1, psrc=ROUTER_IP["r1"], pdst=WEB))
    with env.taps(["r1", *SERVERS], arp_ip=[WEB]) as res:
        env.send("r1", [req])
    replies = [Ether(f) for n, f in frames_of(res) if n == "r1"]
    assert len(replies) == 1, replies
    assert replies[0][ARP].op == 2 and replies[0][ARP].hwsrc == VMAC["web"] and replies[0][ARP].psrc == WEB
    for s in SERVERS:
        # The switch's own unicast health probes (from br0's MAC) are the only ARP naming
        # the cluster IP a server may see; nothing from a router, nothing flooded.
        foreign = [Ether(f) for n, f in frames_of({s: res[s]}) if Ether(f).src != SWITCH_MAC]
        assert foreign == [], f"{s} saw ARP for the cluster IP: {foreign}"


def test_kernel_arp_from_router_resolves_to_virtual_mac(env):
    env.lab.run("r1", ["ip", "neigh", "flush", "dev", "eth0"])
    env.lab.run("r1", ["ping", "-c", "1", "-W", "2", WEB])
    neigh = env.lab.run("r1", ["ip", "neigh", "show", WEB]).stdout
    assert VMAC["web"] in neigh


def test_servers_arp_for_the_cluster_ip_never_reaches_routers_or_members(env):
    s1 = SERVER_MAC["s1"]
    garp = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=s1) / ARP(op=1, hwsrc=s1, psrc=WEB, pdst=WEB))
    probe = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=s1) / ARP(op=1, hwsrc=s1, psrc="0.0.0.0", pdst=WEB))
    reply = bytes(Ether(dst=R1, src=s1) / ARP(op=2, hwsrc=s1, psrc=WEB, hwdst=R1, pdst=ROUTER_IP["r1"]))
    before = env.stats()["arp_isolated"]
    with env.taps(["r1", "r2", "s2", "s3", "s4"], arp_ip=[WEB]) as res:
        env.send("s1", [garp, probe, reply])
    leaked = [(n, Ether(f).summary()) for n, f in frames_of(res) if Ether(f).src == s1]
    assert leaked == []
    assert env.stats()["arp_isolated"] - before >= 3


def test_server_arp_for_gateway_answered_by_pool_router_one_router_per_half(env):
    got = {}
    with env.taps(["r1", "r2"], arp_ip=[GW]) as rtr:
        for s in SERVERS:
            req = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=SERVER_MAC[s])
                        / ARP(op=1, hwsrc=SERVER_MAC[s], psrc=SERVER_ADDR[s], pdst=GW))
            with env.taps([s], arp_ip=[GW]) as res:
                env.send(s, [req])
            replies = [Ether(f) for _, f in frames_of(res) if Ether(f)[ARP].op == 2]
            assert len(replies) == 1
            got[s] = replies[0][ARP].hwsrc
    assert rtr["r1"]["count"] == 0 and rtr["r2"]["count"] == 0  # intercepted, never at the routers
    assert Counter(got.values()) == {R1: 2, R2: 2}                # 2 routers -> 1/2 of the servers each
    pool = env.show()["router_pools"][0]
    assign = {mac: ROUTER_MAC[r] for mac, r in pool["assignment"].items()}
    assert {SERVER_MAC[s]: m for s, m in got.items()} == assign
    assert sorted(r["servers"] for r in pool["routers"]) == [2, 2]


# ---- inbound: only the destination MAC changes -------------------------------------------

def _proto_frames():
    def base(**kw):
        return Ether(dst=VMAC["web"], src=R1) / IP(src=MARK, dst=WEB, ttl=33, **kw)
    pl = Raw(b"flowswitch-lab-" * 3)
    out = [
        base(id=1) / TCP(sport=41000, dport=80, flags="S", seq=77) / pl,
        base(id=2) / UDP(sport=41001, dport=53) / pl,
        base(id=3) / ICMP(type=8, id=9, seq=1) / pl,
        base(id=4) / ESP(spi=0x101, seq=1, data=b"\x55" * 40),
        base(id=5) / AH(spi=0x202, seq=1, icv=b"\x66" * 12, nh=17) / UDP(sport=1, dport=2) / pl,
        base(id=6) / GRE(proto=0x0800) / IP(src="1.1.1.1", dst="2.2.2.2") / UDP() / pl,
        Ether(dst=VMAC["web"], src=R1) / IP(src=MARK, dst=WEB, ttl=33, id=7, proto=4)
        / IP(src="1.1.1.1", dst="2.2.2.2") / UDP() / pl,
    ]
    frags = fragment(IP(src=MARK, dst=WEB, ttl=33, id=8) / UDP(sport=41002, dport=5000) / Raw(b"Z" * 1100),
                     fragsize=400)
    out += [Ether(dst=VMAC["web"], src=R1) / f for f in frags]
    return [bytes(f) for f in out]


def test_inbound_frames_leave_on_exactly_one_server_port_only_dst_mac_changed(env):
    sent = _proto_frames()
    with env.taps(SERVERS, src=[MARK]) as res:
        env.send("r1", sent)
    got = frames_of(res)
    assert len(got) == len(sent), f"sent {len(sent)}, servers got {len(got)}"
    frag_servers = set()
    for f in sent:
        matches = [(n, g) for n, g in got if g[6:] == f[6:]]
        assert len(matches) == 1, f"frame {f[14:40].hex()} arrived {len(matches)} times"
        node, g = matches[0]
        assert g[:6] == bytes.fromhex(SERVER_MAC[node].replace(":", ""))  # that server's MAC
        assert g[6:12] == f[6:12]           # source MAC untouched
        assert g[14:] == f[14:]             # IP header on (TTL 33, checksums) byte-identical
        assert IP(g[14:]).ttl == 33
        if IP(f[14:]).id == 8:
            frag_servers.add(node)
    assert len(frag_servers) == 1  # the fragments of one datagram stay together


def test_switch_is_invisible_at_layer_3(env):
    # TTL 1 from r1 still reaches the cluster: the switch is not a hop.
    out = env.lab.run("r1", ["ping", "-c", "2", "-i", "0.2", "-t", "1", "-W", "2", WEB], check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ttl=64" in out.stdout  # the server's reply is not decremented by the switch either


# ---- outbound: the plain path ------------------------------------------------------------

def test_server_to_healthy_router_unchanged_and_never_at_the_agent(env):
    s2 = SERVER_MAC["s2"]
    f = bytes(Ether(dst=R1, src=s2) / IP(src=WEB, dst=CLIENT_IP, ttl=64, id=4321) / UDP(sport=80, dport=4444)
              / Raw(b"reply" * 20))
    before = env.router("r1")["out"]["packets"]
    with env.taps(["r1"], src=[WEB]) as res:
        env.send("s2", [f])
    got = [g for _, g in frames_of(res) if g[6:12] == f[6:12] and g[14:] == f[14:]]
    assert got == [f]  # byte-identical, destination MAC included
    assert env.router("r1")["out"]["packets"] > before
    # Nothing in the switch listens to IP frames in user space: the only packet socket is
    # the agent's ARP health-check socket (protocol 0806).
    lines = env.lab.run("sw", ["cat", "/proc/net/packet"]).stdout.splitlines()[1:]
    protos = {ln.split()[3] for ln in lines if ln.strip()}
    assert protos <= {"0806"}, protos


def test_non_cluster_frames_are_bridged_unchanged(env):
    f1 = bytes(Ether(dst=SERVER_MAC["s3"], src=R1) / IP(src=MARK, dst=SERVER_ADDR["s3"], ttl=20) / UDP(dport=7)
               / Raw(b"plain" * 10))
    f2 = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=R1) / IP(src=MARK, dst="10.30.0.255", ttl=20) / UDP(dport=9)
               / Raw(b"bcast" * 10))
    with env.taps(SERVERS, src=[MARK]) as res:
        env.send("r1", [f1, f2])
    assert [g for _, g in frames_of({"s3": res["s3"]}) if g == f1] == [f1]
    assert all(f1 not in (bytes.fromhex(h) for h in res[s]["frames"]) for s in ("s1", "s2", "s4"))
    for s in SERVERS:  # broadcast flooded to every port, unchanged
        assert f2 in (bytes.fromhex(h) for h in res[s]["frames"])


def test_failed_router_traffic_rewritten_to_live_router_until_it_recovers(env):
    pool = env.show()["router_pools"][0]
    s = next(n for n in SERVERS if pool["assignment"].get(SERVER_MAC[n]) == "r2")
    smac = SERVER_MAC[s]
    f = bytes(Ether(dst=R2, src=smac) / IP(src=SERVER_ADDR[s], dst=CLIENT_IP, ttl=64, id=999) / UDP(sport=5, dport=6)
              / Raw(b"out" * 20))
    # The server keeps r2's MAC (as a real ARP cache would while r2 is down).
    env.lab.run(s, ["ip", "neigh", "replace", GW, "lladdr", R2, "dev", "eth0", "nud", "permanent"])
    try:
        with env.link_down("r2"):
            env.wait_router("r2", "down")
            assert env.router("r2")["covered_by"] == "r1"
            before = env.stats()["router_rewrite"]
            with env.taps(["r1"], src=[SERVER_ADDR[s]]) as res:
                env.send(s, [f])
            got = [g for _, g in frames_of(res)]
            assert len(got) == 1
            assert got[0][:6] == bytes.fromhex(R1.replace(":", ""))  # rewritten to the live router
            assert got[0][6:] == f[6:]                                # nothing else changed
            assert env.stats()["router_rewrite"] > before
            # end to end: the server still reaches the client through r1
            ping = env.lab.run(s, ["ping", "-c", "2", "-i", "0.2", "-W", "2", CLIENT_IP], check=False)
            assert ping.returncode == 0, ping.stdout
        env.wait_router("r2", "up")
        before = env.stats()["router_rewrite"]
        with env.taps(["r1", "r2"], src=[SERVER_ADDR[s]]) as res:
            env.send(s, [f])
        assert [bytes.fromhex(h) for h in res["r2"]["frames"]] == [f]  # unchanged again, to r2
        assert res["r1"]["count"] == 0
        assert env.stats()["router_rewrite"] == before
    finally:
        env.lab.run(s, ["ip", "neigh", "del", GW, "dev", "eth0"], check=False)


def test_per_router_counters_readable_from_cli_and_metrics(env):
    flows_to(env, WEB, flows=200)
    st = env.show()
    for r in ("r1",):
        rr = env.router(r, st)
        assert rr["in"]["packets"] > 0 and rr["in"]["bytes"] > 0
    assert sum(env.router(r, st)["out"]["packets"] for r in ("r1", "r2")) > 0
    body = env.lab.run("sw", ["curl", "-sf", f"http://{METRICS}/metrics"]).stdout
    assert 'hitless_flowswitch_router_packets_total{direction="in",pool="core",router="r1"}' in body
    assert 'hitless_flowswitch_cluster_packets_total{cluster="web",direction="in"}' in body
    assert 'hitless_flowswitch_server_up{cluster="api",server="s4"} 1.0' in body
    # bound to the management address only
    assert env.lab.run("sw", ["curl", "-sf", "-m", "2", "http://127.0.0.1:9400/metrics"], check=False).returncode != 0


def test_show_flowswitch_cli_table_and_json(env):
    sock = env.agent.socket
    table = env.lab.run("sw", [PY, "-m", "hitless", "show", "flowswitch", "--socket", sock]).stdout
    assert "cluster web" in table and "router pool core" in table and "cluster mail" in table
    js = json.loads(env.lab.run("sw", [PY, "-m", "hitless", "show", "flowswitch", "--json", "--socket", sock]).stdout)
    assert {c["name"] for c in js["clusters"]} == {"web", "mail", "api"}


# ---- clusters, capacity, health types ----------------------------------------------------

def test_two_clusters_are_isolated(env):
    wrong = bytes(Ether(dst=VMAC["web"], src=R1) / IP(src=MARK, dst=MAIL) / UDP(dport=25) / Raw(b"x" * 20))
    req = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=R1) / ARP(op=1, hwsrc=R1, psrc=ROUTER_IP["r1"], pdst=MAIL))
    with env.taps(SERVERS, src=[MARK]) as res, env.taps(["r1"], arp_ip=[MAIL]) as arp_res:
        env.send("r1", [wrong, req])
    assert sum(r["count"] for r in res.values()) == 0           # web's MAC with mail's IP: delivered nowhere
    reply = [Ether(f) for _, f in frames_of(arp_res)]
    assert len(reply) == 1 and reply[0][ARP].hwsrc == VMAC["mail"]
    # traffic to mail reaches only its primary; web's reaches its own servers
    with env.taps(SERVERS, src=[CLIENT_IP]) as res:
        flows_to(env, MAIL, flows=100, sport_base=33000)
    assert res["s1"]["count"] >= 90 and all(res[s]["count"] == 0 for s in ("s2", "s3", "s4"))


def test_unequal_capacity_spreads_in_proportion(env):
    with env.taps(["s3", "s4"], src=[CLIENT_IP]) as res:
        flows_to(env, API, flows=1200, sport_base=34000)
    n3, n4 = len(res["s3"]["flows"]), len(res["s4"]["flows"])
    assert n3 + n4 >= 1000  # a loaded 2-core box may drop a few; the ratio is what counts
    assert 0.18 <= n3 / (n3 + n4) <= 0.32  # capacity 1:3


def test_tcp_health_check_is_per_cluster_membership(env):
    env.stop_listener("s4")
    try:
        env.wait_member("api", "s4", "down")
        assert env.member("web", "s4")["state"] == "up"  # web checks s4 by ARP: still up
        with env.taps(["s3", "s4"], src=[CLIENT_IP]) as res:
            flows_to(env, API, flows=200, sport_base=35000)
        assert res["s4"]["count"] == 0 and res["s3"]["count"] >= 180
    finally:
        env.start_listener("s4")
    env.wait_member("api", "s4", "up")

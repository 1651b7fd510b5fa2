"""xdp_flowswitch packet-in/packet-out through BPF_PROG_TEST_RUN, packets built by scapy.

Covers spec/flow-switch.md behaviours at the packet level: 4-6 (only the destination MAC
changes, for every protocol), 7 (router frames untouched), 8-9 (failover, affinity),
10 (availability), 1-2/13 (ARP), 16 (router cover), 17 (cluster isolation), 18 (non-cluster
frames), 19 (no TTL change), plus the L3-only key and counters.
"""
from collections import Counter

import pytest
from scapy.layers.inet import GRE, ICMP, IP, TCP, UDP, fragment
from scapy.layers.ipsec import AH, ESP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from fs_harness import (CLIENT_IP, CLIENT_MAC, GW_IP, IP_A, IP_B, M, ROUTERS, SELF_MAC, SERVERS_A,
                        SERVERS_B, VMAC_A, VMAC_B, ROUTER_ROLE, SERVER_ROLE)
from hitless.config.schema import mac_bytes
from hitless.dataplane.bpfsys import XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX
from hitless.flowswitch.routers import fallback_index
from hitless.flowswitch.tables import MODE_AVAILABILITY, flow_hash, flow_key

SERVER_MACS_A = {mac_bytes(m): sid for sid, m in SERVERS_A.items()}
SERVER_MACS_B = {mac_bytes(m): sid for sid, m in SERVERS_B.items()}


def eth(dst=VMAC_A, src=CLIENT_MAC):
    return Ether(dst=dst, src=src)


def ip(dst=IP_A, src=CLIENT_IP, **kw):
    return IP(src=src, dst=dst, ttl=61, id=4242, **kw)


PAYLOAD = Raw(b"hitless-payload-" * 4)
PROTOCOLS = {
    "tcp": lambda: eth() / ip() / TCP(sport=40000, dport=80, flags="S", seq=1234) / PAYLOAD,
    "udp": lambda: eth() / ip() / UDP(sport=40000, dport=53) / PAYLOAD,
    "icmp": lambda: eth() / ip() / ICMP(type=8, id=7, seq=1) / PAYLOAD,
    "esp": lambda: eth() / ip() / ESP(spi=0x1001, seq=5, data=b"\x11" * 48),
    "ah": lambda: eth() / ip() / AH(spi=0x2002, seq=6, icv=b"\x22" * 12, nh=17) / UDP(sport=1, dport=2) / PAYLOAD,
    "gre": lambda: eth() / ip() / GRE(proto=0x0800) / IP(src="1.1.1.1", dst="2.2.2.2") / UDP() / PAYLOAD,
    "ipip": lambda: eth() / ip(proto=4) / IP(src="1.1.1.1", dst="2.2.2.2") / UDP() / PAYLOAD,
}
PORTLESS = {"icmp": 1, "esp": 50, "ah": 51, "gre": 47, "ipip": 4}


def fragments():
    big = ip() / UDP(sport=40001, dport=5000) / Raw(b"F" * 1200)
    return [bytes(eth() / f) for f in fragment(big, fragsize=400)]


def server_of(res, macs=SERVER_MACS_A):
    assert res.retval == XDP_REDIRECT, f"verdict {res.action}"
    return macs[res.data[:6]]


def assert_only_dst_mac_changed(pkt: bytes, res, macs=SERVER_MACS_A):
    assert res.retval == XDP_REDIRECT
    assert len(res.data) == len(pkt)
    assert res.data[:6] in macs                   # destination: one of the cluster's servers
    assert res.data[6:12] == pkt[6:12]            # source MAC unchanged
    assert res.data[12:] == pkt[12:]              # ethertype, IP header (TTL, checksum), L4, payload
    assert IP(res.data[14:]).ttl == 61            # no TTL decrement: invisible at L3


@pytest.mark.parametrize("proto", sorted(PROTOCOLS))
def test_inbound_rewrites_only_destination_mac(fs, proto):
    pkt = bytes(PROTOCOLS[proto]())
    res = fs.run(pkt)
    assert_only_dst_mac_changed(pkt, res)


def test_inbound_fragments_all_rewritten_byte_for_byte_and_kept_together(fs):
    frags = fragments()
    assert len(frags) >= 3
    servers = set()
    for f in frags:
        res = fs.run(f)
        assert_only_dst_mac_changed(f, res)
        servers.add(server_of(res))
    assert len(servers) == 1  # later fragments follow the first one's server


@pytest.mark.parametrize("proto", sorted(PORTLESS))
def test_portless_protocols_use_l3_key(fs, proto):
    pkt = bytes(PROTOCOLS[proto]())
    res = fs.run(pkt)
    sid = server_of(res)
    key = flow_key(CLIENT_IP, IP_A, PORTLESS[proto])
    assert fs.fm.ct_lookup(key) == (sid, 0)
    # the Maglev slot of the L3 key is exactly what the program used
    assert fs.tables[0][flow_hash(key) % M] == sid


def test_tcp_and_udp_use_the_five_tuple(fs):
    chosen = Counter()
    for sport in range(30000, 30200):
        res = fs.run(bytes(eth() / ip() / TCP(sport=sport, dport=443) / PAYLOAD))
        sid = server_of(res)
        key = flow_key(CLIENT_IP, IP_A, 6, sport, 443)
        assert fs.fm.ct_lookup(key) == (sid, 0)
        assert fs.tables[0][flow_hash(key) % M] == sid
        chosen[sid] += 1
    assert set(chosen) == set(SERVERS_A)  # ports spread flows over every server


def _frag_pair(fs):
    """A UDP flow whose 5-tuple server differs from its L3-key server."""
    l3 = fs.tables[0][flow_hash(flow_key(CLIENT_IP, IP_A, 17)) % M]
    for sport in range(20000, 21000):
        if fs.tables[0][flow_hash(flow_key(CLIENT_IP, IP_A, 17, sport, 9)) % M] != l3:
            return sport, l3
    raise AssertionError("no such port")


def test_non_first_fragment_follows_first_fragment(fs):
    sport, l3 = _frag_pair(fs)
    frags = [bytes(eth() / f) for f in fragment(ip() / UDP(sport=sport, dport=9) / Raw(b"x" * 900), fragsize=400)]
    first = server_of(fs.run(frags[0]))
    assert first != l3
    for f in frags[1:]:
        assert server_of(fs.run(f)) == first
    assert fs.fm.stats()["frag_hit"]["packets"] >= len(frags) - 1


def test_lone_non_first_fragment_uses_l3_key(fs):
    sport, l3 = _frag_pair(fs)
    frags = [bytes(eth() / f) for f in fragment(ip() / UDP(sport=sport, dport=9) / Raw(b"x" * 900), fragsize=400)]
    # the first fragment never arrived (or arrived after): the rest go by L3 key
    assert server_of(fs.run(frags[1])) == l3
    assert fs.fm.ct_lookup(flow_key(CLIENT_IP, IP_A, 17)) == (l3, 0)


def test_each_packet_goes_to_exactly_one_server_of_its_cluster(fs):
    seen = Counter()
    for i in range(400):
        res = fs.run(bytes(eth() / ip(src=f"198.51.{i // 200}.{i % 200 + 1}") / UDP(sport=1000 + i, dport=53)))
        seen[server_of(res)] += 1
    assert sum(seen.values()) == 400
    for sid in SERVERS_A:
        assert 40 <= seen[sid] <= 160  # ~100 each


def test_failed_server_gets_no_new_packets_and_only_its_flows_move(fs):
    flows = [bytes(eth() / ip(src=f"198.51.100.{i % 250 + 1}") / TCP(sport=10000 + i, dport=80)) for i in range(1000)]
    before = [server_of(fs.run(p)) for p in flows]
    fs.set_up(2, False)
    after = [server_of(fs.run(p)) for p in flows]
    assert 2 not in after
    moved = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert all(before[i] == 2 for i in moved)            # only the failed server's flows moved
    assert len(moved) == before.count(2)
    # new flows never pick it either
    for i in range(300):
        assert server_of(fs.run(bytes(eth() / ip() / UDP(sport=i + 1, dport=7)))) != 2


def test_down_flag_alone_steers_away_before_the_table_is_rebuilt(fs):
    flows = [bytes(eth() / ip() / TCP(sport=11000 + i, dport=80)) for i in range(300)]
    before = [server_of(fs.run(p)) for p in flows]
    fs.set_up(1, False, rebuild=False)  # the window between a failure and the table swap
    after = [server_of(fs.run(p)) for p in flows]
    assert 1 not in after
    assert all(b == a for a, b in zip(before, after) if a != 1)


def test_recovered_server_eligible_again_existing_flows_stay(fs):
    fs.set_up(3, False)
    flows = [bytes(eth() / ip() / TCP(sport=12000 + i, dport=80)) for i in range(400)]
    during = [server_of(fs.run(p)) for p in flows]
    assert 3 not in during
    fs.set_up(3, True)
    after = [server_of(fs.run(p)) for p in flows]
    assert after == during  # existing flows do not move back
    new = Counter(server_of(fs.run(bytes(eth() / ip() / TCP(sport=13000 + i, dport=80)))) for i in range(400))
    assert new[3] > 40  # but new flows reach the recovered server


def test_table_swap_changes_new_flows_only(fs):
    old = [bytes(eth() / ip() / TCP(sport=14000 + i, dport=80)) for i in range(300)]
    before = [server_of(fs.run(p)) for p in old]
    prog_id_fd = fs.prog.fd
    fs.weights[0] = {0: 10.0, 1: 1.0, 2: 1.0, 3: 1.0}
    fs.rebuild(0)
    assert [server_of(fs.run(p)) for p in old] == before
    new = Counter(server_of(fs.run(bytes(eth() / ip() / TCP(sport=15000 + i, dport=80)))) for i in range(500))
    assert new[0] > 250  # ~10/13 of new flows
    assert fs.prog.fd == prog_id_fd


def test_weights_proportional_to_capacity(fs):
    fs.weights[0] = {0: 1.0, 1: 1.0, 2: 2.0, 3: 4.0}
    fs.rebuild(0)
    got = Counter(server_of(fs.run(bytes(eth() / ip(src=f"203.0.113.{i % 200 + 1}") / UDP(sport=2000 + i, dport=53))))
                  for i in range(1600))
    assert 120 <= got[0] <= 280 and 120 <= got[1] <= 280
    assert 300 <= got[2] <= 500
    assert 650 <= got[3] <= 950


def test_availability_mode_all_to_primary_no_affinity(fs):
    fs.fm.set_clusters({0: (IP_A, VMAC_A, MODE_AVAILABILITY), 1: (IP_B, "02:fe:00:00:00:0b", 0)})
    fs.rebuild(0, MODE_AVAILABILITY, primary=1)
    flows = [bytes(eth() / ip() / TCP(sport=16000 + i, dport=80)) for i in range(200)]
    assert {server_of(fs.run(p)) for p in flows} == {1}
    # promotion: the table now says server 2; old primary recovers later: nothing moves back
    fs.set_up(1, False, rebuild=False)
    fs.rebuild(0, MODE_AVAILABILITY, primary=2)
    assert {server_of(fs.run(p)) for p in flows} == {2}
    fs.set_up(1, True, rebuild=False)
    assert {server_of(fs.run(p)) for p in flows} == {2}
    assert fs.fm.ct_lookup(flow_key(CLIENT_IP, IP_A, 6, 16000, 80)) is None


def test_no_operational_server_drops(fs):
    for sid in SERVERS_A:
        fs.set_up(sid, False, rebuild=False)
    fs.rebuild(0)
    pkt = bytes(eth() / ip() / UDP(sport=1, dport=2))
    assert fs.run(pkt).retval == XDP_DROP
    assert fs.fm.stats()["no_server"]["packets"] >= 1


def test_two_clusters_isolated(fs):
    for i in range(200):
        ra = fs.run(bytes(eth(VMAC_A) / ip(IP_A) / UDP(sport=3000 + i, dport=53)))
        rb = fs.run(bytes(eth(VMAC_B) / ip(IP_B) / UDP(sport=3000 + i, dport=53)))
        assert ra.data[:6] in SERVER_MACS_A and ra.retval == XDP_REDIRECT
        assert rb.data[:6] in SERVER_MACS_B and rb.retval == XDP_REDIRECT
    # cluster B's IP behind cluster A's virtual MAC (or the reverse) is refused, not delivered
    assert fs.run(bytes(eth(VMAC_A) / ip(IP_B) / UDP())).retval == XDP_DROP
    assert fs.run(bytes(eth(VMAC_B) / ip(IP_A) / UDP())).retval == XDP_DROP


def test_server_failure_in_one_cluster_leaves_the_other_alone(fs):
    # server 0 of A and server 10 of B share a port and a MAC (one box in two clusters)
    fs.set_up(0, False)
    got = {server_of(fs.run(bytes(eth(VMAC_B) / ip(IP_B) / UDP(sport=4000 + i, dport=53))), SERVER_MACS_B)
           for i in range(100)}
    assert got == {10, 11}


@pytest.mark.parametrize("pkt", [
    Ether(dst="02:00:00:00:55:55", src=CLIENT_MAC) / IP(src=CLIENT_IP, dst="10.20.0.9", ttl=9) / UDP() / PAYLOAD,
    Ether(dst="ff:ff:ff:ff:ff:ff", src=CLIENT_MAC) / IP(src=CLIENT_IP, dst="10.20.0.255") / UDP(),
    Ether(dst="02:00:00:00:55:55", src=CLIENT_MAC, type=0x86DD) / Raw(b"\x60" + b"\0" * 60),
    Ether(dst=SERVERS_A[0], src=CLIENT_MAC) / IP(src=CLIENT_IP, dst=IP_A) / TCP(),  # stale ARP: bridged
    Ether(dst="ff:ff:ff:ff:ff:ff", src=CLIENT_MAC) / ARP(op=1, psrc=CLIENT_IP, pdst="10.20.0.9"),
], ids=["unicast", "broadcast", "ipv6", "server-mac", "arp-other"])
def test_non_cluster_frames_pass_unchanged(fs, pkt):
    raw = bytes(pkt)
    res = fs.run(raw)
    assert res.retval == XDP_PASS
    assert res.data == raw


def test_frame_to_virtual_mac_that_is_not_ipv4_is_dropped(fs):
    assert fs.run(bytes(Ether(dst=VMAC_A, src=CLIENT_MAC, type=0x86DD) / Raw(b"\x60" + bytes(60)))).retval == XDP_DROP


# ---- outbound: router pool ---------------------------------------------------------------

R1, R2 = ROUTERS["r1"][0], ROUTERS["r2"][0]


def outbound(router_mac=R1, server=0):
    return bytes(Ether(dst=router_mac, src=SERVERS_A[server]) / IP(src=IP_A, dst=CLIENT_IP, ttl=64)
                 / TCP(sport=80, dport=40000, flags="SA") / PAYLOAD)


def test_outbound_to_healthy_router_passes_unchanged_and_counts(fs):
    fs.role(SERVER_ROLE)
    before = fs.fm.router_counters(0)["out"]["packets"]
    sbefore = fs.fm.server_counters(1)["out"]["packets"]
    pkt = outbound(R1, server=1)
    res = fs.run(pkt)
    assert res.retval == XDP_PASS and res.data == pkt
    assert fs.fm.router_counters(0)["out"]["packets"] == before + 1
    assert fs.fm.server_counters(1)["out"]["packets"] == sbefore + 1


def test_failed_router_rewritten_to_live_router_until_recovery(fs):
    fs.role(SERVER_ROLE)
    fs.fm.set_routers({R1: (0, False, R2, 3, 1, 0), R2: (1, True, None, 0, 0, 0)})
    pkt = outbound(R1)
    res = fs.run(pkt)
    assert res.retval == XDP_REDIRECT
    assert res.data[:6] == mac_bytes(R2)
    assert res.data[6:] == pkt[6:]  # source MAC never rewritten, IP onward identical
    assert fs.fm.stats()["router_rewrite"]["packets"] >= 1
    assert fs.fm.router_counters(1)["out"]["packets"] >= 1
    fs.fm.set_routers({R1: (0, True, None, 0, 0, 0), R2: (1, True, None, 0, 0, 0)})
    res = fs.run(pkt)
    assert res.retval == XDP_PASS and res.data == pkt


def test_per_router_in_counters(fs):
    pkt = bytes(Ether(dst=VMAC_A, src=R2) / ip() / UDP(sport=5, dport=6) / PAYLOAD)
    before = fs.fm.router_counters(1)["in"]
    fs.run(pkt)
    after = fs.fm.router_counters(1)["in"]
    assert after["packets"] == before["packets"] + 1
    assert after["bytes"] == before["bytes"] + len(pkt)


def test_cluster_and_server_counters(fs):
    c0 = fs.fm.cluster_counters(0)["in"]["packets"]
    pkts = [bytes(eth() / ip() / UDP(sport=6000 + i, dport=53) / PAYLOAD) for i in range(20)]
    per = Counter(server_of(fs.run(p)) for p in pkts)
    assert fs.fm.cluster_counters(0)["in"]["packets"] == c0 + 20
    for sid, n in per.items():
        assert fs.fm.server_counters(sid)["in"]["packets"] >= n
    b_before = fs.fm.cluster_counters(1)["in"]["packets"]
    fs.run(pkts[0])
    assert fs.fm.cluster_counters(1)["in"]["packets"] == b_before


# ---- ARP ---------------------------------------------------------------------------------

def arp_req(pdst, psrc="10.20.0.250", hwsrc="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff"):
    return bytes(Ether(dst=dst, src=hwsrc) / ARP(op=1, hwsrc=hwsrc, psrc=psrc, pdst=pdst))


def test_proxy_arp_for_cluster_ip_answers_virtual_mac(fs):
    fs.role(ROUTER_ROLE)
    pkt = arp_req(IP_A, psrc="10.20.0.2", hwsrc=R1)
    res = fs.run(pkt)
    assert res.retval == XDP_TX
    rep = Ether(res.data)
    assert rep.dst == R1 and rep.src == VMAC_A
    a = rep[ARP]
    assert a.op == 2 and a.hwsrc == VMAC_A and a.psrc == IP_A and a.hwdst == R1 and a.pdst == "10.20.0.2"
    # unicast refresh to the virtual MAC is answered the same way
    res = fs.run(arp_req(IP_B, psrc="10.20.0.2", hwsrc=R1, dst=VMAC_B))
    assert res.retval == XDP_TX and Ether(res.data)[ARP].hwsrc == VMAC_B


@pytest.mark.parametrize("kind", ["server-reply", "server-gratuitous", "server-probe", "server-request"])
def test_servers_arp_about_cluster_ip_never_leaves(fs, kind):
    fs.role(SERVER_ROLE)
    smac = SERVERS_A[1]
    pkt = {
        "server-reply": Ether(dst=R1, src=smac) / ARP(op=2, hwsrc=smac, psrc=IP_A, hwdst=R1, pdst="10.20.0.2"),
        "server-gratuitous": Ether(dst="ff:ff:ff:ff:ff:ff", src=smac) / ARP(op=1, hwsrc=smac, psrc=IP_A, pdst=IP_A),
        "server-probe": Ether(dst="ff:ff:ff:ff:ff:ff", src=smac) / ARP(op=1, hwsrc=smac, psrc="0.0.0.0", pdst=IP_A),
        "server-request": Ether(dst="ff:ff:ff:ff:ff:ff", src=smac) / ARP(op=1, hwsrc=smac, psrc="10.20.0.50", pdst=IP_A),
    }[kind]
    assert fs.run(bytes(pkt)).retval == XDP_DROP
    assert fs.fm.stats()["arp_isolated"]["packets"] >= 1


def test_router_side_gratuitous_for_cluster_ip_not_flooded(fs):
    fs.role(ROUTER_ROLE)
    pkt = Ether(dst="ff:ff:ff:ff:ff:ff", src=R1) / ARP(op=1, hwsrc=R1, psrc=IP_A, pdst=IP_A)
    assert fs.run(bytes(pkt)).retval == XDP_DROP


def test_server_reply_to_switch_itself_passes_for_health_checks(fs):
    fs.role(SERVER_ROLE)
    smac = SERVERS_A[0]
    pkt = bytes(Ether(dst=SELF_MAC, src=smac) / ARP(op=2, hwsrc=smac, psrc=IP_A, hwdst=SELF_MAC, pdst="10.20.0.250"))
    res = fs.run(pkt)
    assert res.retval == XDP_PASS and res.data == pkt


def test_server_arp_for_gateway_answered_with_assigned_router(fs):
    fs.role(SERVER_ROLE)
    smac = SERVERS_A[2]
    fs.fm.set_gateways({GW_IP: (0, [R1, R2])}, {(GW_IP, smac): R2})
    res = fs.run(arp_req(GW_IP, psrc=IP_A, hwsrc=smac))
    assert res.retval == XDP_TX
    rep = Ether(res.data)
    assert rep.dst == smac and rep[ARP].hwsrc == R2 and rep[ARP].psrc == GW_IP and rep[ARP].op == 2


def test_unknown_asker_gets_hash_of_live_routers_and_none_when_all_dead(fs):
    fs.role(SERVER_ROLE)
    asker = "02:00:00:00:77:01"
    fs.fm.set_gateways({GW_IP: (0, [R1, R2])}, {})
    res = fs.run(arp_req(GW_IP, psrc="10.20.0.77", hwsrc=asker))
    expected = [R1, R2][fallback_index(mac_bytes(asker), 2)]
    assert res.retval == XDP_TX and Ether(res.data)[ARP].hwsrc == expected
    fs.fm.set_gateways({GW_IP: (0, [])}, {})
    assert fs.run(arp_req(GW_IP, psrc="10.20.0.77", hwsrc=asker)).retval == XDP_DROP


def test_gateway_arp_from_router_side_is_not_intercepted(fs):
    fs.role(ROUTER_ROLE)
    pkt = arp_req(GW_IP, psrc="10.20.0.3", hwsrc=R2)
    res = fs.run(pkt)
    assert res.retval == XDP_PASS and res.data == pkt


def test_runt_and_truncated_frames_pass(fs):
    assert fs.run(b"\x02" * 14).retval == XDP_PASS
    assert fs.run(bytes(Ether(dst="ff:ff:ff:ff:ff:ff", type=0x0806)) + b"\x00\x01").retval == XDP_PASS
    # a truncated IPv4 header behind the virtual MAC is refused, not parsed past its end
    assert fs.run(bytes(Ether(dst=VMAC_A, src=CLIENT_MAC, type=0x0800)) + b"\x45\x00").retval == XDP_DROP


def test_server_arp_for_a_router_ip_answered_by_switch_even_from_cluster_ip(fs):
    fs.role(SERVER_ROLE)
    smac = SERVERS_A[1]
    fs.fm.set_router_ips({"10.20.0.2": R1})
    # "who-has r1 tell <cluster IP>": answered here, never reaches the routers
    res = fs.run(arp_req("10.20.0.2", psrc=IP_A, hwsrc=smac))
    assert res.retval == XDP_TX
    rep = Ether(res.data)
    assert rep[ARP].hwsrc == R1 and rep[ARP].psrc == "10.20.0.2" and rep[ARP].pdst == IP_A and rep.dst == smac
    # while r1 is down the agent points its IP at the cover
    fs.fm.set_router_ips({"10.20.0.2": R2})
    assert Ether(fs.run(arp_req("10.20.0.2", psrc=IP_A, hwsrc=smac)).data)[ARP].hwsrc == R2
    # unknown on-link target from the cluster IP: dropped (isolation), not flooded
    fs.fm.set_router_ips({})
    assert fs.run(arp_req("10.20.0.77", psrc=IP_A, hwsrc=smac)).retval == XDP_DROP


# ---- fuzz: malformed frames never abort and never get half-rewritten ------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_HEADS = st.sampled_from([
    b"",                                                                  # fully random frame
    mac_bytes(VMAC_A) + mac_bytes(CLIENT_MAC) + b"\x08\x00",              # to the virtual MAC, IPv4
    mac_bytes(VMAC_A) + mac_bytes(CLIENT_MAC) + b"\x08\x00\x45\x00",
    b"\xff" * 6 + mac_bytes(CLIENT_MAC) + b"\x08\x06\x00\x01\x08\x00\x06\x04",  # ARP header
    mac_bytes(R1) + mac_bytes(SERVERS_A[0]) + b"\x08\x00",                # to a router
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=_HEADS, tail=st.binary(max_size=120), server_port=st.booleans())
def test_fuzz_frames_get_a_clean_verdict(fs, head, tail, server_port):
    pkt = (head + tail).ljust(14, b"\0")
    fs.role(SERVER_ROLE if server_port else ROUTER_ROLE)
    res = fs.run(pkt)
    assert res.retval in (XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT), res.retval  # never XDP_ABORTED
    assert len(res.data) == len(pkt)
    if res.retval == XDP_PASS:
        assert res.data == pkt                      # passed frames are untouched
    if res.retval == XDP_REDIRECT:
        assert res.data[6:] == pkt[6:]              # only the destination MAC may change

"""`show gateway` text rendering from a real engine snapshot, and the ARP frame codec
(exact layout, and a hypothesis fuzz: malformed frames raise WireError, never crash)."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from glbp_sim import three
from hitless.errors import WireError
from hitless.gateway.arp import ArpPacket, gratuitous, reply
from hitless.gateway.show import format_gateway_table, format_table
from hitless.wire import glbp


def test_table_shows_state_roles_forwarders_and_timers():
    net = three()
    net.crash("r3")
    net.run(0.4)
    d = {"node": "lab-r1", "groups": [net.nodes["r1"].engine.snapshot(net.now)],
         "counters": {"rx_malformed": 0}, "dataplane": None}
    text = format_table(d)
    assert "State is Active" in text and "Active is local" in text
    assert "Standby is 10.0.0.12" in text
    assert "Hello time 100 ms, hold time 300 ms" in text and "Redirect time 2 s, forwarder timeout 5 s" in text
    line3 = next(line for line in text.splitlines() if line.strip().startswith("3 "))
    assert "00:07:b4:00:01:03" in line3 and "(down)" in line3 and "10.0.0.11" in line3
    assert format_gateway_table(d) == text


def test_arp_reply_and_garp_layout():
    host = bytes.fromhex("020000000011")
    req = ArpPacket(b"\xff" * 6, host, 1, host, "10.0.0.11", bytes(6), "10.0.0.1")
    v = glbp.vmac(1, 2)
    r = reply(req, glbp.vmac(1, 1), v, "10.0.0.1")
    raw = r.encode()
    assert len(raw) == 60 and raw[:6] == host and raw[6:12] == glbp.vmac(1, 1)
    assert ArpPacket.parse(raw) == r and r.op == 2 and r.sha == v and r.tpa == "10.0.0.11"
    g = ArpPacket.parse(gratuitous(v, "10.0.0.1").encode())
    assert (g.eth_dst, g.eth_src, g.op, g.sha, g.spa, g.tpa) == (b"\xff" * 6, v, 1, v, "10.0.0.1", "10.0.0.1")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_arp_parser_never_crashes(data):
    try:
        ArpPacket.parse(data)
    except WireError:
        pass

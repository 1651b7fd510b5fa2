"""ARP frames (build/parse, fuzzed), gateway tables, the metrics endpoint, the show table."""
import urllib.request

import pytest
from hypothesis import given, settings, strategies as st
from prometheus_client.core import CounterMetricFamily
from scapy.layers.l2 import ARP, Ether

from hitless.agentd.metrics import parse_listen, start_metrics_server
from hitless.errors import HitlessError, WireError
from hitless.flowswitch import arp
from hitless.flowswitch.show import format_table


def test_build_matches_scapy_and_parses_back():
    f = arp.build(1, bytes.fromhex("020000000001"), "10.0.0.1", "10.0.0.2", dst_mac=bytes.fromhex("020000000002"))
    assert len(f) == 60
    s = Ether(f)
    assert s[ARP].op == 1 and s[ARP].psrc == "10.0.0.1" and s[ARP].pdst == "10.0.0.2" and s.dst == "02:00:00:00:00:02"
    a = arp.parse(f)
    assert a.op == 1 and a.spa == "10.0.0.1" and a.tpa == "10.0.0.2"


def test_gratuitous():
    a = arp.parse(arp.gratuitous("02:fe:00:00:00:01", "10.1.1.1"))
    assert a.spa == a.tpa == "10.1.1.1" and a.dst == b"\xff" * 6 and a.sha == bytes.fromhex("02fe00000001")


def test_parse_rejects_non_arp():
    with pytest.raises(WireError):
        arp.parse(b"\0" * 10)
    with pytest.raises(WireError):
        arp.parse(bytes(Ether(type=0x0800)) + b"\0" * 40)
    bad = bytearray(arp.gratuitous("02:00:00:00:00:01", "1.2.3.4"))
    bad[21] = 9  # op 9
    with pytest.raises(WireError):
        arp.parse(bytes(bad))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_matcher_never_raises_and_counts_malformed(data):
    m = arp.ArpReplyMatcher(b"\x02" * 6, "10.0.0.9")
    ok = m(data)
    assert ok in (True, False)
    assert m.malformed + m.other + int(ok) == 1


def test_matcher_accepts_only_the_expected_reply():
    mac = bytes.fromhex("020000000009")
    m = arp.ArpReplyMatcher(mac, "10.0.0.9")
    assert m(bytes(Ether(src="02:00:00:00:00:09") / ARP(op=2, hwsrc="02:00:00:00:00:09", psrc="10.0.0.9")))
    assert not m(bytes(Ether() / ARP(op=2, hwsrc="02:00:00:00:00:08", psrc="10.0.0.9")))
    assert not m(bytes(Ether() / ARP(op=1, hwsrc="02:00:00:00:00:09", psrc="10.0.0.9")))
    assert m.other == 2


def test_gateway_tables():
    gws, assign = arp.gateway_tables(
        {"core": ("10.0.0.1", ["r2"])},
        {"core": {"02:00:00:00:01:01": "r2", "02:00:00:00:01:02": "r1"}},
        {"r1": "02:00:00:00:00:01", "r2": "02:00:00:00:00:02"})
    assert gws == {"10.0.0.1": (0, ["02:00:00:00:00:02"])}
    assert assign == {("10.0.0.1", "02:00:00:00:01:01"): "02:00:00:00:00:02"}  # dead r1 not handed out


def test_parse_listen():
    assert parse_listen("127.0.0.1:9400") == ("127.0.0.1", 9400)
    assert parse_listen("[::1]:9400") == ("::1", 9400)
    for bad in ("0.0.0.0:9400", "[::]:1", "127.0.0.1:70000", "nohost:80", "127.0.0.1"):
        with pytest.raises(HitlessError):
            parse_listen(bad)


class OneCounter:
    def collect(self):
        c = CounterMetricFamily("hitless_test_things", "things", labels=["kind"])
        c.add_metric(["a"], 42)
        yield c


def test_metrics_server_serves_registered_collectors_on_given_address_only():
    srv = start_metrics_server("127.0.0.1:0", [OneCounter()])
    try:
        host, port = srv.address
        assert host == "127.0.0.1" and port > 0
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert 'hitless_test_things_total{kind="a"} 42.0' in body
        assert "python_gc" not in body  # private registry: nothing but what roles registered
    finally:
        srv.shutdown()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_format_table():
    io = {"in": {"packets": 1500, "bytes": 2_000_000}, "out": {"packets": 3, "bytes": 400}}
    d = {"running": True, "clusters": [{
        "name": "web", "ip": "10.0.0.100", "vmac": "02:fe:00:00:00:01", "mode": "availability", "primary": "s1",
        "promotions": 1, "table": {"size": 65537, "half": 1, "rebuilds": 3}, **io,
        "servers": [{"name": "s1", "mac": "02:00:00:00:01:01", "port": "p3", "state": "up", "capacity": 1,
                     "weight": 1.0, "table_share": 1.0, "availability": "primary",
                     "health": {"suppressed": False}, **io}]}],
        "router_pools": [{"name": "core", "gateway_ip": "10.0.0.1", "select": "round-robin", "routers": [
            {"name": "r1", "mac": "02:00:00:00:00:01", "ip": "10.0.0.2", "port": "p1", "state": "down",
             "covered_by": "r2", "servers": 0, **io}]}],
        "stats": {"inbound": {"packets": 1500, "bytes": 9}}}
    text = format_table(d)
    assert "cluster web" in text and "primary s1" in text and "up primary" in text
    assert "1.5k" in text and "2.0M" in text and "covered-by" in text and "r2" in text
    assert "inbound 1.5k" in text
    assert format_table({"running": False}) == "flowswitch: not running"

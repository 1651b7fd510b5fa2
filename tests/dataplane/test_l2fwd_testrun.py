"""xdp_l2fwd, packet in / packet out through BPF_PROG_TEST_RUN (no interface needed)."""
import struct

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from hitless.config.schema import mac_bytes
from hitless.dataplane.bpfsys import XDP_DROP, XDP_PASS, XDP_REDIRECT
from hitless.dataplane.forwarder import ENTRY, STATS, U32
from hitless.dataplane.loader import compile_for_test
from hitless.dataplane.maps import read_counters

VMAC, SERVER, CLIENT = "02:aa:00:00:00:01", "02:00:00:00:0b:01", "02:00:00:00:0a:01"


@pytest.fixture(scope="module")
def prog():
    with compile_for_test("l2fwd") as t:
        t.map("l2fwd_ports").update(U32.pack(1), U32.pack(1))  # slot 1 -> ifindex 1 (lo)
        t.map("l2fwd_table").update(mac_bytes(VMAC) + b"\0\0", ENTRY.pack(mac_bytes(SERVER), 0, 1, 0))
        yield t


def frame(dst, payload=b"probe" * 10):
    return bytes(Ether(dst=dst, src=CLIENT) / IP(src="10.9.0.1", dst="10.9.0.2", ttl=17) / UDP(sport=4000, dport=7000)
                 / payload)


def test_matching_frame_gets_only_its_destination_mac_rewritten(prog):
    pkt = frame(VMAC)
    res = prog.run(pkt)
    assert res.retval == XDP_REDIRECT
    assert res.data[:6] == mac_bytes(SERVER)
    assert res.data[6:] == pkt[6:]  # source MAC, IP header (TTL 17), UDP and payload byte-identical
    assert IP(res.data[14:]).ttl == 17


@pytest.mark.parametrize("pkt", [
    frame(SERVER),
    frame("ff:ff:ff:ff:ff:ff"),
    bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=CLIENT) / ARP(pdst="10.9.0.2")),
    bytes(Ether(dst="02:00:00:00:99:99", src=CLIENT) / IP(dst="10.9.0.2") / ICMP()),
])
def test_other_frames_pass_unchanged(prog, pkt):
    res = prog.run(pkt)
    assert res.retval == XDP_PASS
    assert res.data == pkt


def test_runt_frame_passes(prog):
    res = prog.run(b"\x02" * 14)  # the kernel's minimum for an XDP test run is an Ethernet header
    assert res.retval == XDP_PASS


def test_rule_without_port_is_dropped_not_bridged(prog):
    orphan = "02:aa:00:00:00:02"
    prog.map("l2fwd_table").update(mac_bytes(orphan) + b"\0\0", ENTRY.pack(mac_bytes(SERVER), 0, 77, 0))
    try:
        assert prog.run(frame(orphan)).retval == XDP_DROP
    finally:
        prog.map("l2fwd_table").delete(mac_bytes(orphan) + b"\0\0")


def test_counters_count_every_verdict(prog):
    stats = prog.map("l2fwd_stats")
    before = {name: read_counters(stats, U32.pack(i))[0] for i, name in enumerate(STATS)}
    pkt = frame(VMAC)
    # Separate runs: with `repeat` the kernel re-runs on the already rewritten buffer.
    for _ in range(50):
        prog.run(pkt)
    for _ in range(7):
        prog.run(frame(CLIENT))
    after = {name: read_counters(stats, U32.pack(i))[0] for i, name in enumerate(STATS)}
    assert after["forwarded"] - before["forwarded"] == 50
    assert after["passed"] - before["passed"] == 7
    assert after["rx"] - before["rx"] == 57
    assert read_counters(stats, U32.pack(1))[1] >= 50 * len(pkt)

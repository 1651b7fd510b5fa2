"""xdp_gateway through BPF_PROG_TEST_RUN: frames to an installed VMAC get only their
destination MAC rewritten to the interface's and go to the kernel; everything else passes
byte-for-byte; giving a VMAC up is one map delete."""
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from hitless.dataplane.bpfsys import XDP_PASS
from hitless.dataplane.loader import compile_for_test
from hitless.gateway.dataplane import Entry, VmacTable
from hitless.wire import glbp

pytestmark = pytest.mark.lab  # needs root and bcc

IFMAC = bytes.fromhex("020000010002")
V1, V2 = glbp.vmac(1, 1), glbp.vmac(1, 2)
HOST = "02:00:00:01:00:11"


class Prog:  # what VmacTable needs from an XdpProgram
    def __init__(self, t):
        self.map = t.map


@pytest.fixture(scope="module")
def compiled():
    with compile_for_test("gateway") as t:
        yield t


@pytest.fixture()
def prog(compiled):
    for name in ("gw_vmacs", "gw_vmac_stats", "gw_stats"):
        m = compiled.map(name)
        if name == "gw_stats":
            for i in range(4):
                m.update(i.to_bytes(4, "little"), bytes(16))
        else:
            m.clear()
    return compiled


def frame(dst: bytes, payload=b"x" * 40):
    return bytes(Ether(dst=glbp.mac_text(dst), src=HOST) / IP(src="10.0.1.11", dst="10.0.2.11", ttl=9)
                 / UDP(sport=5000, dport=7000) / payload)


def test_owned_vmac_is_rewritten_to_the_interface_mac(prog):
    table = VmacTable(Prog(prog))
    assert table.sync({V1: Entry(IFMAC, 0)}) == ([V1], [])
    pkt = frame(V1)
    res = prog.run(pkt)
    assert res.retval == XDP_PASS
    assert res.data[:6] == IFMAC and res.data[6:] == pkt[6:]
    assert table.vmac_counters(V1)["packets"] == 1
    assert table.counters()["accepted"]["packets"] == 1


def test_other_frames_pass_untouched(prog):
    table = VmacTable(Prog(prog))
    table.sync({V1: Entry(IFMAC, 0)})
    for pkt in (frame(V2), frame(b"\xff" * 6),
                bytes(Ether(dst=glbp.mac_text(V1), src=HOST) / ARP(op=1, pdst="10.0.1.1")),  # refresh probe
                bytes(Ether(dst="01:00:5e:00:00:66") / IP(dst=glbp.MCAST_V4) / UDP(sport=3222, dport=3222))):
        res = prog.run(pkt)
        assert res.retval == XDP_PASS and res.data == pkt


def test_wrong_interface_is_not_accepted(prog):
    table = VmacTable(Prog(prog))
    table.sync({V1: Entry(IFMAC, 4242)})
    pkt = frame(V1)
    assert prog.run(pkt).data == pkt
    assert table.counters()["wrong_if"]["packets"] == 1


def test_takeover_and_release_are_single_map_writes(prog):
    table = VmacTable(Prog(prog))
    table.sync({V1: Entry(IFMAC, 0)})
    w = table.writes
    assert table.sync({V1: Entry(IFMAC, 0), V2: Entry(IFMAC, 0)}) == ([V2], [])
    assert table.writes == w + 1 and prog.run(frame(V2)).data[:6] == IFMAC
    assert table.sync({V1: Entry(IFMAC, 0)}) == ([], [V2])
    assert table.writes == w + 2 and prog.run(frame(V2)).data[:6] == V2
    # an unchanged table costs nothing
    assert table.sync({V1: Entry(IFMAC, 0)}) == ([], []) and table.writes == w + 2


def test_a_new_table_object_adopts_what_is_installed(prog):
    VmacTable(Prog(prog)).sync({V1: Entry(IFMAC, 7)})
    again = VmacTable(Prog(prog))
    assert again.installed == {V1: Entry(IFMAC, 7)}

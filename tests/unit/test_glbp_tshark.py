"""Debian's tshark decodes every GLBP packet kind we build as `glbp`, with our field values
and no expert warnings. (The live-capture version is tests/gateway/test_gateway_tshark.py.)"""
from __future__ import annotations

from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from hitless.gateway import auth as gauth
from hitless.wire import glbp
from hitless.wire.glbp import Auth, AuthType, Forwarder, Hello, Packet, VFState, VGState

from tshark_glbp import decode, experts, mismatches

OWNER = bytes.fromhex("02aa00000001")


def packets() -> list[Packet]:
    hello = Hello(VGState.ACTIVE, 120, 50, 150, 600, 14400, "10.9.0.1")
    fwd = (Forwarder(1, VFState.ACTIVE, 167, 100, glbp.vmac(5, 1), OWNER),
           Forwarder(2, VFState.LISTEN, 166, 100, glbp.vmac(5, 2), bytes.fromhex("02aa00000002")))
    out = []
    for state in VGState:
        out.append(Packet(5, OWNER, hello=Hello(state, 100, 3000, 10000, 600, 14400, "10.9.0.1")))
    out.append(Packet(5, OWNER, hello=hello, forwarders=fwd))                      # hello + forwarders
    out.append(Packet(5, OWNER, hello=hello,
                      forwarders=(Forwarder(0, VFState.INIT, 0, 100, glbp.ZERO_MAC, OWNER),)))  # request
    out.append(Packet(1023, OWNER, hello=hello, forwarders=fwd[:1]))             # highest group
    for kind, key in (("none", ""), ("text", "s3cret"), ("md5", "k3y-string")):
        a = gauth.Authenticator(kind, key)
        out.append(Packet.decode(a.seal(Packet(5, OWNER, hello=hello, forwarders=fwd))))
    return out


def test_tshark_decodes_every_packet_kind(tmp_path):
    sent = packets()
    pcap = tmp_path / "glbp.pcap"
    wrpcap(str(pcap), [Ether(glbp.frame(p.encode(), glbp.vmac(5, 1), "10.9.0.2")) for p in sent])
    frames = decode(pcap)
    assert len(frames) == len(sent)
    for i, (f, p) in enumerate(zip(frames, sent)):
        assert f["protocols"].endswith(":udp:glbp"), f"frame {i}: {f['protocols']}"
        assert mismatches(f["layers"]["glbp"], p) == [], f"frame {i}"
    assert experts(pcap) == []


def test_expert_check_can_fail(tmp_path):
    # A TLV with length 1: tshark must flag it, or the clean result above proves nothing.
    bad = bytes([1, 0, 0, 5, 0, 0]) + OWNER + bytes([1, 1])
    pcap = tmp_path / "bad.pcap"
    wrpcap(str(pcap), [Ether(glbp.frame(bad, glbp.vmac(5, 1), "10.9.0.2"))])
    assert experts(pcap) != []

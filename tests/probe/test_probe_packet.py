"""Probe wire format: scapy-built templates, fast patching, decoding, malformed input."""
import struct

import pytest
from hypothesis import given, settings, strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from hitless.errors import WireError
from hitless.probe import packet


def test_udp_payload_template_layout_and_patching():
    buf = packet.build_udp_payload(0xDEADBEEF)
    assert bytes(buf[:8]) == b"HLPR" + b"\xde\xad\xbe\xef" and len(buf) == 24
    packet.patch(buf, 0, 123456789, 987654321)
    h = packet.parse_payload(bytes(buf))
    assert (h.run_id, h.seq, h.send_ns, h.is_end) == (0xDEADBEEF, 123456789, 987654321, False)


def test_padding_keeps_the_header():
    buf = packet.build_udp_payload(7, size=100)
    assert len(buf) == 100 and packet.parse_payload(bytes(buf)).run_id == 7
    with pytest.raises(ValueError):
        packet.build_udp_payload(7, size=10)


def test_raw_frame_decodes_with_scapy_and_checksums_hold():
    frame = packet.build_raw_frame("02:00:00:00:00:01", "00:07:b4:00:01:01", "10.1.0.1",
                                   "10.1.0.2", 40000, 7000, run_id=42)
    packet.patch(frame, packet.RAW_PAYLOAD_OFFSET, 77, 5)
    pkt = Ether(bytes(frame))
    assert pkt.dst == "00:07:b4:00:01:01" and pkt[IP].dst == "10.1.0.2"
    assert pkt[UDP].dport == 7000 and pkt[UDP].chksum == 0
    # the IP checksum scapy computed stays right after patching (only the payload changed)
    ip = IP(bytes(pkt[IP]))
    del ip.chksum
    assert IP(bytes(ip)).chksum == pkt[IP].chksum
    h = packet.decode_frame(bytes(frame))
    assert (h.run_id, h.seq, h.send_ns) == (42, 77, 5)


def test_nft_offset_matches_the_low_half_of_seq():
    frame = packet.build_raw_frame("02:00:00:00:00:01", "02:00:00:00:00:02", "10.1.0.1",
                                   "10.1.0.2", 40000, 7000, run_id=1)
    packet.patch(frame, packet.RAW_PAYLOAD_OFFSET, 0x1_0000_5DC0, 0)
    assert packet.NFT_SEQ_LOW32 == "@th,160,32"
    th = packet.ETH_LEN + packet.IP_LEN  # transport header start
    assert struct.unpack_from(">I", frame, th + 160 // 8)[0] == 0x5DC0


def test_end_marker_carries_sent_and_rate():
    h = packet.parse_payload(packet.end_payload(9, sent=20000, send_ns=1, rate_pps=10000))
    assert h.is_end and (h.run_id, h.seq, h.rate_pps) == (9, 20000, 10000)


@pytest.mark.parametrize("data", [b"", b"HLPR", b"XXXX" + bytes(20), b"HLPE" + bytes(20)])
def test_malformed_payloads_raise_wire_error(data):
    with pytest.raises(WireError):
        packet.parse_payload(data)


def test_decode_frame_rejects_non_udp():
    with pytest.raises(WireError):
        packet.decode_frame(bytes(Ether() / IP(dst="10.0.0.1")))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz_parse_payload_only_raises_wire_error(data):
    try:
        h = packet.parse_payload(data)
    except WireError:
        return
    assert h.magic in (packet.MAGIC, packet.END_MAGIC)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_decode_frame_only_raises_wire_error(data):
    try:
        packet.decode_frame(data)
    except WireError:
        pass

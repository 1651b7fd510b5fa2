"""GLBP wire format: known byte layouts, round trips, truncation and a hypothesis fuzz."""
from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitless.errors import WireError
from hitless.wire import glbp
from hitless.wire.glbp import (Auth, AuthType, Forwarder, GlbpTruncated, Hello, Packet,
                               VFState, VGState)

OWNER = bytes.fromhex("020000000001")


def sample() -> Packet:
    return Packet(
        group=1020, owner=OWNER,
        hello=Hello(VGState.ACTIVE, 120, 3000, 10000, 600, 14400, "10.20.20.100"),
        forwarders=(Forwarder(1, VFState.ACTIVE, 167, 100, glbp.vmac(1020, 1), OWNER),),
    )


def test_vmac_layout_matches_cisco():
    # Cisco's own debug output: group 1020, VF 1 -> 0007.b403.fc01.
    assert glbp.vmac(1020, 1) == bytes.fromhex("0007b403fc01")
    assert glbp.vmac(1, 4) == bytes.fromhex("0007b4000104")
    assert glbp.parse_vmac(bytes.fromhex("0007b403fc01")) == (1020, 1)
    assert glbp.parse_vmac(bytes.fromhex("0007b5000101")) is None
    with pytest.raises(ValueError):
        glbp.vmac(1024, 1)


def test_exact_bytes_of_a_hello():
    raw = sample().encode()
    assert raw[:12] == bytes([1, 0]) + struct.pack("!H", 1020) + b"\0\0" + OWNER
    # Hello TLV: type 1, length 28, then the fixed fields Wireshark reads.
    assert raw[12:14] == bytes([1, 28])
    assert raw[14:18] == bytes([0, 0x20, 0, 120])
    assert struct.unpack("!II", raw[20:28]) == (3000, 10000)
    assert struct.unpack("!HH", raw[28:32]) == (600, 14400)
    assert raw[34:36] == bytes([1, 4]) and raw[36:40] == bytes([10, 20, 20, 100])
    # Req/Resp TLV: type 2, length 20.
    assert raw[40:42] == bytes([2, 20])
    assert raw[42:47] == bytes([1, 0x20, 0, 167, 100])
    assert raw[47:54] == b"\0" + OWNER
    assert raw[54:60] == glbp.vmac(1020, 1)
    assert len(raw) == 60


def test_round_trip_every_tlv_kind():
    for auth in (None, Auth(AuthType.NONE), Auth(AuthType.TEXT, b"cisco"), Auth(AuthType.MD5, bytes(16))):
        p = sample().with_auth(auth)
        q = Packet.decode(p.encode())
        assert q == p
    req = Packet(1, OWNER, forwarders=(Forwarder(0, VFState.INIT, 0, 100, glbp.ZERO_MAC, OWNER),))
    assert Packet.decode(req.encode()).request.owner == OWNER
    v6 = Packet(7, OWNER, hello=Hello(VGState.LISTEN, 100, 3000, 10000, 600, 14400, "fe80::1"))
    assert Packet.decode(v6.encode()).hello.vip == "fe80::1"


def test_md5_auth_offset_points_at_digest():
    p = sample().with_auth(Auth(AuthType.MD5, bytes(range(16))))
    raw = p.encode()
    off = Packet.decode(raw).auth_offset
    assert off == p.auth_data_offset()
    assert raw[off:off + 16] == bytes(range(16))


def test_unknown_tlvs_are_skipped():
    raw = sample().encode() + bytes([9, 5, 1, 2, 3])
    p = Packet.decode(raw)
    assert p.unknown == ((9, b"\x01\x02\x03"),)
    assert p.hello.priority == 120


@pytest.mark.parametrize("cut", range(1, 60))
def test_every_truncation_is_rejected(cut):
    raw = sample().encode()[:cut]
    if cut in (12, 40):  # TLV boundaries: a bare header, or header + hello, is whole
        assert Packet.decode(raw).forwarders == ()
        return
    with pytest.raises(GlbpTruncated):
        Packet.decode(raw)


@pytest.mark.parametrize("raw, why", [
    (bytes([2, 0, 0, 1, 0, 0]) + OWNER, "version"),
    (bytes([1, 0, 0, 1, 0, 0]) + OWNER + bytes([1, 1]), "length"),
    (bytes([1, 0, 0, 1, 0, 0]) + OWNER + bytes([1, 0]), "length"),
])
def test_malformed_is_rejected(raw, why):
    with pytest.raises(WireError, match=why):
        Packet.decode(raw)


def test_wrong_address_length_is_rejected():
    raw = bytearray(sample().encode())
    raw[35] = 16  # IPv4 with a 16-byte address
    with pytest.raises(WireError):
        Packet.decode(bytes(raw))


def test_frame_checksums_are_valid():
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    f = Ether(glbp.frame(sample().encode(), glbp.vmac(1020, 1), "10.0.0.2"))
    assert f[Ether].dst == "01:00:5e:00:00:66" and f[Ether].src == "00:07:b4:03:fc:01"
    assert f[IP].dst == glbp.MCAST_V4 and f[IP].ttl == 255
    assert f[UDP].sport == f[UDP].dport == glbp.PORT
    ip_sum, udp_sum = f[IP].chksum, f[UDP].chksum
    del f[IP].chksum, f[UDP].chksum
    g = Ether(bytes(f))
    assert (g[IP].chksum, g[UDP].chksum) == (ip_sum, udp_sum)


# --- hypothesis ------------------------------------------------------------------------

macs = st.binary(min_size=6, max_size=6)
u8 = st.integers(0, 255)
hellos = st.builds(Hello, st.sampled_from(list(VGState)), u8, st.integers(0, 2**32 - 1),
                   st.integers(0, 2**32 - 1), st.integers(0, 65535), st.integers(0, 65535),
                   st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str))
forwarders = st.builds(Forwarder, st.integers(0, 4), st.sampled_from(list(VFState)), u8, u8, macs, macs)
auths = st.one_of(st.none(), st.builds(Auth, st.just(AuthType.TEXT), st.binary(max_size=40)),
                  st.builds(Auth, st.just(AuthType.MD5), st.binary(min_size=16, max_size=16)))
packets = st.builds(Packet, st.integers(0, 1023), macs, st.one_of(st.none(), hellos),
                    st.lists(forwarders, max_size=6).map(tuple), auths)


@settings(max_examples=400, deadline=None)
@given(packets)
def test_fuzz_round_trip(p):
    assert Packet.decode(p.encode()) == p


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_never_crash(data):
    try:
        p = Packet.decode(data)
    except WireError:
        return
    # Whatever parses re-encodes to something that parses to the same packet.
    assert Packet.decode(p.encode()) == p


@settings(max_examples=800, deadline=None)
@given(packets, st.data())
def test_fuzz_mutated_packets_never_crash(p, data):
    raw = bytearray(p.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        if not raw:
            break
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(u8)
    cut = data.draw(st.integers(0, len(raw)))
    try:
        Packet.decode(bytes(raw[:cut]))
    except WireError:
        pass

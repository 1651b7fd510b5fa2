"""GLBP authentication: each kind accepts its own packets and rejects wrong keys/kinds."""
from __future__ import annotations

import pytest

from hitless.gateway.auth import Authenticator
from hitless.wire import glbp
from hitless.wire.glbp import Hello, Packet, VGState

PKT = Packet(3, bytes.fromhex("020000000009"),
             hello=Hello(VGState.SPEAK, 100, 3000, 10000, 600, 14400, "10.0.0.1"))


@pytest.mark.parametrize("kind", ["none", "text", "md5"])
def test_own_packets_verify(kind):
    a = Authenticator(kind, "key1")
    raw = a.seal(PKT)
    assert a.verify(raw, Packet.decode(raw))


@pytest.mark.parametrize("kind", ["text", "md5"])
def test_wrong_key_fails(kind):
    raw = Authenticator(kind, "key1").seal(PKT)
    assert not Authenticator(kind, "key2").verify(raw, Packet.decode(raw))


@pytest.mark.parametrize("sender, receiver", [("none", "md5"), ("md5", "text"), ("text", "none"), ("md5", "none")])
def test_wrong_kind_fails(sender, receiver):
    raw = Authenticator(sender, "k").seal(PKT)
    assert not Authenticator(receiver, "k").verify(raw, Packet.decode(raw))


def test_md5_detects_tampering():
    a = Authenticator("md5", "k")
    raw = bytearray(a.seal(PKT))
    raw[-1] ^= 1  # flip a bit in the VIP
    assert not a.verify(bytes(raw), Packet.decode(bytes(raw)))


def test_md5_tlv_is_16_bytes_after_header():
    raw = Authenticator("md5", "k").seal(PKT)
    assert raw[12:16] == bytes([3, 20, 2, 16]) and len(raw) == 12 + 20 + 28
    assert glbp.Packet.decode(raw).auth.type == 2

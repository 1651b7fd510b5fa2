"""GLBP packets, Cisco-compatible on the wire: build and parse both directions.

Layout (as Wireshark's `glbp` dissector decodes it; every multi-byte field is big-endian):

    header   version(1)=1  reserved(1)=0  group(2)  reserved(2)=0  owner-id MAC(6)
    TLVs     type(1)  length(1, counts the type and length bytes too)  value
      1 Hello        reserved(1) vg-state(1) reserved(1) priority(1) reserved(2)
                     hello-ms(4) hold-ms(4) redirect-s(2) timeout-s(2) reserved(2)
                     address-type(1: 1=IPv4, 2=IPv6) address-length(1) address
      2 Req/Resp     forwarder(1) vf-state(1) reserved(1) priority(1) weight(1)
                     reserved(1) forwarder-owner MAC(6) virtual MAC(6)
      3 Auth         auth-type(1: 0 none, 1 text, 2 MD5, 3 MD5 chain) auth-length(1) data

The seven bytes Wireshark labels "unknown2-2" in the Req/Resp TLV carry one reserved byte
and the forwarder's owner MAC here: members need the owner of every virtual forwarder to
recognise their own VMAC after a restart and to start the redirect/timeout timers, and the
packet has no other place for it.

A Req/Resp TLV with forwarder 0 and a zero VMAC is a *request* for a forwarder; the AVG's
hello listing a forwarder whose owner is the requester is the *response* (the assignment).

`decode` raises `GlbpTruncated` (a `WireError`) when the bytes end inside a field and
`WireError` for any other malformation; callers count and drop both.
"""
from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field, replace
from enum import IntEnum

from hitless.errors import WireError
from hitless.wire.inet import inet_checksum

PORT = 3222
MCAST_V4 = "224.0.0.102"
MCAST_MAC = bytes.fromhex("01005e000066")
VERSION = 1
MAX_GROUP = 1023
MAX_FORWARDERS = 4
VMAC_OUI = bytes.fromhex("0007b4")
ZERO_MAC = bytes(6)

TLV_HELLO = 1
TLV_REQRESP = 2
TLV_AUTH = 3

_HEADER = struct.Struct("!BBHH6s")
_TLV = struct.Struct("!BB")
_HELLO = struct.Struct("!xBxBxxIIHHxxBB")
_REQRESP = struct.Struct("!BBxBBx6s6s")
_AUTH = struct.Struct("!BB")
HEADER_LEN = _HEADER.size


class VGState(IntEnum):
    """Virtual gateway states; the values are the ones carried in the Hello TLV."""

    DISABLED = 1
    INIT = 2
    LISTEN = 4
    SPEAK = 8
    STANDBY = 0x10
    ACTIVE = 0x20


class VFState(IntEnum):
    """Virtual forwarder states; the values are the ones carried in the Req/Resp TLV."""

    DISABLED = 1
    INIT = 2
    LISTEN = 4
    ACTIVE = 0x20


class AuthType(IntEnum):
    NONE = 0
    TEXT = 1
    MD5 = 2
    MD5_CHAIN = 3


class GlbpTruncated(WireError):
    """The packet ends inside a field."""


def vmac(group: int, forwarder: int) -> bytes:
    """The virtual MAC 00:07:b4:XX:XX:YY of `forwarder` (1..4) in `group` (0..1023)."""
    if not 0 <= group <= MAX_GROUP or not 1 <= forwarder <= 255:
        raise ValueError(f"no VMAC for group {group} forwarder {forwarder}")
    return VMAC_OUI + bytes([group >> 8, group & 0xFF, forwarder])


def parse_vmac(mac: bytes) -> tuple[int, int] | None:
    """(group, forwarder) of a GLBP VMAC, or None if `mac` is not one."""
    if len(mac) != 6 or mac[:3] != VMAC_OUI or mac[3] > 3 or mac[5] == 0:
        return None
    return (mac[3] << 8) | mac[4], mac[5]


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


@dataclass(frozen=True)
class Hello:
    vg_state: int
    priority: int
    hello_ms: int
    hold_ms: int
    redirect_s: int
    timeout_s: int
    vip: str  # IPv4 or IPv6 text

    def encode(self) -> bytes:
        addr = ipaddress.ip_address(self.vip)
        atype, raw = (1, addr.packed) if addr.version == 4 else (2, addr.packed)
        body = _HELLO.pack(self.vg_state, self.priority, self.hello_ms, self.hold_ms,
                           self.redirect_s, self.timeout_s, atype, len(raw)) + raw
        return _tlv(TLV_HELLO, body)

    @classmethod
    def decode(cls, body: bytes) -> "Hello":
        if len(body) < _HELLO.size:
            raise GlbpTruncated(f"hello TLV body is {len(body)} bytes, needs {_HELLO.size}")
        state, prio, hello, hold, redirect, timeout, atype, alen = _HELLO.unpack_from(body)
        want = {1: 4, 2: 16}.get(atype)
        if want is None:
            raise WireError(f"hello: unknown address type {atype}")
        if alen != want:
            raise WireError(f"hello: address type {atype} needs length {want}, got {alen}")
        raw = body[_HELLO.size:_HELLO.size + alen]
        if len(raw) != alen:
            raise GlbpTruncated("hello: address cut short")
        return cls(state, prio, hello, hold, redirect, timeout, str(ipaddress.ip_address(raw)))


@dataclass(frozen=True)
class Forwarder:
    """One Req/Resp TLV: the sender's view of virtual forwarder `number`."""

    number: int
    state: int
    priority: int
    weight: int
    vmac: bytes
    owner: bytes = ZERO_MAC

    @property
    def is_request(self) -> bool:
        return self.number == 0

    def encode(self) -> bytes:
        return _tlv(TLV_REQRESP, _REQRESP.pack(self.number, self.state, self.priority,
                                               self.weight, self.owner, self.vmac))

    @classmethod
    def decode(cls, body: bytes) -> "Forwarder":
        if len(body) < _REQRESP.size:
            raise GlbpTruncated(f"req/resp TLV body is {len(body)} bytes, needs {_REQRESP.size}")
        number, state, prio, weight, owner, mac = _REQRESP.unpack_from(body)
        return cls(number, state, prio, weight, mac, owner)


@dataclass(frozen=True)
class Auth:
    type: int
    data: bytes = b""

    def encode(self) -> bytes:
        return _tlv(TLV_AUTH, _AUTH.pack(self.type, len(self.data)) + self.data)

    @classmethod
    def decode(cls, body: bytes) -> "Auth":
        if len(body) < _AUTH.size:
            raise GlbpTruncated("auth TLV cut short")
        atype, alen = _AUTH.unpack_from(body)
        data = body[_AUTH.size:_AUTH.size + alen]
        if len(data) != alen:
            raise GlbpTruncated(f"auth data is {len(data)} bytes, header says {alen}")
        if atype == AuthType.MD5 and alen != 16:
            raise WireError(f"MD5 auth needs a 16-byte digest, got {alen}")
        if atype == AuthType.MD5_CHAIN and alen < 4:
            raise WireError("MD5 chain auth needs a 4-byte key index")
        return cls(atype, data)


@dataclass(frozen=True)
class Packet:
    group: int
    owner: bytes
    hello: Hello | None = None
    forwarders: tuple[Forwarder, ...] = ()
    auth: Auth | None = None
    unknown: tuple[tuple[int, bytes], ...] = ()
    # Offset of the auth data in the bytes this packet was decoded from (for MD5 checks).
    auth_offset: int = field(default=-1, compare=False)

    @property
    def request(self) -> Forwarder | None:
        return next((f for f in self.forwarders if f.is_request), None)

    def encode(self) -> bytes:
        """Header, then Auth (if any), then Hello, then the Req/Resp TLVs."""
        if not 0 <= self.group <= 0xFFFF or len(self.owner) != 6:
            raise ValueError("bad group or owner MAC")
        out = [_HEADER.pack(VERSION, 0, self.group, 0, self.owner)]
        if self.auth is not None:
            out.append(self.auth.encode())
        if self.hello is not None:
            out.append(self.hello.encode())
        out.extend(f.encode() for f in self.forwarders)
        out.extend(_tlv(t, v) for t, v in self.unknown)
        return b"".join(out)

    def auth_data_offset(self) -> int:
        """Where the auth data starts in `encode()`'s output (auth comes right after the header)."""
        return HEADER_LEN + _TLV.size + _AUTH.size

    @classmethod
    def decode(cls, data: bytes) -> "Packet":
        data = bytes(data)
        if len(data) < HEADER_LEN:
            raise GlbpTruncated(f"{len(data)} bytes is shorter than the {HEADER_LEN}-byte header")
        version, _, group, _, owner = _HEADER.unpack_from(data)
        if version != VERSION:
            raise WireError(f"version {version}, only {VERSION} is known")
        hello, auth, auth_offset = None, None, -1
        fwds: list[Forwarder] = []
        unknown: list[tuple[int, bytes]] = []
        off = HEADER_LEN
        while off < len(data):
            if len(data) - off < _TLV.size:
                raise GlbpTruncated(f"TLV header cut short at offset {off}")
            ttype, tlen = _TLV.unpack_from(data, off)
            if tlen < _TLV.size:
                raise WireError(f"TLV at offset {off} has length {tlen} < 2")
            if off + tlen > len(data):
                raise GlbpTruncated(f"TLV at offset {off} says {tlen} bytes, {len(data) - off} left")
            body = data[off + _TLV.size:off + tlen]
            if ttype == TLV_HELLO:
                if hello is not None:
                    raise WireError("two Hello TLVs")
                hello = Hello.decode(body)
            elif ttype == TLV_REQRESP:
                fwds.append(Forwarder.decode(body))
            elif ttype == TLV_AUTH:
                if auth is not None:
                    raise WireError("two Auth TLVs")
                auth = Auth.decode(body)
                auth_offset = off + _TLV.size + _AUTH.size
            else:
                unknown.append((ttype, body))  # skipped, as a newer peer may add TLVs
            off += tlen
        return cls(group, owner, hello, tuple(fwds), auth, tuple(unknown), auth_offset)

    def with_auth(self, auth: Auth | None) -> "Packet":
        return replace(self, auth=auth)


def _tlv(ttype: int, body: bytes) -> bytes:
    if len(body) + _TLV.size > 255:
        raise ValueError(f"TLV {ttype} body of {len(body)} bytes does not fit a 1-byte length")
    return _TLV.pack(ttype, len(body) + _TLV.size) + body


# --- Ethernet/IPv4/UDP framing, so hellos can carry a VMAC as Ethernet source ---------

_ETH = struct.Struct("!6s6sH")
_IP = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")




def frame(payload: bytes, src_mac: bytes, src_ip: str, dst_ip: str = MCAST_V4,
          dst_mac: bytes | None = None, ttl: int = 255, ident: int = 0) -> bytes:
    """An Ethernet/IPv4/UDP frame carrying a GLBP payload (UDP 3222 -> 3222)."""
    src, dst = ipaddress.IPv4Address(src_ip).packed, ipaddress.IPv4Address(dst_ip).packed
    if dst_mac is None:
        d = ipaddress.IPv4Address(dst_ip)
        if not d.is_multicast:
            raise ValueError("unicast needs dst_mac")
        dst_mac = bytes([0x01, 0x00, 0x5E, d.packed[1] & 0x7F, d.packed[2], d.packed[3]])
    ulen = _UDP.size + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, ulen)
    udp = _UDP.pack(PORT, PORT, ulen, 0) + payload
    ucs = inet_checksum(pseudo + udp) or 0xFFFF
    udp = _UDP.pack(PORT, PORT, ulen, ucs) + payload
    hdr = _IP.pack(0x45, 0xC0, 20 + ulen, ident & 0xFFFF, 0x4000, ttl, 17, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", inet_checksum(hdr)) + hdr[12:]
    return _ETH.pack(dst_mac, src_mac, 0x0800) + hdr + udp

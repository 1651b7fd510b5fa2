"""The Internet checksum (RFC 1071), for the IPv4, ICMP and UDP headers we build by hand."""
from __future__ import annotations

import struct


def inet_checksum(data: bytes) -> int:
    """One's-complement sum of 16-bit words, complemented; odd lengths are zero-padded."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF

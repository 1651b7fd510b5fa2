"""GLBP authentication: none, plain text or MD5, as the Auth TLV carries them.

MD5 is keyed HMAC-MD5 over the whole GLBP payload with the 16 digest bytes zeroed, so a
packet cannot be altered or forged without the key. A packet whose authentication does
not match ours (wrong kind, wrong key, missing TLV) is dropped and counted by the caller.
"""
from __future__ import annotations

import hashlib
import hmac

from hitless.wire.glbp import Auth, AuthType, Packet

KINDS = {"none": AuthType.NONE, "text": AuthType.TEXT, "md5": AuthType.MD5}


class Authenticator:
    def __init__(self, kind: str = "none", key: str = ""):
        if kind not in KINDS:
            raise ValueError(f"authentication must be one of {', '.join(KINDS)}")
        self.kind, self.type = kind, KINDS[kind]
        self.key = key.encode()

    def seal(self, pkt: Packet) -> bytes:
        """The encoded packet with our Auth TLV (none: no TLV at all, as Cisco sends)."""
        if self.type == AuthType.NONE:
            return pkt.with_auth(None).encode()
        if self.type == AuthType.TEXT:
            return pkt.with_auth(Auth(AuthType.TEXT, self.key)).encode()
        p = pkt.with_auth(Auth(AuthType.MD5, bytes(16)))
        raw = bytearray(p.encode())
        off = p.auth_data_offset()
        raw[off:off + 16] = hmac.new(self.key, bytes(raw), hashlib.md5).digest()
        return bytes(raw)

    def verify(self, raw: bytes, pkt: Packet) -> bool:
        """True when `pkt` (decoded from `raw`) carries the authentication we expect."""
        a = pkt.auth
        if self.type == AuthType.NONE:
            return a is None or (a.type == AuthType.NONE and not a.data)
        if a is None or a.type != self.type:
            return False
        if self.type == AuthType.TEXT:
            return hmac.compare_digest(a.data, self.key)
        off = pkt.auth_offset
        if off < 0 or len(a.data) != 16:
            return False
        zeroed = bytes(raw[:off]) + bytes(16) + bytes(raw[off + 16:])
        return hmac.compare_digest(a.data, hmac.new(self.key, zeroed, hashlib.md5).digest())

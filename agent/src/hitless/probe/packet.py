"""The probe's wire format: build a packet template once with scapy, then patch it fast.

Payload (network byte order, 24 bytes, then optional zero padding):

    offset  size  field
    0       4     magic    b"HLPR" for a data packet, b"HLPE" for the end marker
    4       4     run_id   u32, chosen by the sender; the receiver ignores other runs
    8       8     seq      u64, 0, 1, 2, ... (data); for END: the number of packets sent
    16      8     send_ns  u64, CLOCK_MONOTONIC at send (sender and receiver share a
                           machine in the lab, so arrival - send is the one-way latency)

The END marker also carries the sender's rate in pps in bytes 24..31 (u64), so a
receiver that saw END knows both `sent` and `rate` without any side channel.

In nftables terms (transport header offsets, bits) the low 32 bits of `seq` are at
`@th,160,32`, which lets tests drop an exact sequence range in the kernel.

scapy builds the templates and decodes frames (`decode_frame`); the hot loops use
`struct.pack_into` / `struct.unpack_from` on the same layout, because building a scapy
packet per send could not sustain 10,000 packets/s.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from hitless.errors import WireError

MAGIC = b"HLPR"
END_MAGIC = b"HLPE"
HEADER = struct.Struct(">4sIQQ")          # magic, run_id, seq, send_ns
HEADER_LEN = HEADER.size                  # 24
END_RATE = struct.Struct(">Q")            # rate_pps, right after the header in END
END_LEN = HEADER_LEN + END_RATE.size      # 32
SEQ_TIME = struct.Struct(">QQ")           # what the sender patches per packet
SEQ_OFFSET_IN_PAYLOAD = 8
ETH_LEN, IP_LEN, UDP_LEN = 14, 20, 8
RAW_PAYLOAD_OFFSET = ETH_LEN + IP_LEN + UDP_LEN
NFT_SEQ_LOW32 = "@th,160,32"              # (UDP header 8 + seq offset 8 + 4) * 8 bits


@dataclass(frozen=True)
class ProbeHeader:
    """One decoded probe payload."""

    magic: bytes
    run_id: int
    seq: int
    send_ns: int
    rate_pps: int | None = None  # END only

    @property
    def is_end(self) -> bool:
        return self.magic == END_MAGIC


def parse_payload(data: bytes) -> ProbeHeader:
    """Decodes a UDP payload; raises WireError when it is not a probe packet."""
    if len(data) < HEADER_LEN:
        raise WireError(f"probe payload too short: {len(data)} < {HEADER_LEN} bytes")
    magic, run_id, seq, send_ns = HEADER.unpack_from(data)
    if magic == MAGIC:
        return ProbeHeader(magic, run_id, seq, send_ns)
    if magic == END_MAGIC:
        if len(data) < END_LEN:
            raise WireError(f"probe END payload too short: {len(data)} < {END_LEN} bytes")
        (rate,) = END_RATE.unpack_from(data, HEADER_LEN)
        return ProbeHeader(magic, run_id, seq, send_ns, rate)
    raise WireError(f"not a probe payload: magic {magic!r}")


def payload_template(run_id: int, size: int = HEADER_LEN) -> bytearray:
    """A data payload with seq/send_ns zero, padded with zeros to `size` bytes."""
    if size < HEADER_LEN:
        raise ValueError(f"payload size must be >= {HEADER_LEN}, got {size}")
    buf = bytearray(size)
    HEADER.pack_into(buf, 0, MAGIC, run_id & 0xFFFFFFFF, 0, 0)
    return buf


def end_payload(run_id: int, sent: int, send_ns: int, rate_pps: int) -> bytes:
    return HEADER.pack(END_MAGIC, run_id & 0xFFFFFFFF, sent, send_ns) + END_RATE.pack(rate_pps)


def _scapy_layer():
    """The scapy layer for the payload, created on first use (importing scapy is slow)."""
    global _LAYER
    if _LAYER is None:
        from scapy.fields import IntField, LongField, StrFixedLenField
        from scapy.packet import Packet

        class HitlessProbe(Packet):
            name = "HitlessProbe"
            fields_desc = [
                StrFixedLenField("magic", MAGIC, 4),
                IntField("run_id", 0),
                LongField("seq", 0),
                LongField("send_ns", 0),
            ]

        _LAYER = HitlessProbe
    return _LAYER


_LAYER = None


def build_udp_payload(run_id: int, size: int = HEADER_LEN) -> bytearray:
    """The payload for UDP mode, built with scapy (then patched with `patch`)."""
    if size < HEADER_LEN:
        raise ValueError(f"payload size must be >= {HEADER_LEN}, got {size}")
    raw = bytes(_scapy_layer()(run_id=run_id & 0xFFFFFFFF))
    assert len(raw) == HEADER_LEN, "scapy layer and struct layout disagree"
    return bytearray(raw.ljust(size, b"\0"))


def build_raw_frame(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, sport: int,
                    dport: int, run_id: int, size: int = HEADER_LEN, ttl: int = 64) -> bytearray:
    """A whole Ethernet/IPv4/UDP frame for raw (AF_PACKET) mode, built with scapy.

    The UDP checksum is 0 ("none", legal for IPv4) so patching seq/send_ns needs no
    checksum update; the IP header never changes, so its checksum stays right.
    """
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    payload = build_udp_payload(run_id, size)
    frame = (Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip, ttl=ttl, flags="DF", id=0)
             / UDP(sport=sport, dport=dport, chksum=0) / bytes(payload))
    return bytearray(bytes(frame))


def patch(buf: bytearray, payload_offset: int, seq: int, send_ns: int) -> None:
    """Writes seq and send time into a template in place (the sender's hot path)."""
    SEQ_TIME.pack_into(buf, payload_offset + SEQ_OFFSET_IN_PAYLOAD, seq, send_ns)


def decode_frame(frame: bytes) -> ProbeHeader:
    """Decodes a captured Ethernet frame with scapy; raises WireError if it is no probe."""
    from scapy.layers.inet import UDP
    from scapy.layers.l2 import Ether

    try:
        pkt = Ether(frame)
    except Exception as exc:  # scapy raises many types on garbage
        raise WireError(f"undecodable frame: {exc}") from exc
    if UDP not in pkt:
        raise WireError("frame carries no UDP datagram")
    header = parse_payload(bytes(pkt[UDP].payload))
    if not header.is_end:
        # Cross-check the fast decoder against scapy's own field parsing.
        fields = _scapy_layer()(bytes(pkt[UDP].payload)[:HEADER_LEN])
        if (fields.seq, fields.run_id) != (header.seq, header.run_id):
            raise WireError("probe payload decodes differently with scapy")
    return header

"""ARP for the VIP: parsing requests, building unicast replies and gratuitous ARPs, and
the AF_PACKET socket the responder uses.

The kernel never answers ARP for the VIP (it lives on `lo` and the LAN interface has
arp_ignore=1), so this responder is the only voice for it: the AVG answers broadcast
requests with the VMAC the load balancer picks, as an L2 unicast to the requester.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

from hitless.errors import WireError

ETH_P_ARP = 0x0806
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
BROADCAST = b"\xff" * 6
_ETH = struct.Struct("!6s6sH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")


@dataclass(frozen=True)
class ArpPacket:
    eth_dst: bytes
    eth_src: bytes
    op: int
    sha: bytes
    spa: str
    tha: bytes
    tpa: str

    @classmethod
    def parse(cls, frame: bytes) -> "ArpPacket":
        if len(frame) < _ETH.size + _ARP.size:
            raise WireError(f"ARP frame of {len(frame)} bytes is too short")
        dst, src, etype = _ETH.unpack_from(frame)
        if etype != ETH_P_ARP:
            raise WireError(f"ethertype {etype:#06x} is not ARP")
        htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(frame, _ETH.size)
        if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
            raise WireError("not Ethernet/IPv4 ARP")
        return cls(dst, src, op, sha, str(ipaddress.IPv4Address(spa)), tha, str(ipaddress.IPv4Address(tpa)))

    def encode(self) -> bytes:
        body = _ARP.pack(1, 0x0800, 6, 4, self.op, self.sha, ipaddress.IPv4Address(self.spa).packed,
                         self.tha, ipaddress.IPv4Address(self.tpa).packed)
        frame = _ETH.pack(self.eth_dst, self.eth_src, ETH_P_ARP) + body
        return frame + bytes(max(0, 60 - len(frame)))  # pad to the Ethernet minimum


def reply(req: ArpPacket, eth_src: bytes, vmac: bytes, vip: str) -> ArpPacket:
    """A unicast reply to `req`: VIP is at `vmac`, sent from `eth_src` to the requester."""
    return ArpPacket(req.sha, eth_src, 2, vmac, vip, req.sha, req.spa)


def gratuitous(vmac: bytes, vip: str) -> ArpPacket:
    """A broadcast gratuitous ARP (request form) telling every host: VIP is at `vmac`."""
    return ArpPacket(BROADCAST, vmac, 1, vmac, vip, bytes(6), vip)


class ArpSocket:
    """An AF_PACKET socket receiving every ARP frame on one interface (including unicast
    refreshes to VMACs, which the kernel itself would drop as not addressed to it)."""

    def __init__(self, ifname: str):
        self.ifname = ifname
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        self.sock.setblocking(False)
        self.sock.bind((ifname, ETH_P_ARP))

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self) -> bytes | None:
        """One incoming ARP frame, or None (nothing waiting, or our own outgoing frame)."""
        try:
            data, addr = self.sock.recvfrom(2048)
        except BlockingIOError:
            return None
        if addr[2] == PACKET_OUTGOING:
            return b""
        return data

    def send(self, pkt: ArpPacket) -> None:
        self.sock.send(pkt.encode())

    def close(self) -> None:
        self.sock.close()

"""ARP for the flow switch: the frames, and what the XDP responder is told to answer.

Where ARP is answered, and why: in XDP (flowswitch.c, XDP_TX), not in an AF_PACKET
responder in the agent.
- The answers keep coming while the agent restarts or is upgraded (the hitless point of
  the product): proxy ARP for the cluster IP and gateway answers are map lookups.
- Interception and isolation are one decision: the frame that is answered or dropped in
  XDP never reaches the bridge, so it can never be flooded to servers or routers. An
  AF_PACKET responder would still need an XDP drop in front of it.
- No per-request trip to user space, so an ARP storm costs no agent CPU.
Server ports asking for the pool's gateway IP get their assigned router; asking for one
router's own IP they get that router (or its cover while it is down), so even a server
answering an on-link router from the cluster IP never lets its ARP reach the routers.
The agent's part is this module: it computes the gateway-assignment and live-router
tables (`gateway_tables`), builds/parses ARP frames for the health checks, and announces
each cluster's virtual MAC with a gratuitous ARP out of the router ports at start, so
routers learn it at once after the switch (re)starts.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from hitless.config.schema import mac_bytes
from hitless.errors import WireError

ETH_P_ARP = 0x0806
_ARP = struct.Struct("!HHBBH6s4s6s4s")
BROADCAST = b"\xff" * 6


@dataclass(frozen=True)
class ArpFrame:
    dst: bytes
    src: bytes
    op: int
    sha: bytes
    spa: str
    tha: bytes
    tpa: str


def build(op: int, src_mac: bytes, sender_ip: str, target_ip: str, dst_mac: bytes = BROADCAST,
          target_mac: bytes = b"\0" * 6) -> bytes:
    """An Ethernet+ARP frame, padded to the 60-byte minimum."""
    arp = _ARP.pack(1, 0x0800, 6, 4, op, src_mac, socket.inet_aton(sender_ip), target_mac,
                    socket.inet_aton(target_ip))
    frame = dst_mac + src_mac + struct.pack("!H", ETH_P_ARP) + arp
    return frame + b"\0" * max(0, 60 - len(frame))


def gratuitous(mac: str, ip: str) -> bytes:
    """A gratuitous ARP request announcing ip at mac (RFC 5227 announcement form)."""
    m = mac_bytes(mac)
    return build(1, m, ip, ip)


def parse(frame: bytes) -> ArpFrame:
    """Parses an Ethernet/IPv4 ARP frame; raises WireError on anything else."""
    if len(frame) < 14 + _ARP.size:
        raise WireError(f"ARP frame too short: {len(frame)} bytes")
    if struct.unpack_from("!H", frame, 12)[0] != ETH_P_ARP:
        raise WireError("not an ARP frame")
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(frame, 14)
    if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
        raise WireError(f"unsupported ARP: htype {htype} ptype {ptype:#x} hlen {hlen} plen {plen}")
    if op not in (1, 2):
        raise WireError(f"unknown ARP operation {op}")
    return ArpFrame(frame[0:6], frame[6:12], op, sha, socket.inet_ntoa(spa), tha, socket.inet_ntoa(tpa))


class ArpReplyMatcher:
    """Recognises the reply to one probe; counts what it had to skip (malformed frames included)."""

    def __init__(self, target_mac: bytes, target_ip: str):
        self.target_mac, self.target_ip = target_mac, target_ip
        self.malformed = 0
        self.other = 0

    def __call__(self, frame: bytes) -> bool:
        try:
            a = parse(frame)
        except WireError:
            self.malformed += 1
            return False
        if a.op == 2 and a.sha == self.target_mac and a.spa == self.target_ip:
            return True
        self.other += 1
        return False


def gateway_tables(pools: dict[str, tuple[str, list[str]]], assignments: dict[str, dict[str, str]],
                   router_macs: dict[str, str]) -> tuple[dict[str, tuple[int, list[str]]], dict[tuple[str, str], str]]:
    """What the XDP gateway responder needs.

    pools: {pool: (gateway ip, live router names)}; assignments: {pool: {server MAC: router}};
    router_macs: {router: MAC}. Returns ({gw ip: (pool id, live MACs)}, {(gw ip, server MAC): router MAC}).
    """
    gws: dict[str, tuple[int, list[str]]] = {}
    assign: dict[tuple[str, str], str] = {}
    for pid, (pool, (gw, live)) in enumerate(sorted(pools.items())):
        gws[gw] = (pid, [router_macs[r] for r in live])
        for smac, r in assignments.get(pool, {}).items():
            if r in live:
                assign[(gw, smac)] = router_macs[r]
    return gws, assign


def if_mac(ifname: str) -> bytes:
    """The MAC of an interface in *this process's* network namespace (SIOCGIFHWADDR).

    Not /sys/class/net: under `nsenter --net` /sys still shows the namespace it was
    mounted from, so it can name another namespace's interface (or none). And not an
    AF_PACKET socket: closing one waits for an RCU grace period (seconds on a busy box).
    """
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        raw = fcntl.ioctl(s.fileno(), 0x8927, struct.pack("256s", ifname.encode()[:15]))
    return raw[18:24]

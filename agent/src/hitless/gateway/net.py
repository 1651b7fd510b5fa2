"""Sockets and interface facts for the gateway, all namespace-aware (ioctl and netlink-free
so they work under `nsenter --net`, where /sys still shows the host's interfaces).

- `GlbpSocket`: receives GLBP (UDP 3222 on 224.0.0.102, one interface) through the kernel
  and sends hellos as whole Ethernet frames on AF_PACKET, so the Ethernet source can be a
  VMAC (switches learn each VMAC on the port of the member that forwards it);
- `iface_info`: ifindex, MAC, first IPv4 address and whether the link is up.
"""
from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass

from hitless.errors import HitlessError
from hitless.wire import glbp

SIOCGIFFLAGS = 0x8913
SIOCGIFADDR = 0x8915
SIOCGIFHWADDR = 0x8927
IFF_UP = 0x1
IFF_RUNNING = 0x40
ETH_P_IP = 0x0800


@dataclass(frozen=True)
class IfaceInfo:
    name: str
    ifindex: int
    mac: bytes
    ip: str | None
    up: bool


def _ioctl(name: str, req: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        return fcntl.ioctl(s.fileno(), req, struct.pack("256s", name.encode()[:15]))


def link_up(name: str) -> bool:
    """Administratively up and with carrier (IFF_RUNNING follows the operational state)."""
    try:
        flags = struct.unpack_from("H", _ioctl(name, SIOCGIFFLAGS), 16)[0]
    except OSError:
        return False
    return bool(flags & IFF_UP and flags & IFF_RUNNING)


def iface_info(name: str) -> IfaceInfo:
    try:
        ifindex = socket.if_nametoindex(name)
        mac = _ioctl(name, SIOCGIFHWADDR)[18:24]
    except OSError as exc:
        raise HitlessError(f"interface {name}: {exc.strerror or exc}") from None
    try:
        ip = socket.inet_ntoa(_ioctl(name, SIOCGIFADDR)[20:24])
    except OSError:
        ip = None
    return IfaceInfo(name, ifindex, mac, ip, link_up(name))


def route_present(prefix: str) -> bool:
    """True when the main table has a route for exactly `prefix` (from /proc/net/route,
    which follows the reader's network namespace)."""
    net = ipaddress.IPv4Network(prefix)
    try:
        lines = open("/proc/net/route").read().splitlines()[1:]
    except OSError:
        return False
    for line in lines:
        f = line.split()
        if len(f) < 8:
            continue
        dest = ipaddress.IPv4Address(struct.pack("<I", int(f[1], 16)))
        mask = ipaddress.IPv4Address(struct.pack("<I", int(f[7], 16)))
        flags = int(f[3], 16)
        if flags & 0x1 and ipaddress.IPv4Network(f"{dest}/{mask}", strict=False) == net:
            return True
    return False


class GlbpSocket:
    def __init__(self, ifname: str, ifindex: int, ip: str):
        self.ifname, self.ip = ifname, ip
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
        self.rx.bind((glbp.MCAST_V4, glbp.PORT))
        mreqn = socket.inet_aton(glbp.MCAST_V4) + socket.inet_aton(ip) + struct.pack("=i", ifindex)
        self.rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        self.rx.setblocking(False)
        self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: send only
        self.tx.bind((ifname, 0))
        self._ident = 0

    def fileno(self) -> int:
        return self.rx.fileno()

    def recv(self) -> tuple[bytes, str, int] | None:
        try:
            data, (src, sport) = self.rx.recvfrom(4096)
        except BlockingIOError:
            return None
        return data, src, sport

    def send(self, payload: bytes, src_mac: bytes) -> None:
        self._ident = (self._ident + 1) & 0xFFFF
        self.tx.send(glbp.frame(payload, src_mac, self.ip, ident=self._ident))

    def send_unicast(self, payload: bytes, src_mac: bytes, dst_ip: str, dst_mac: bytes) -> None:
        self._ident = (self._ident + 1) & 0xFFFF
        self.tx.send(glbp.frame(payload, src_mac, self.ip, dst_ip=dst_ip, dst_mac=dst_mac, ident=self._ident))

    def close(self) -> None:
        self.rx.close()
        self.tx.close()


def iface_kind(name: str) -> str | None:
    """The link kind (veth, bridge, ...) or None for a plain NIC, from `ip -d link`."""
    import json
    import subprocess

    r = subprocess.run(["ip", "-j", "-d", "link", "show", "dev", name], capture_output=True, text=True, timeout=10)
    try:
        return json.loads(r.stdout)[0].get("linkinfo", {}).get("info_kind")
    except (ValueError, IndexError):
        return None

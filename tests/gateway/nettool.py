"""Run inside a lab node (python nettool.py CMD ...): small raw-socket tools the gateway lab
tests need, printing JSON on stdout.

    arp IFACE VIP [--dst MAC] [--wait S]   send one ARP request for VIP, list the replies
    listen IFACE SECONDS                   list ARP frames and GLBP packets seen
    send IFACE HEX [HEX ...]               send raw frames
"""
from __future__ import annotations

import argparse
import json
import select
import socket
import sys
import time

from hitless.gateway.arp import ArpPacket
from hitless.gateway.net import iface_info
from hitless.wire import glbp
from hitless.wire.glbp import Packet

ETH_P_ALL = 0x0003


def mac(b: bytes) -> str:
    return glbp.mac_text(b)


def raw_socket(iface: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, ETH_P_ALL))
    return s


def describe(frame: bytes, outgoing: bool) -> dict | None:
    etype = int.from_bytes(frame[12:14], "big")
    d = {"eth_dst": mac(frame[:6]), "eth_src": mac(frame[6:12]), "out": outgoing, "t": time.monotonic()}
    if etype == 0x0806:
        try:
            a = ArpPacket.parse(frame)
        except Exception:
            return None
        d.update(kind="arp", op=a.op, sha=mac(a.sha), spa=a.spa, tha=mac(a.tha), tpa=a.tpa)
        return d
    if etype == 0x0800 and frame[23] == 17:
        ihl = (frame[14] & 0xF) * 4
        udp = 14 + ihl
        if int.from_bytes(frame[udp + 2:udp + 4], "big") != glbp.PORT:
            return None
        d.update(kind="glbp", ip_src=socket.inet_ntoa(frame[26:30]), ip_dst=socket.inet_ntoa(frame[30:34]),
                 ttl=frame[22], sport=int.from_bytes(frame[udp:udp + 2], "big"))
        try:
            p = Packet.decode(frame[udp + 8:])
        except Exception as exc:
            d.update(error=str(exc))
            return d
        d.update(group=p.group, owner=mac(p.owner),
                 auth=None if p.auth is None else p.auth.type,
                 vg_state=None if p.hello is None else int(p.hello.vg_state),
                 priority=None if p.hello is None else p.hello.priority,
                 vip=None if p.hello is None else p.hello.vip,
                 forwarders=[{"n": f.number, "state": int(f.state), "priority": f.priority,
                              "vmac": mac(f.vmac), "owner": mac(f.owner)} for f in p.forwarders])
        return d
    return None


def cmd_arp(a) -> list:
    info = iface_info(a.iface)
    s = raw_socket(a.iface)
    dst = bytes.fromhex(a.dst.replace(":", "")) if a.dst else b"\xff" * 6
    req = ArpPacket(dst, info.mac, 1, info.mac, info.ip, bytes(6), a.vip)
    s.send(req.encode())
    out, end = [], time.monotonic() + a.wait
    while (left := end - time.monotonic()) > 0:
        if not select.select([s], [], [], left)[0]:
            break
        frame, addr = s.recvfrom(2048)
        if addr[2] == 4:
            continue
        d = describe(frame, False)
        if d and d["kind"] == "arp" and d["op"] == 2 and d["spa"] == a.vip:
            out.append(d)
    return out


def cmd_listen(a) -> list:
    s = raw_socket(a.iface)
    out, end = [], time.monotonic() + a.seconds
    print(json.dumps({"ready": True}), flush=True, file=sys.stderr)
    while (left := end - time.monotonic()) > 0:
        if not select.select([s], [], [], left)[0]:
            break
        frame, addr = s.recvfrom(4096)
        d = describe(frame, addr[2] == 4)
        if d:
            out.append(d)
    return out


def cmd_send(a) -> list:
    s = raw_socket(a.iface)
    for h in a.frames:
        s.send(bytes.fromhex(h))
    return []


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("arp")
    q.add_argument("iface")
    q.add_argument("vip")
    q.add_argument("--dst")
    q.add_argument("--wait", type=float, default=0.5)
    q = sub.add_parser("listen")
    q.add_argument("iface")
    q.add_argument("seconds", type=float)
    q = sub.add_parser("send")
    q.add_argument("iface")
    q.add_argument("frames", nargs="+")
    a = p.parse_args()
    print(json.dumps({"arp": cmd_arp, "listen": cmd_listen, "send": cmd_send}[a.cmd](a)))


if __name__ == "__main__":
    main()

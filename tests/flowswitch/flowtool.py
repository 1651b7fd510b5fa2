"""Lab helper run inside a namespace: capture frames (tap) or send raw frames / UDP flows (send).

    python flowtool.py tap --iface eth0 [--src IP ...] [--arp-ip IP ...] [--max-frames N] [--duration S]
        prints "ready", then on SIGTERM (or after S seconds) one JSON line:
        {"frames": [hex, ...], "flows": {"<proto>/<sport>": [first_round, last_round, count]}, "count": n}
        Only frames received (not sent) on the interface, IPv4 from a --src address, or ARP
        naming an --arp-ip, are kept.
    python flowtool.py send --iface eth0 --frames HEX[,HEX...] [--repeat R]
    python flowtool.py flows --iface eth0 --dst-mac M --src-mac M --src IP --dst IP --flows N
                             --rounds R --pps P [--sport-base B]
        UDP flows: sport = base+i; the payload carries the round number (first 4 bytes).

Bounded: every loop by count and the tap by --duration (default 120 s).
"""
from __future__ import annotations

import argparse
import json
import select
import signal
import socket
import struct
import sys
import time
from hitless.wire.inet import inet_checksum

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4




def udp_frame(dst_mac: bytes, src_mac: bytes, src: str, dst: str, sport: int, dport: int, payload: bytes,
              ttl: int = 64, ident: int = 1) -> bytes:
    udp_len = 8 + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, ident, 0, ttl, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", inet_checksum(ip)) + ip[12:]
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    return dst_mac + src_mac + b"\x08\x00" + ip + udp


def tap(args) -> int:
    srcs = {socket.inet_aton(s) for s in args.src}
    arp_ips = {socket.inet_aton(s) for s in args.arp_ip}
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((args.iface, 0))
    sock.setblocking(False)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    frames: list[str] = []
    flows: dict[str, list[int]] = {}
    count = 0
    print("ready", flush=True)
    deadline = time.monotonic() + args.duration
    while not stop["now"] and time.monotonic() < deadline:
        try:
            r, _, _ = select.select([sock], [], [], 0.05)
        except InterruptedError:
            continue
        if not r:
            continue
        for _ in range(10_000):
            try:
                data, addr = sock.recvfrom(65535)
            except BlockingIOError:
                break
            except OSError:
                # ENETDOWN while the link is down (a failover test): the kernel re-attaches
                # the bound socket when the link comes back; keep what we have and go on.
                time.sleep(0.01)
                break
            if addr[2] == PACKET_OUTGOING or len(data) < 14:
                continue
            etype = data[12:14]
            keep = False
            if etype == b"\x08\x06" and len(data) >= 42:
                keep = bool(arp_ips) and (data[28:32] in arp_ips or data[38:42] in arp_ips)
            elif etype == b"\x08\x00" and len(data) >= 34:
                keep = data[26:30] in srcs
                if keep:
                    ihl = (data[14] & 0x0F) * 4
                    proto = data[23]
                    frag = struct.unpack("!H", data[20:22])[0] & 0x1FFF
                    l4 = 14 + ihl
                    if proto == 17 and frag == 0 and len(data) >= l4 + 12:
                        sport = struct.unpack("!H", data[l4:l4 + 2])[0]
                        rnd = struct.unpack("!I", data[l4 + 8:l4 + 12])[0]
                        f = flows.setdefault(f"17/{sport}", [rnd, rnd, 0])
                        f[0], f[1], f[2] = min(f[0], rnd), max(f[1], rnd), f[2] + 1
            if keep:
                count += 1
                if len(frames) < args.max_frames:
                    frames.append(data.hex())
    print(json.dumps({"frames": frames, "flows": flows, "count": count}), flush=True)
    return 0


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def send(args) -> int:
    frames = [bytes.fromhex(h) for h in args.frames.split(",") if h]
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((args.iface, 0))
        for _ in range(args.repeat):
            for f in frames:
                s.send(f)
    print(json.dumps({"sent": len(frames) * args.repeat}), flush=True)
    return 0


def flows(args) -> int:
    dst, src = _mac(args.dst_mac), _mac(args.src_mac)
    pad = b"\0" * max(0, args.size - 4)
    sent = 0
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((args.iface, 0))
        print("ready", flush=True)
        start = time.monotonic()
        for rnd in range(args.rounds):
            for i in range(args.flows):
                payload = struct.pack("!I", rnd) + pad
                s.send(udp_frame(dst, src, args.src, args.dst, args.sport_base + i, args.dport, payload,
                                 ident=(rnd * args.flows + i) & 0xFFFF))
                sent += 1
                # Paced in chunks of 16: a burst of hundreds overflows a veth's 256-frame ring.
                if sent % 16 == 0:
                    wait = start + sent / args.pps - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - start, 3)}), flush=True)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tap")
    t.add_argument("--iface", required=True)
    t.add_argument("--src", action="append", default=[])
    t.add_argument("--arp-ip", action="append", default=[])
    t.add_argument("--max-frames", type=int, default=200)
    t.add_argument("--duration", type=float, default=120.0)
    s = sub.add_parser("send")
    s.add_argument("--iface", required=True)
    s.add_argument("--frames", required=True)
    s.add_argument("--repeat", type=int, default=1)
    f = sub.add_parser("flows")
    f.add_argument("--iface", required=True)
    f.add_argument("--dst-mac", required=True)
    f.add_argument("--src-mac", required=True)
    f.add_argument("--src", required=True)
    f.add_argument("--dst", required=True)
    f.add_argument("--flows", type=int, default=1000)
    f.add_argument("--rounds", type=int, default=10)
    f.add_argument("--pps", type=float, default=5000)
    f.add_argument("--sport-base", type=int, default=20000)
    f.add_argument("--dport", type=int, default=9999)
    f.add_argument("--size", type=int, default=18)
    args = p.parse_args(argv)
    return {"tap": tap, "send": send, "flows": flows}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())

"""The probe receiver: records (seq, arrival time, send time) for every probe packet.

Accuracy matters more than anything here: a hitless test asserts 0 lost, so the
receiver itself must never drop. It asks for an 8 MB socket buffer (SO_RCVBUFFORCE as
root, so net.core.rmem_max does not cap it) — about a second of traffic at 10,000
packets/s if the process is briefly descheduled — and takes arrival times from the
kernel (SO_TIMESTAMPNS), so a late wake-up of this process does not look like a gap on
the wire. Samples go into flat arrays; statistics are computed once at the end.

It stops by itself, always within `duration + grace`: earlier after the sender's END
marker (plus a short linger for stragglers), or once `expect_count` packets arrived.
"""
from __future__ import annotations

import logging
import socket
import struct
import time
from array import array
from dataclasses import dataclass
from typing import Callable

from hitless.errors import WireError
from hitless.probe import packet
from hitless.probe.report import ProbeReport, analyse

log = logging.getLogger(__name__)

RCVBUF = 8 * 1024 * 1024
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # SCM_TIMESTAMPNS has the same value
POLL_S = 0.05          # SO_RCVTIMEO: how often the loop looks at its deadlines when idle
LINGER_S = 0.2         # after END: wait this long for reordered stragglers and duplicates
MAX_LOGGED = 5         # malformed datagrams logged individually; the rest only counted
_TIMESPEC = struct.Struct("qq")


@dataclass
class ReceiverConfig:
    bind: str = "0.0.0.0"
    port: int = 7000
    duration: float = 60.0
    grace: float = 2.0
    expect_count: int | None = None
    run_id: int | None = None   # None: lock on to the first run seen
    rcvbuf: int = RCVBUF
    linger: float = LINGER_S


class Receiver:
    """Open the socket with `open()` (then the port is ready), then `run()` to the end."""

    def __init__(self, cfg: ReceiverConfig):
        self.cfg = cfg
        self.sock: socket.socket | None = None
        self.rcvbuf = 0
        self.seqs = array("Q")
        self.arrivals = array("q")
        self.sends = array("q")
        self.malformed = 0
        self.foreign = 0
        self.run_id = cfg.run_id
        self.end: packet.ProbeHeader | None = None

    def open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.cfg.rcvbuf)
        except PermissionError:  # not root: the limit is net.core.rmem_max
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.cfg.rcvbuf)
        self.rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                        struct.pack("ll", 0, int(POLL_S * 1e6)))
        sock.bind((self.cfg.bind, self.cfg.port))
        self.sock = sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def run(self, stop: Callable[[], bool] = lambda: False,
            on_first: Callable[[int], None] | None = None) -> ProbeReport:
        if self.sock is None:
            self.open()
        try:
            self._loop(stop, on_first)
        finally:
            self.close()
        return self.report()

    def _loop(self, stop, on_first) -> None:
        cfg, sock = self.cfg, self.sock
        clock = time.monotonic_ns
        # Kernel timestamps are CLOCK_REALTIME; the offset maps them onto the
        # monotonic clock the sender stamps its packets with.
        rt_offset = time.clock_gettime_ns(time.CLOCK_REALTIME) - clock()
        deadline = clock() + int((cfg.duration + cfg.grace) * 1e9)
        stop_at = deadline
        recvmsg, ancsize = sock.recvmsg, socket.CMSG_SPACE(_TIMESPEC.size)
        seqs, arrivals, sends = self.seqs, self.arrivals, self.sends
        unpack, magic, header_len = packet.HEADER.unpack_from, packet.MAGIC, packet.HEADER_LEN
        run_id, expect = self.run_id, cfg.expect_count
        count = 0
        while True:
            now = clock()
            if now >= stop_at or stop():
                break
            try:
                data, anc, _flags, _addr = recvmsg(2048, ancsize)
            except (BlockingIOError, InterruptedError):
                continue
            arrival = clock()
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack_from(cdata)
                    arrival = sec * 1_000_000_000 + nsec - rt_offset
            if len(data) >= header_len and data[:4] == magic:
                _m, rid, seq, sent_ns = unpack(data)
                if rid != run_id:
                    if run_id is not None:
                        self.foreign += 1
                        continue
                    run_id = self.run_id = rid
                seqs.append(seq)
                arrivals.append(arrival)
                sends.append(sent_ns)
                count += 1
                if count == 1 and on_first:
                    on_first(seq)
                if expect is not None and count >= expect and stop_at == deadline:
                    stop_at = min(deadline, arrival + int(cfg.linger * 1e9))
                continue
            self._odd_datagram(data, run_id)
            if self.end is not None and stop_at == deadline:
                stop_at = min(deadline, clock() + int(cfg.linger * 1e9))

    def _odd_datagram(self, data: bytes, run_id: int | None) -> None:
        """END markers and garbage: the slow path, off the per-packet fast path."""
        try:
            header = packet.parse_payload(data)
        except WireError as exc:
            self.malformed += 1
            if self.malformed <= MAX_LOGGED:
                log.warning("probe receiver: ignoring datagram: %s", exc)
            return
        if header.is_end and (run_id is None or header.run_id == run_id):
            self.run_id = header.run_id
            self.end = header
        elif header.is_end:
            self.foreign += 1

    def write_samples(self, path: str) -> None:
        """Per-arrival samples as CSV: seq, arrival_ns, send_ns (CLOCK_MONOTONIC)."""
        with open(path, "w", encoding="ascii") as fh:
            fh.write("seq,arrival_ns,send_ns\n")
            for row in zip(self.seqs, self.arrivals, self.sends):
                fh.write("%d,%d,%d\n" % row)

    def report(self) -> ProbeReport:
        sent = rate = None
        if self.end is not None:
            sent, rate = self.end.seq, self.end.rate_pps
        elif self.cfg.expect_count is not None:
            sent = self.cfg.expect_count
        return analyse(self.seqs, self.arrivals, sent=sent, rate_pps=rate or 0,
                       send_ns=self.sends, run_id=self.run_id or 0,
                       end_seen=self.end is not None, malformed=self.malformed,
                       foreign=self.foreign)

"""The probe sender: numbered UDP packets at a fixed rate, over a UDP or AF_PACKET socket.

Pacing is against an absolute CLOCK_MONOTONIC schedule (packet k is due at
t0 + k/rate). The sender wakes once per 1 ms tick and sends every packet that is due,
so a late wake-up is caught up in the next batch and the rate never drifts. The
packet is a template built once with scapy; per packet only seq and send time are
written into it with struct.pack_into.

After the last packet (count reached, duration over, or stop requested) the END
marker is sent a few times; it carries the number sent and the rate, so the receiver
can stop by itself and compute loss without another channel.
"""
from __future__ import annotations

import random
import socket
import time
from dataclasses import asdict, dataclass
from typing import Callable

from hitless.probe import packet

TICK_NS = 1_000_000          # one batch per millisecond
END_REPEATS = 5              # END is sent this many times, END_SPACING_S apart
END_SPACING_S = 0.002
SNDBUF = 4 * 1024 * 1024
MAX_DURATION_S = 3600.0      # a sender with neither count nor duration still stops


@dataclass
class SenderConfig:
    dst: str
    port: int = 7000
    rate: int = 10_000
    count: int | None = None
    duration: float | None = None
    src: str | None = None
    sport: int = 0            # 0: any (UDP mode); raw mode then uses 40000
    mode: str = "udp"         # "udp" or "raw"
    iface: str | None = None  # raw mode: the interface to send on
    dst_mac: str | None = None  # raw mode: the Ethernet destination (e.g. a VMAC)
    run_id: int | None = None
    payload_size: int = packet.HEADER_LEN
    max_duration: float = MAX_DURATION_S

    def total(self) -> int:
        """How many packets the run sends at most."""
        if self.rate <= 0:
            raise ValueError(f"rate must be > 0, got {self.rate}")
        if self.count is not None:
            if self.count < 0:
                raise ValueError(f"count must be >= 0, got {self.count}")
            return self.count
        seconds = self.duration if self.duration is not None else self.max_duration
        if seconds < 0:
            raise ValueError(f"duration must be >= 0, got {seconds}")
        return int(round(seconds * self.rate))


@dataclass
class SendResult:
    run_id: int
    sent: int
    send_errors: int
    rate_pps: int
    started_ns: int           # CLOCK_MONOTONIC of packet 0's due time
    elapsed_s: float
    max_lag_ms: float         # how far the sender fell behind its schedule at worst
    mode: str

    def to_dict(self) -> dict:
        return asdict(self)


class Pacer:
    """Which packets are due at a time, and when to wake next. Pure; time is passed in."""

    def __init__(self, rate: int, total: int, t0_ns: int, tick_ns: int = TICK_NS):
        self.rate, self.total, self.t0, self.tick = rate, total, t0_ns, tick_ns

    def due_time(self, seq: int) -> int:
        return self.t0 + seq * 1_000_000_000 // self.rate

    def due(self, now_ns: int) -> int:
        """Number of packets (0..total) whose due time is <= now."""
        if now_ns < self.t0:
            return 0
        return min(self.total, (now_ns - self.t0) * self.rate // 1_000_000_000 + 1)

    def next_wake(self, now_ns: int, next_seq: int) -> int:
        """The next tick boundary after now, or later if the next packet is due later."""
        ticks = (now_ns - self.t0) // self.tick + 1
        return max(self.t0 + ticks * self.tick, self.due_time(next_seq))


class _Transport:
    """A socket plus the template it sends; `send()` sends the template as it is now."""

    def __init__(self, cfg: SenderConfig, run_id: int):
        self.cfg = cfg
        if cfg.mode == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
            self.sock.bind((cfg.src or "0.0.0.0", cfg.sport))
            # Unconnected on purpose: a connected UDP socket turns an ICMP
            # port-unreachable (receiver briefly absent) into an error on a later send.
            self.buf = packet.build_udp_payload(run_id, cfg.payload_size)
            self.offset = 0
            addr = (cfg.dst, cfg.port)
            buf, sendto = self.buf, self.sock.sendto
            self.send = lambda: sendto(buf, addr)
            self._end_frame = lambda sent, now, rate: sendto(
                packet.end_payload(run_id, sent, now, rate), addr)
        elif cfg.mode == "raw":
            if not (cfg.iface and cfg.dst_mac and cfg.src):
                raise ValueError("raw mode needs --iface, --dst-mac and --src")
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # send-only
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
            self.sock.bind((cfg.iface, 0))
            # getsockname is netns-aware, unlike /sys/class/net under nsenter --net.
            src_mac = ":".join(f"{b:02x}" for b in self.sock.getsockname()[4][:6])
            sport = cfg.sport or 40000
            self.buf = packet.build_raw_frame(src_mac, cfg.dst_mac, cfg.src, cfg.dst, sport,
                                              cfg.port, run_id, cfg.payload_size)
            self.offset = packet.RAW_PAYLOAD_OFFSET
            end_tpl = packet.build_raw_frame(src_mac, cfg.dst_mac, cfg.src, cfg.dst, sport,
                                             cfg.port, run_id, packet.END_LEN)
            buf, send = self.buf, self.sock.send
            self.send = lambda: send(buf)

            def end_frame(sent: int, now: int, rate: int) -> None:
                frame = bytearray(end_tpl)
                frame[self.offset:self.offset + packet.END_LEN] = packet.end_payload(
                    run_id, sent, now, rate)
                send(frame)

            self._end_frame = end_frame
        else:
            raise ValueError(f"mode must be udp or raw, got {cfg.mode!r}")

    def send_end(self, sent: int, rate: int) -> None:
        for i in range(END_REPEATS):
            try:
                self._end_frame(sent, time.monotonic_ns(), rate)
            except OSError:
                pass  # END is best effort; the receiver's deadline still bounds it
            if i + 1 < END_REPEATS:
                time.sleep(END_SPACING_S)

    def close(self) -> None:
        self.sock.close()


def new_run_id() -> int:
    return random.SystemRandom().randrange(1, 1 << 32)


def send(cfg: SenderConfig, stop: Callable[[], bool] = lambda: False,
         on_start: Callable[[int, int], None] | None = None) -> SendResult:
    """Runs the sender until the count is reached or `stop()` is true; then sends END.

    `on_start(run_id, t0_ns)` is called once the socket and template are ready, just
    before packet 0 is due.
    """
    total = cfg.total()
    run_id = cfg.run_id if cfg.run_id is not None else new_run_id()
    transport = _Transport(cfg, run_id)
    try:
        return _send_loop(cfg, transport, run_id, total, stop, on_start)
    finally:
        transport.close()


def _send_loop(cfg: SenderConfig, transport: _Transport, run_id: int, total: int,
               stop: Callable[[], bool], on_start) -> SendResult:
    clock, sleep = time.monotonic_ns, time.sleep
    buf, off, pack_into = transport.buf, transport.offset + packet.SEQ_OFFSET_IN_PAYLOAD, \
        packet.SEQ_TIME.pack_into
    send_one = transport.send
    t0 = clock() + TICK_NS
    if on_start:
        on_start(run_id, t0)
    pacer = Pacer(cfg.rate, total, t0)
    seq = errors = 0
    max_lag = 0
    while seq < total and not stop():
        now = clock()
        due = pacer.due(now)
        if due > seq:
            max_lag = max(max_lag, now - pacer.due_time(seq))
        while seq < due:
            pack_into(buf, off, seq, clock())
            try:
                send_one()
            except OSError:
                errors += 1  # the number is used up anyway: the receiver counts it lost
            seq += 1
        if seq >= total:
            break
        wait = pacer.next_wake(clock(), seq) - clock()
        if wait > 0:
            sleep(wait / 1e9)
    elapsed = (clock() - t0) / 1e9
    transport.send_end(seq, cfg.rate)
    return SendResult(run_id=run_id, sent=seq, send_errors=errors, rate_pps=cfg.rate,
                      started_ns=t0, elapsed_s=max(0.0, elapsed), max_lag_ms=max_lag / 1e6,
                      mode=cfg.mode)


def pin_low_timer_slack() -> None:
    """Asks for 10 µs timer slack (default 50 µs) so 1 ms ticks stay close to 1 ms."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(29, 10_000, 0, 0, 0)  # PR_SET_TIMERSLACK
    except (OSError, AttributeError):
        pass


__all__ = ["SenderConfig", "SendResult", "Pacer", "send", "new_run_id", "pin_low_timer_slack"]

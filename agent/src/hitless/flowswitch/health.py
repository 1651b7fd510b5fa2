"""Health checks for servers and routers: ARP, ICMP echo and TCP connect, with rise/fall and damping.

Two layers:
- `HealthState` (pure): turns a stream of probe results into up/down. `rise` passes in a
  row bring a target up, `fall` failures in a row take it down; `Damping` (RFC 2439
  style) adds a penalty at each up->down, decays it with a half-life, and holds a target
  down while the penalty is above `suppress` until it falls below `reuse`, so a flapping
  server stops pulling flows back and forth.
- `HealthMonitor` (asyncio): runs one probe per target every `interval`, with an
  injectable clock and sleep, and calls back on each effective transition.

Probes return True/False and never raise for network errors (a failed probe is data).
Timeouts use `asyncio.timeout()`, never `asyncio.wait_for()`: on Python 3.11 wait_for
swallows a cancellation that arrives as the awaited reply does, and the probe loop then
outlives `stop()` (seen as an agent that never exits).
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import struct
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from hitless.errors import WireError
from hitless.flowswitch.config import DampingSpec, HealthSpec
from hitless.wire.inet import inet_checksum

UP, DOWN = "up", "down"


class Damping:
    """Flap penalty with exponential decay; pure, driven by the caller's clock (seconds)."""

    def __init__(self, spec: DampingSpec):
        self.spec = spec
        self._penalty = 0.0
        self._at = 0.0
        self.suppressed_since: float | None = None

    def penalty(self, now: float) -> float:
        dt = max(0.0, now - self._at)
        return self._penalty * math.pow(0.5, dt * 1000.0 / self.spec.half_life_ms)

    def flap(self, now: float) -> None:
        self._penalty = self.penalty(now) + self.spec.penalty
        self._at = now
        if self.suppressed_since is None and self._penalty >= self.spec.suppress:
            self.suppressed_since = now

    def suppressed(self, now: float) -> bool:
        if self.suppressed_since is None:
            return False
        held = (now - self.suppressed_since) * 1000.0
        if self.penalty(now) < self.spec.reuse or held >= self.spec.max_suppress_ms:
            self.suppressed_since = None
            self._penalty = min(self.penalty(now), float(self.spec.reuse))
            self._at = now
            return False
        return True


class HealthState:
    """rise/fall counting plus damping; `observe()` returns the new effective state on a change."""

    def __init__(self, spec: HealthSpec, initial: str = DOWN):
        if initial not in (UP, DOWN):
            raise ValueError(f"initial state must be up or down, got {initial!r}")
        self.spec = spec
        self.raw = initial            # state from rise/fall alone
        self.effective = initial      # what the data plane is told (raw, unless damped)
        self.passes = 0
        self.fails = 0
        self.damping = Damping(spec.damping) if spec.damping else None
        self.transitions = 0
        self.last_change: float | None = None

    def _effective(self, now: float) -> str:
        if self.raw == UP and self.damping is not None and self.damping.suppressed(now):
            return DOWN
        return self.raw

    def observe(self, ok: bool, now: float) -> str | None:
        if ok:
            self.passes += 1
            self.fails = 0
            if self.raw == DOWN and self.passes >= self.spec.rise:
                self.raw = UP
        else:
            self.fails += 1
            self.passes = 0
            if self.raw == UP and self.fails >= self.spec.fall:
                self.raw = DOWN
                if self.damping is not None:
                    self.damping.flap(now)
        return self.poll(now)

    def poll(self, now: float) -> str | None:
        """Re-evaluates damping (a suppression can end without a new probe)."""
        eff = self._effective(now)
        if eff != self.effective:
            self.effective = eff
            self.transitions += 1
            self.last_change = now
            return eff
        return None

    @property
    def suppressed(self) -> bool:
        return self.damping is not None and self.damping.suppressed_since is not None

    def snapshot(self, now: float) -> dict:
        return {
            "state": self.effective,
            "raw": self.raw,
            "passes": self.passes,
            "fails": self.fails,
            "suppressed": self.raw == UP and self.effective == DOWN,
            "penalty": round(self.damping.penalty(now)) if self.damping else 0,
            "transitions": self.transitions,
        }


# ---------------------------------------------------------------- probes (real sockets)

async def probe_tcp(host: str, port: int, timeout: float, source: str | None = None) -> bool:
    """A TCP three-way handshake to host:port completes within timeout."""
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0) if source else None)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    try:
        async with asyncio.timeout(timeout):
            await writer.wait_closed()
    except (OSError, asyncio.TimeoutError):
        pass
    return True




_icmp_seq = 0


async def probe_icmp(host: str, timeout: float, source: str | None = None) -> bool:
    """An ICMP echo request to host gets its matching echo reply within timeout (raw socket, root)."""
    global _icmp_seq
    _icmp_seq = (_icmp_seq + 1) & 0xFFFF
    ident, seq = os.getpid() & 0xFFFF, _icmp_seq
    payload = b"hitless-hc" + struct.pack("!d", time.time())
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    pkt = struct.pack("!BBHHH", 8, 0, inet_checksum(hdr + payload), ident, seq) + payload
    loop = asyncio.get_running_loop()
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except OSError:
        return False
    sock.setblocking(False)
    try:
        if source:
            sock.bind((source, 0))
        await loop.sock_sendto(sock, pkt, (host, 0))
        deadline = loop.time() + timeout
        for _ in range(10_000):  # bounded in count as well as time
            left = deadline - loop.time()
            if left <= 0:
                return False
            async with asyncio.timeout(left):
                data, addr = await loop.sock_recvfrom(sock, 2048)
            ihl = (data[0] & 0x0F) * 4
            if addr[0] != host or len(data) < ihl + 8:
                continue
            typ, _code, _ck, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if typ == 0 and rid == ident and rseq == seq:
                return True
        return False
    except (OSError, asyncio.TimeoutError):
        return False
    finally:
        sock.close()


class ArpProber:
    """ARP health probes for many targets over ONE long-lived AF_PACKET socket.

    A unicast ARP request goes to the target's MAC for the target's IP, so only the probed
    box sees it, and a probe for the cluster IP (which every server holds) reaches exactly
    one server. The reply comes back to the switch's own MAC, which flowswitch.c lets
    through (fs_self). One socket, not one per probe: closing an AF_PACKET socket waits
    for an RCU grace period, which takes long on a loaded machine.
    """

    def __init__(self, ifname: str, source_ip: str = "0.0.0.0"):
        self.ifname, self.source_ip = ifname, source_ip
        self.sock: socket.socket | None = None
        self.mac = b""
        self.waiters: dict[tuple[bytes, str], list[asyncio.Future]] = {}
        self.malformed = 0
        self.received = 0

    def open(self) -> None:
        from hitless.flowswitch import arp

        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(arp.ETH_P_ARP))
        self.sock.setblocking(False)
        self.sock.bind((self.ifname, arp.ETH_P_ARP))
        self.mac = self.sock.getsockname()[4]
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._readable)

    def close(self) -> None:
        if self.sock is not None:
            try:
                asyncio.get_running_loop().remove_reader(self.sock.fileno())
            except RuntimeError:
                pass
            self.sock.close()
            self.sock = None

    def _readable(self) -> None:
        from hitless.flowswitch import arp

        for _ in range(1000):  # drain, bounded
            try:
                data = self.sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.received += 1
            try:
                a = arp.parse(data)
            except WireError:
                self.malformed += 1
                continue
            if a.op != 2:
                continue
            for fut in self.waiters.pop((a.sha, a.spa), []):
                if not fut.done():
                    fut.set_result(True)

    def send_on(self, ifname: str, frame: bytes) -> None:
        """Sends a raw frame out of another interface (e.g. one bridge port) on the same socket."""
        from hitless.flowswitch import arp

        self.sock.sendto(frame, (ifname, arp.ETH_P_ARP))

    async def probe(self, target_ip: str, target_mac: str, timeout: float) -> bool:
        from hitless.flowswitch import arp

        if self.sock is None:
            return False
        loop = asyncio.get_running_loop()
        tmac = bytes.fromhex(target_mac.replace(":", ""))
        fut = loop.create_future()
        key = (tmac, target_ip)
        self.waiters.setdefault(key, []).append(fut)
        try:
            self.sock.send(arp.build(1, self.mac, self.source_ip, target_ip, dst_mac=tmac))
            async with asyncio.timeout(timeout):
                return await fut
        except (OSError, asyncio.TimeoutError):
            return False
        finally:
            lst = self.waiters.get(key)
            if lst and fut in lst:
                lst.remove(fut)
                if not lst:
                    del self.waiters[key]


# ---------------------------------------------------------------- the monitor

Probe = Callable[[], Awaitable[bool]]
Transition = Callable[[str, str], None]  # (target name, "up"|"down")


@dataclass
class Target:
    name: str
    probe: Probe
    state: HealthState
    probes: int = 0
    failures: int = 0


class HealthMonitor:
    """Probes every target each `interval` (per target) and reports effective transitions."""

    def __init__(self, on_change: Transition, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 log: logging.Logger | None = None):
        self.on_change = on_change
        self.clock = clock
        self.sleep = sleep
        self.log = log or logging.getLogger("hitless.flowswitch.health")
        self.targets: dict[str, Target] = {}
        self._tasks: list[asyncio.Task] = []

    def add(self, name: str, spec: HealthSpec, probe: Probe, initial: str = DOWN) -> Target:
        t = Target(name, probe, HealthState(spec, initial))
        self.targets[name] = t
        return t

    async def step(self, target: Target) -> str | None:
        """One probe and its bookkeeping (tests drive this directly, with a fake clock)."""
        try:
            ok = bool(await target.probe())
        except Exception as exc:  # a probe bug must not kill the monitor; it counts as a failure
            self.log.warning("health probe %s raised %r", target.name, exc)
            ok = False
        target.probes += 1
        if not ok:
            target.failures += 1
        change = target.state.observe(ok, self.clock())
        if change is not None:
            self.log.info("health %s: %s", target.name, change)
            self.on_change(target.name, change)
        return change

    async def _run(self, target: Target) -> None:
        interval = target.state.spec.interval_ms / 1000.0
        while True:
            start = self.clock()
            await self.step(target)
            await self.sleep(max(0.0, interval - (self.clock() - start)))

    async def _poll_damping(self) -> None:
        # Suppression ends by decay, not by a probe: look once a second.
        while True:
            await self.sleep(1.0)
            for t in self.targets.values():
                change = t.state.poll(self.clock())
                if change is not None:
                    self.log.info("health %s: %s (damping released)", t.name, change)
                    self.on_change(t.name, change)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(t), name=f"hc-{t.name}") for t in self.targets.values()]
        self._tasks.append(asyncio.create_task(self._poll_damping(), name="hc-damping"))

    async def stop(self) -> None:
        """Cancels every probe loop and waits for them; re-cancels a task that swallowed a
        cancel (bounded), and never swallows a cancellation of stop() itself."""
        tasks, self._tasks = self._tasks, []
        for _ in range(5):
            pending = [t for t in tasks if not t.done()]
            if not pending:
                return
            for t in pending:
                t.cancel()
            await asyncio.wait(pending, timeout=1.0)
        left = [t.get_name() for t in tasks if not t.done()]
        if left:
            self.log.error("health: probe tasks did not stop: %s", ", ".join(left))

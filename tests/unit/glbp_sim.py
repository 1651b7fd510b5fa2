"""A discrete-event simulation of GLBP members on one LAN for the logic tests: real
GroupEngines, a fake clock, every hello encoded to bytes and decoded again, 1 ms latency.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

from hitless.gateway.config import GroupConfig
from hitless.gateway.group import GroupEngine, Log, SendGarp, SendHello
from hitless.wire import glbp
from hitless.wire.glbp import Packet, VFState, VGState

LATENCY = 0.001
VIP = "10.0.0.1"


def cfg(**kw) -> GroupConfig:
    base = dict(group=1, interface="lan", vip=VIP, hello_ms=100, hold_ms=300,
                redirect_ms=2000, timeout_ms=5000, forwarder_preempt_delay_ms=500)
    base.update(kw)
    return GroupConfig(**base)


@dataclass
class Node:
    name: str
    ip: str
    mac: bytes
    engine: GroupEngine
    up: bool = False
    hello_sources: list = field(default_factory=list)   # (time, eth source) of every hello copy
    garps: list = field(default_factory=list)            # (time, vmac)
    sent: list = field(default_factory=list)             # (time, Packet) of every hello
    logs: list = field(default_factory=list)


class Net:
    def __init__(self):
        self.now = 0.0
        self.nodes: dict[str, Node] = {}
        self.queue: list = []
        self._seq = itertools.count()
        self.cut: set[frozenset] = set()        # pairs that cannot hear each other
        self.hello_count = 0

    def add(self, name: str, last_octet: int, **kw) -> Node:
        ip = f"10.0.0.{last_octet}"
        mac = bytes([2, 0, 0, 0, 0, last_octet])
        n = Node(name, ip, mac, GroupEngine(cfg(**kw), ip, mac))
        self.nodes[name] = n
        return n

    def start(self, *names: str) -> None:
        for name in names:
            n = self.nodes[name]
            if not n.up:
                # a restarted member has lost its state: a fresh engine, same addresses
                if n.engine.started_at is not None:
                    n.engine = GroupEngine(n.engine.cfg, n.ip, n.mac)
                n.up = True
                n.engine.start(self.now)
                self._collect(n)

    def crash(self, name: str) -> None:
        self.nodes[name].up = False

    def shutdown(self, name: str) -> None:
        n = self.nodes[name]
        n.engine.shutdown(self.now)
        self._collect(n)

    def _collect(self, n: Node) -> None:
        for a in n.engine.drain():
            if isinstance(a, SendHello):
                raw = a.packet.encode()
                self.hello_count += 1
                n.sent.append((self.now, a.packet))
                for src in a.sources:
                    n.hello_sources.append((self.now, src))
                    for other in self.nodes.values():
                        if other is not n and frozenset((n.name, other.name)) not in self.cut:
                            heapq.heappush(self.queue, (self.now + LATENCY, next(self._seq), other.name, raw, n.ip))
            elif isinstance(a, SendGarp):
                n.garps.append((self.now, a.vmac))
            elif isinstance(a, Log):
                n.logs.append((self.now, a.text))

    def run(self, duration: float) -> None:
        end = self.now + duration
        for _ in range(1_000_000):
            times = [self.queue[0][0]] if self.queue else []
            for n in self.nodes.values():
                if n.up:
                    d = n.engine.next_deadline()
                    if d is not None:
                        times.append(max(d, self.now))
            t = min(times) if times else None
            if t is None or t > end:
                self.now = end
                return
            self.now = max(self.now, t)
            while self.queue and self.queue[0][0] <= self.now:
                _, _, dst, raw, src_ip = heapq.heappop(self.queue)
                n = self.nodes[dst]
                if n.up:
                    n.engine.receive(Packet.decode(raw), src_ip, self.now)
                    self._collect(n)
            for n in self.nodes.values():
                if n.up:
                    d = n.engine.next_deadline()
                    if d is not None and d <= self.now:
                        n.engine.tick(self.now)
                        self._collect(n)
        raise AssertionError("simulation did not settle")

    # --- views -------------------------------------------------------------------

    def vg(self, name: str) -> VGState:
        return self.nodes[name].engine.vg.state

    def avg(self) -> list[str]:
        return [k for k, n in self.nodes.items() if n.up and n.engine.is_avg()]

    def standby(self) -> list[str]:
        return [k for k, n in self.nodes.items() if n.up and n.engine.vg.state == VGState.STANDBY]

    def accepting(self, name: str) -> set[bytes]:
        n = self.nodes[name]
        return n.engine.accepting(self.now) if n.up else set()

    def who_accepts(self, vmac: bytes) -> list[str]:
        return [k for k in self.nodes if vmac in self.accepting(k)]

    def owner_of(self, name: str) -> int | None:
        """The forwarder number `name` owns, as the AVG's table says."""
        avg = self.nodes[self.avg()[0]].engine
        mac = self.nodes[name].mac
        return next((n for n, vf in avg.fwds.items() if vf.owner == mac), None)

    def vmac_of(self, name: str) -> bytes:
        return glbp.vmac(1, self.owner_of(name))

    def vf_state(self, name: str, number: int) -> VFState | None:
        vf = self.nodes[name].engine.fwds.get(number)
        return None if vf is None else vf.state


def three(**kw) -> Net:
    """r1 (pri 150), r2 (pri 120), r3 (pri 100), started together and settled."""
    net = Net()
    net.add("r1", 11, priority=150, **kw)
    net.add("r2", 12, priority=120, **kw)
    net.add("r3", 13, priority=100, **kw)
    net.start("r1", "r2", "r3")
    net.run(3.0)
    return net

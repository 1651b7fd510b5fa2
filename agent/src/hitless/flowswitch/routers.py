"""Router pool (seed 004, outbound): which router each server is told about, and who covers a dead one.

Servers all use one gateway IP. When a server ARPs for it, the switch answers with the
MAC of the router assigned to that server, so N routers carry about 1/N of the servers:
- `round-robin`: servers in a stable order (their source address, else name) are dealt
  across live routers; an assignment sticks while its router lives and the spread stays
  within one server;
- `load`: each server goes to the live router with the least measured load; existing
  assignments move only when that lowers the busiest router's load.
A router that fails keeps its MAC in the servers' ARP caches, so the data plane rewrites
frames sent to it to a live router (`cover`) until it recovers.

Pure: routers' health and measured loads come in as events/numbers, the assignment and
cover maps go out for the service to write into BPF maps.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable


@dataclass
class RouterState:
    name: str
    up: bool = True
    load: float = 0.0  # bytes/s measured in+out at the switch


@dataclass
class RouterPool:
    name: str
    routers: list[RouterState]
    select: str = "round-robin"
    assignment: dict[str, str] = field(default_factory=dict)   # server key -> router name
    server_load: dict[str, float] = field(default_factory=dict)  # server key -> bytes/s

    @classmethod
    def of(cls, name: str, routers: Iterable[str], select: str = "round-robin") -> "RouterPool":
        if select not in ("round-robin", "load"):
            raise ValueError(f"select must be round-robin or load, got {select!r}")
        rs = [RouterState(r) for r in routers]
        if len({r.name for r in rs}) != len(rs) or not rs:
            raise ValueError("a pool needs unique router names")
        return cls(name, rs, select)

    def router(self, name: str) -> RouterState:
        return next(r for r in self.routers if r.name == name)

    @property
    def live(self) -> list[str]:
        return [r.name for r in self.routers if r.up]

    def set_up(self, name: str, up: bool) -> None:
        self.router(name).up = up

    def set_loads(self, router_loads: dict[str, float], server_loads: dict[str, float]) -> None:
        for r in self.routers:
            r.load = float(router_loads.get(r.name, 0.0))
        self.server_load = dict(server_loads)

    def _counts(self, live: list[str]) -> dict[str, int]:
        counts = {r: 0 for r in live}
        for r in self.assignment.values():
            if r in counts:
                counts[r] += 1
        return counts

    def assign(self, servers: Iterable[str]) -> dict[str, str]:
        """Returns {server key: router name} for every server; sticky where possible."""
        servers = sorted(set(servers))
        live = self.live
        self.assignment = {s: r for s, r in self.assignment.items() if s in servers and r in live}
        if not live:
            self.assignment = {}
            return {}
        if self.select == "round-robin":
            self._assign_rr(servers, live)
        else:
            self._assign_load(servers, live)
        return dict(self.assignment)

    def _assign_rr(self, servers: list[str], live: list[str]) -> None:
        counts = self._counts(live)
        for s in servers:
            if s not in self.assignment:
                # Least-count router, ties by pool order: dealing the cards round-robin.
                r = min(live, key=lambda x: (counts[x], live.index(x)))
                self.assignment[s] = r
                counts[r] += 1
        # Rebalance after a recovery: move servers from the fullest to the emptiest router.
        for _ in range(len(servers)):
            hi = max(live, key=lambda x: (counts[x], -live.index(x)))
            lo = min(live, key=lambda x: (counts[x], live.index(x)))
            if counts[hi] - counts[lo] <= 1:
                break
            s = max(x for x, r in self.assignment.items() if r == hi)
            self.assignment[s] = lo
            counts[hi] -= 1
            counts[lo] += 1

    def _assign_load(self, servers: list[str], live: list[str]) -> None:
        load = {r: 0.0 for r in live}
        for s, r in self.assignment.items():
            load[r] += self.server_load.get(s, 0.0)
        # Heaviest unassigned servers first onto the least loaded router (LPT greedy).
        for s in sorted((s for s in servers if s not in self.assignment),
                        key=lambda x: (-self.server_load.get(x, 0.0), x)):
            counts = self._counts(live)
            r = min(live, key=lambda x: (load[x], counts[x], live.index(x)))
            self.assignment[s] = r
            load[r] += self.server_load.get(s, 0.0)
        # Move a server only when that strictly lowers the busiest router's load.
        for _ in range(len(servers)):
            hi = max(live, key=lambda x: load[x])
            lo = min(live, key=lambda x: load[x])
            gap = load[hi] - load[lo]
            movable = [(self.server_load.get(s, 0.0), s) for s, r in self.assignment.items()
                       if r == hi and 0 < self.server_load.get(s, 0.0) < gap]
            if not movable:
                break
            w, s = max(movable)
            self.assignment[s] = lo
            load[hi] -= w
            load[lo] += w

    def cover(self) -> dict[str, str | None]:
        """{dead router: live router that takes its frames (None when all are down)}."""
        live = self.live
        out: dict[str, str | None] = {}
        if not live:
            return {r.name: None for r in self.routers if not r.up}
        for i, r in enumerate(self.routers):
            if r.up:
                continue
            if self.select == "load":
                out[r.name] = min(live, key=lambda x: (self.router(x).load, live.index(x)))
            else:
                # Spread several dead routers over the live ones, stable per dead router.
                out[r.name] = live[i % len(live)]
        return out


def fallback_index(mac: bytes, n: int) -> int:
    """The router index (0..n-1) for an ARP requester the agent has no assignment for.

    Mirrors `fs_fallback_index()` in flowswitch.c (a 32-bit FNV-1a of the MAC).
    """
    if n <= 0:
        raise ValueError("no live routers")
    h = 0x811C9DC5
    for b in mac:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h % n


def stable_key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")

"""ARP load balancing: which VMAC the AVG hands to a host that ARPs for the VIP.

Modes (seed 003 §3c, Cisco GLBP):
- round-robin: each new host gets the next VMAC in forwarder-number order;
- weighted: smooth weighted round-robin, so shares follow the forwarders' weights;
- host-dependent: a rendezvous hash of the host MAC, stable while the set is unchanged
  and moving only the hosts of a VMAC that leaves.

In every mode a host that already has a VMAC keeps it while that VMAC is still handed out,
so existing hosts are never moved when a member joins (seed 003 §3b).
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

MAX_BINDINGS = 65536


class Balancer:
    def __init__(self, mode: str = "round-robin"):
        if mode not in ("round-robin", "weighted", "host-dependent"):
            raise ValueError(f"unknown load-balancing mode {mode!r}")
        self.mode = mode
        self.bindings: OrderedDict[bytes, bytes] = OrderedDict()  # host MAC -> VMAC
        self._last: int | None = None          # round-robin: last forwarder number handed out
        self._current: dict[int, int] = {}     # weighted: smooth WRR state per forwarder

    def choose(self, host: bytes, candidates: list[tuple[int, bytes, int]]) -> bytes | None:
        """candidates: (forwarder number, VMAC, weight) in the distribution set."""
        cands = sorted(c for c in candidates if self.mode != "weighted" or c[2] > 0)
        if not cands:
            return None
        macs = {c[1] for c in cands}
        bound = self.bindings.get(host)
        if bound in macs:
            self.bindings.move_to_end(host)
            return bound
        if self.mode == "round-robin":
            pick = next((c for c in cands if self._last is None or c[0] > self._last), cands[0])
            self._last = pick[0]
        elif self.mode == "weighted":
            total = sum(c[2] for c in cands)
            for c in cands:
                self._current[c[0]] = self._current.get(c[0], 0) + c[2]
            pick = max(cands, key=lambda c: (self._current[c[0]], -c[0]))
            self._current[pick[0]] -= total
        else:
            pick = max(cands, key=lambda c: hashlib.blake2b(host + c[1], digest_size=8).digest())
        self.bindings[host] = pick[1]
        self.bindings.move_to_end(host)
        while len(self.bindings) > MAX_BINDINGS:
            self.bindings.popitem(last=False)
        return pick[1]

    def forget_vmac(self, vmac: bytes) -> None:
        """Drops the bindings to a VMAC that was removed (its hosts will re-ARP)."""
        for h in [h for h, v in self.bindings.items() if v == vmac]:
            del self.bindings[h]

    def clients(self) -> dict[bytes, int]:
        out: dict[bytes, int] = {}
        for v in self.bindings.values():
            out[v] = out.get(v, 0) + 1
        return out

"""The seed's "optimal workload": Maglev weights re-computed each period from measured load.

Each server's weight starts at its capacity. Every period the agent measures each
server's load (bytes/s in+out at the switch) and compares its utilisation (load /
capacity) with the cluster's mean; a server busier than the mean gets a smaller share of
*new* flows, a quieter one a larger share. Existing flows never move (the connection
table pins them), so this only steers arrivals, which is what makes it safe to do often.

Damped on purpose: the factor moves part of the way each period (`gain`), is clamped to
[lo, hi], and the table is rebuilt only when some weight moved by more than
`threshold` (relative), so measurement noise does not churn the table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Rebalancer:
    gain: float = 0.5
    lo: float = 0.25
    hi: float = 4.0
    threshold: float = 0.1
    min_rate: float = 1000.0  # bytes/s below which the cluster counts as idle (weights = capacity)
    factors: dict[str, float] = field(default_factory=dict)

    def targets(self, capacity: dict[str, float], rate: dict[str, float]) -> dict[str, float]:
        """The factor each server would get if we jumped straight to it."""
        total_rate = sum(rate.get(s, 0.0) for s in capacity)
        total_cap = sum(capacity.values())
        if total_rate < self.min_rate or total_cap <= 0:
            return {s: 1.0 for s in capacity}
        mean = total_rate / total_cap
        out = {}
        for s, cap in capacity.items():
            util = rate.get(s, 0.0) / cap
            out[s] = self.hi if util <= 0 else min(self.hi, max(self.lo, mean / util))
        return out

    def update(self, capacity: dict[str, float], rate: dict[str, float]) -> dict[str, float]:
        """Advances one period; returns the new weights (capacity x factor)."""
        tgt = self.targets(capacity, rate)
        for s, t in tgt.items():
            prev = self.factors.get(s, 1.0)
            # Geometric step: symmetric for halving and doubling.
            self.factors[s] = math.exp((1 - self.gain) * math.log(prev) + self.gain * math.log(t))
        for s in list(self.factors):
            if s not in capacity:
                del self.factors[s]
        return {s: capacity[s] * self.factors[s] for s in capacity}

    def changed(self, old: dict[str, float], new: dict[str, float]) -> bool:
        """True when the membership changed or some weight moved by more than `threshold`."""
        if set(old) != set(new):
            return True
        for s, w in new.items():
            o = old[s]
            if o <= 0 or abs(w - o) / o > self.threshold:
                return True
        return False


def rates(prev: dict[str, int], cur: dict[str, int], seconds: float) -> dict[str, float]:
    """Per-key rates from two counter snapshots; a counter that went backwards counts as 0."""
    if seconds <= 0:
        return {k: 0.0 for k in cur}
    return {k: max(0, v - prev.get(k, v)) / seconds for k, v in cur.items()}

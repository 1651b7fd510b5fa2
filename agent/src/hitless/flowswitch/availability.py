"""Availability clustering (seed 004): one primary takes all traffic, the others wait.

States per server: primary, secondary-operational, secondary-failed.
- The primary fails -> it becomes secondary-failed and exactly one secondary-operational
  server (the first in configured order) is promoted.
- A failed server recovers -> secondary-operational. It never pre-empts the current
  primary, not even the configured one.
- No primary and a server becomes operational -> it is promoted (the cluster had none).

Pure: events in, the new primary out; no clock needed because nothing is timed here
(rise/fall and damping happen before, in health.py).
"""
from __future__ import annotations

from typing import Iterable

PRIMARY = "primary"
SECONDARY_OPERATIONAL = "secondary-operational"
SECONDARY_FAILED = "secondary-failed"


class Availability:
    def __init__(self, servers: Iterable[str], preferred: str | None = None, up: Iterable[str] = ()):
        self.order = list(servers)
        if len(set(self.order)) != len(self.order):
            raise ValueError("server names must be unique")
        if preferred is not None and preferred not in self.order:
            raise ValueError(f"unknown preferred primary {preferred!r}")
        # The preferred server only breaks the first election; afterwards order is by config.
        if preferred is not None:
            self.order.remove(preferred)
            self.order.insert(0, preferred)
        self.states = {s: SECONDARY_FAILED for s in self.order}
        self.promotions = 0
        self.history: list[tuple[str, str]] = []  # (server, new state), newest last
        for s in up:
            self.server_up(s)

    @property
    def primary(self) -> str | None:
        return next((s for s, st in self.states.items() if st == PRIMARY), None)

    def _set(self, server: str, state: str) -> None:
        if self.states[server] != state:
            self.states[server] = state
            self.history.append((server, state))

    def _promote(self) -> None:
        if self.primary is not None:
            return
        for s in self.order:
            if self.states[s] == SECONDARY_OPERATIONAL:
                self._set(s, PRIMARY)
                self.promotions += 1
                return

    def server_up(self, server: str) -> str | None:
        if self.states[server] == SECONDARY_FAILED:
            self._set(server, SECONDARY_OPERATIONAL)
        self._promote()
        return self.primary

    def server_down(self, server: str) -> str | None:
        was_primary = self.states[server] == PRIMARY
        self._set(server, SECONDARY_FAILED)
        if was_primary:
            self._promote()
        return self.primary

    def restore(self, primary: str | None, up: Iterable[str]) -> None:
        """Adopts the state a previous agent left in the data plane (agent restart, no preemption)."""
        up = set(up)
        for s in self.order:
            self.states[s] = SECONDARY_OPERATIONAL if s in up else SECONDARY_FAILED
        if primary in up:
            self.states[primary] = PRIMARY
        self._promote()

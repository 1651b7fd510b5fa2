"""The virtual gateway (AVG election) state machine: disabled, init, listen, speak,
standby, active. Pure: driven by `enable`/`disable`/`resign` and `evaluate(now, peers)`.

Rules (HSRP-like, as Cisco GLBP):
- a member listens for one hold time after start before it claims anything, so members
  that boot together do not each declare themselves the only AVG;
- with no AVG heard, members speak for one hold time; the best rank (priority, then the
  highest IP) becomes active; with an AVG present, the best speaker becomes standby;
- the standby becomes active as soon as the AVG is gone (hold expiry or resignation);
- no preemption by default: a better member that joins later becomes at most standby.
  With `preempt`, a better member takes over after `preempt_delay`;
- two actives (a healed partition) always resolve to the better rank.
"""
from __future__ import annotations

from dataclasses import dataclass

from hitless.gateway.election import Rank, rank
from hitless.wire.glbp import VGState


@dataclass(frozen=True)
class PeerView:
    rank: Rank
    state: int


class VirtualGateway:
    def __init__(self, priority: int, ip: str, hold_s: float, preempt: bool = False,
                 preempt_delay_s: float = 0.0):
        self.priority, self.ip = priority, ip
        self.rank = rank(priority, ip)
        self.hold_s, self.preempt, self.preempt_delay_s = hold_s, preempt, preempt_delay_s
        self.state = VGState.DISABLED
        self.listen_until: float | None = None
        self.speak_until: float | None = None
        self.preempt_at: float | None = None
        self.since = 0.0

    def _go(self, new: int, now: float) -> int:
        if new == VGState.SPEAK:
            self.speak_until = now + self.hold_s
        if new == VGState.LISTEN and self.listen_until is None:
            self.listen_until = now + self.hold_s
        if new in (VGState.ACTIVE, VGState.DISABLED, VGState.INIT):
            self.preempt_at = None
        self.state, self.since = VGState(new), now
        return self.state

    def enable(self, now: float) -> int | None:
        if self.state != VGState.DISABLED:
            return None
        self.listen_until = None
        return self._go(VGState.INIT, now)

    def disable(self, now: float) -> int | None:
        return None if self.state == VGState.DISABLED else self._go(VGState.DISABLED, now)

    def resign(self, now: float) -> int | None:
        """Planned shutdown: stop taking part (the hello then carries priority 0)."""
        return None if self.state in (VGState.DISABLED, VGState.INIT) else self._go(VGState.INIT, now)

    def _preempt_due(self, now: float, active: PeerView | None) -> bool:
        if not self.preempt or active is None or active.rank >= self.rank:
            self.preempt_at = None
            return False
        if self.preempt_at is None:
            self.preempt_at = now + self.preempt_delay_s
        return now >= self.preempt_at

    def evaluate(self, now: float, peers: list[PeerView]) -> int | None:
        """One step of the machine; returns the new state, or None when nothing changes."""
        me = self.rank
        active = max((p for p in peers if p.state == VGState.ACTIVE), key=lambda p: p.rank, default=None)
        standby = max((p for p in peers if p.state == VGState.STANDBY), key=lambda p: p.rank, default=None)
        better = any(p.rank > me and p.state in (VGState.SPEAK, VGState.STANDBY) for p in peers)
        s = self.state
        if s == VGState.DISABLED:
            return None
        if s == VGState.INIT:
            return self._go(VGState.LISTEN, now)
        if s == VGState.LISTEN:
            if now < (self.listen_until or 0):
                return None
            if self._preempt_due(now, active):
                return self._go(VGState.ACTIVE, now)
            # Speak (compete) unless a better member is already competing or standing by.
            if not better and (active is None or standby is None or standby.rank < me):
                return self._go(VGState.SPEAK, now)
            return None
        if s == VGState.SPEAK:
            if active is None:
                if not better and now >= self.speak_until:
                    return self._go(VGState.ACTIVE, now)
                return None
            if self._preempt_due(now, active):
                return self._go(VGState.ACTIVE, now)
            if better:
                return self._go(VGState.LISTEN, now)
            if now >= self.speak_until:
                return self._go(VGState.STANDBY, now)
            return None
        if s == VGState.STANDBY:
            if active is None:
                return self._go(VGState.ACTIVE, now)
            if self._preempt_due(now, active):
                return self._go(VGState.ACTIVE, now)
            if standby is not None and standby.rank > me:
                return self._go(VGState.LISTEN, now)
            return None
        if s == VGState.ACTIVE:
            if active is not None and active.rank > me:
                return self._go(VGState.SPEAK, now)
        return None

    def deadlines(self) -> list[float]:
        out = []
        if self.state == VGState.LISTEN and self.listen_until:
            out.append(self.listen_until)
        if self.state == VGState.SPEAK and self.speak_until:
            out.append(self.speak_until)
        if self.preempt_at is not None:
            out.append(self.preempt_at)
        return out

"""A virtual forwarder (one VMAC of the group) and its state machine on this member:
disabled, init, listen, active. Pure: `decide` gets everything it needs as arguments.

Who forwards a VMAC:
- its owner (primary, assigned by the AVG) whenever it is able to (weight above the
  lower threshold); when it returns while a secondary tends its VMAC it takes it back
  after the forwarder preempt delay (on by default, 30 s);
- otherwise the best secondary by (forwarder priority, IP). Secondaries never preempt
  each other; two actives (racing views) resolve to the better rank.
Leaving `active` is make-before-break: the VMAC stays accepted (`release_at`) until the
new holder has been heard, plus a short grace, or until a hard cap.
"""
from __future__ import annotations

from dataclasses import dataclass

from hitless.gateway.election import Rank
from hitless.wire.glbp import VFState

DRAIN_GRACE_S = 0.1  # after the new holder's first hello, frames still in flight to us


@dataclass
class VirtualForwarder:
    number: int
    vmac: bytes
    owner: bytes
    state: int = VFState.INIT
    since: float = 0.0
    owner_alive: bool = True
    owner_weight: int = 0
    redirect_at: float | None = None     # AIT: until then the VMAC is still handed out
    timeout_at: float | None = None      # ART: then the forwarder is removed
    redirected: bool = False
    preempt_at: float | None = None
    release_at: float | None = None      # still accepted until then (make-before-break)
    takeovers: int = 0

    def accepting(self, now: float) -> bool:
        return self.state == VFState.ACTIVE or (self.release_at is not None and now < self.release_at)

    def deadlines(self) -> list[float]:
        return [d for d in (self.redirect_at, self.timeout_at, self.preempt_at, self.release_at) if d is not None]


def decide(vf: VirtualForwarder, *, now: float, me: Rank, owner: bool, holder: Rank | None,
           candidates: list[Rank], may_claim: bool, preempt: bool, preempt_delay_s: float,
           owner_will_claim: bool = False) -> int | None:
    """One step for this member's view of `vf`; returns the new state or None.

    me: (my forwarder priority, my IP); holder: the best peer advertising `active` for it;
    candidates: peers able to forward it (priority > 0), as ranks;
    owner_will_claim: another member owns it, is alive and able, so secondaries leave it.
    """
    if vf.state == VFState.DISABLED:
        return None
    if vf.state == VFState.INIT:
        return VFState.LISTEN
    if vf.state == VFState.ACTIVE:
        if me[0] == 0 or not may_claim:
            return VFState.LISTEN
        if holder is not None and holder > me:
            return VFState.LISTEN
        return None
    # listen
    if not may_claim or me[0] == 0:
        vf.preempt_at = None
        return None
    if holder is None:
        vf.preempt_at = None
        if not owner and owner_will_claim:
            return None
        return VFState.ACTIVE if max(candidates + [me]) == me else None
    if owner and holder < me:
        if not preempt:
            return None
        if vf.preempt_at is None:
            vf.preempt_at = now + preempt_delay_s
        if now >= vf.preempt_at:
            vf.preempt_at = None
            return VFState.ACTIVE
    return None

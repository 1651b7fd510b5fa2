"""One GLBP group on one member: peers, the AVG election, the forwarder table, redirect
and timeout timers, weighting, ARP decisions and gratuitous ARP. Pure and clock-injected.

Drive it with `start`, `receive` (an authenticated packet), `tick`, `set_link`,
`set_tracked` and `shutdown`, always passing `now` (seconds, monotonic). Read back:
- `drain()`: actions to perform (SendHello, SendGarp, Log);
- `accepting(now)`: the VMACs the data plane must accept right now;
- `arp_reply(...)`: whether and how to answer an ARP request for the VIP;
- `next_deadline()`: when to call `tick` next; `snapshot(now)` for `show gateway`.

Forwarder lifecycle (seed 003 §3d, Cisco GLBP): the AVG assigns forwarder numbers 1..4 to
members (itself first); the assignment reaches members in the AVG's hellos, whose
Req/Resp TLVs carry each forwarder's owner. When an owner's hellos stop for the hold time
(or it resigns), every member starts the redirect (AIT) and timeout (ART) timers and the
best secondary takes the VMAC over. After redirect the AVG stops handing the VMAC out; it
is still forwarded. After timeout the forwarder is removed everywhere. An owner that
returns before that cancels both timers and takes its VMAC back.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from hitless.gateway.balancer import Balancer
from hitless.gateway.config import GroupConfig, Track
from hitless.gateway.election import ip_int, vf_priority
from hitless.gateway.timers import Timers, earliest, wire_seconds
from hitless.gateway.vf import DRAIN_GRACE_S, VirtualForwarder, decide
from hitless.gateway.vg import PeerView, VirtualGateway
from hitless.wire import glbp
from hitless.wire.glbp import Forwarder, Hello, Packet, VFState, VGState

BROADCAST = b"\xff" * 6
GARP_REPEATS = 3
MAX_ROUNDS = 8


@dataclass(frozen=True)
class SendHello:
    packet: Packet
    sources: tuple[bytes, ...]   # one copy per Ethernet source (each VMAC we forward)


@dataclass(frozen=True)
class SendGarp:
    vmac: bytes


@dataclass(frozen=True)
class Log:
    level: str
    text: str


@dataclass
class Peer:
    mac: bytes
    ip: str
    vg_state: int
    priority: int
    hold_s: float
    last_seen: float
    expires: float
    vip: str
    vfs: dict[int, Forwarder] = field(default_factory=dict)
    requesting: bool = False

    @property
    def resigned(self) -> bool:
        return self.priority == 0

    @property
    def rank(self) -> tuple[int, int]:
        return (self.priority, ip_int(self.ip))


class GroupEngine:
    def __init__(self, cfg: GroupConfig, ip: str, mac: bytes):
        self.cfg, self.ip, self.mac = cfg, ip, bytes(mac)
        self.t = Timers.of(cfg)
        self.vg = VirtualGateway(cfg.priority, ip, self.t.hold_s, cfg.preempt, self.t.preempt_delay_s)
        self.peers: dict[bytes, Peer] = {}
        self.fwds: dict[int, VirtualForwarder] = {}
        self.balancer = Balancer(cfg.load_balancing)
        self.track_down: set[Track] = set()
        self.weight = cfg.weight_max
        self.able = self.weight >= cfg.weight_lower
        self.started_at: float | None = None
        self.link_up = True
        self.shutting_down = False
        self.shutdown_cap: float | None = None
        self.next_hello_at: float | None = None
        self.hello_due = False
        self.garp_left, self.garp_at = 0, None
        self._out: list = []
        self.events: deque[tuple[float, str]] = deque(maxlen=100)
        self.counters: dict[str, int] = {k: 0 for k in (
            "hello_rx", "hello_tx", "arp_replies", "arp_refreshes", "garp_tx", "vg_changes",
            "vf_changes", "takeovers", "vip_mismatch", "forwarders_removed", "peers_lost")}
        self._vip_warned: set[bytes] = set()
        self._evaluated_at = float("-inf")

    # --- events -------------------------------------------------------------------

    def start(self, now: float) -> None:
        self.started_at = now
        if self.link_up:
            self._vg_set(self.vg.enable(now), VGState.DISABLED, now)
        self._evaluate(now)

    def receive(self, pkt: Packet, src_ip: str, now: float) -> None:
        """An authenticated packet for this group from `src_ip`."""
        if pkt.owner == self.mac or src_ip == self.ip or pkt.hello is None:
            return
        h = pkt.hello
        self.counters["hello_rx"] += 1
        if h.vip != self.cfg.vip and pkt.owner not in self._vip_warned:
            self._vip_warned.add(pkt.owner)
            self.counters["vip_mismatch"] += 1
            self._log("warning", f"group {self.cfg.group}: {src_ip} uses VIP {h.vip}, ours is {self.cfg.vip}")
        hold_s = (h.hold_ms or self.cfg.hold_ms) / 1000
        p = self.peers.get(pkt.owner)
        if p is None:
            p = self.peers[pkt.owner] = Peer(pkt.owner, src_ip, h.vg_state, h.priority, hold_s, now, now + hold_s, h.vip)
            self._event(now, f"peer {src_ip} ({glbp.mac_text(pkt.owner)}) heard, {_vg(h.vg_state)} pri {h.priority}")
        was_resigned = p.resigned
        p.ip, p.vg_state, p.priority, p.hold_s, p.vip = src_ip, h.vg_state, h.priority, hold_s, h.vip
        p.last_seen, p.expires = now, now + hold_s
        p.vfs = {f.number: f for f in pkt.forwarders if f.number >= 1}
        p.requesting = pkt.request is not None
        if p.resigned and not was_resigned:
            self._event(now, f"peer {src_ip} resigned")
        if h.vg_state == VGState.ACTIVE and not p.resigned and self.vg.state != VGState.ACTIVE:
            self._merge_from_avg(p, now)
        for f in pkt.forwarders:
            vf = self.fwds.get(f.number)
            if vf is None or f.number < 1:
                continue
            if vf.owner == pkt.owner:
                vf.owner_weight = f.weight
            if f.state == VFState.ACTIVE and not p.resigned and vf.state != VFState.ACTIVE and vf.release_at:
                # The new holder has spoken (and its VMAC-sourced hello moved the switch
                # entries): what we still accept for it is only what is in flight.
                vf.release_at = min(vf.release_at, now + DRAIN_GRACE_S)
        self._evaluate(now)

    def tick(self, now: float) -> None:
        self._evaluate(now)

    def set_link(self, up: bool, now: float) -> None:
        if up == self.link_up:
            return
        self.link_up = up
        self._event(now, f"interface {self.cfg.interface} {'up' if up else 'down'}")
        if up:
            old = self.vg.state
            self._vg_set(self.vg.enable(now), old, now)
            self.started_at = now
            for vf in self.fwds.values():
                if vf.state == VFState.DISABLED:
                    self._vf_set(vf, VFState.INIT, now)
        else:
            old = self.vg.state
            self._vg_set(self.vg.disable(now), old, now)
            for vf in self.fwds.values():
                vf.release_at = None
                self._vf_set(vf, VFState.DISABLED, now)
        self._evaluate(now)

    def set_tracked(self, track: Track, up: bool, now: float) -> None:
        if up == (track not in self.track_down):
            return
        (self.track_down.discard if up else self.track_down.add)(track)
        old = self.weight
        self.weight = max(0, self.cfg.weight_max - sum(t.decrement for t in self.track_down))
        if self.able and self.weight < self.cfg.weight_lower:
            self.able = False
        elif not self.able and self.weight >= self.cfg.weight_upper:
            self.able = True
        self._event(now, f"tracked {track.kind} {track.target} {'up' if up else 'down'}: weight {old} -> "
                         f"{self.weight} ({'forwarding' if self.able else 'below lower threshold'})")
        self.hello_due = True
        self._evaluate(now)

    def shutdown(self, now: float) -> None:
        """Planned shutdown: resign, hand every VMAC over make-before-break."""
        if self.shutting_down:
            return
        self.shutting_down = True
        # With nobody left to hand over to there is nothing to wait for.
        self.shutdown_cap = now + 2 * self.t.hold_s + DRAIN_GRACE_S if self._live() else now
        old = self.vg.state
        self._vg_set(self.vg.resign(now), old, now)
        self._event(now, "planned shutdown: resigning")
        self.hello_due = True
        self._evaluate(now)

    def finished(self, now: float) -> bool:
        """True once a planned shutdown has handed everything over."""
        return self.shutting_down and not any(vf.accepting(now) for vf in self.fwds.values())

    # --- outputs ------------------------------------------------------------------

    def drain(self) -> list:
        out, self._out = self._out, []
        return out

    def accepting(self, now: float) -> set[bytes]:
        return {vf.vmac for vf in self.fwds.values() if vf.accepting(now)}

    def next_deadline(self) -> float | None:
        """When `tick` next has work to do: the earliest deadline after the last evaluation
        (every deadline up to that moment has been dealt with). May be in the past: then
        tick now. None when nothing is scheduled."""
        ds = [self.next_hello_at, self.garp_at if self.garp_left else None, self.shutdown_cap]
        if self.started_at is not None:
            ds.append(self.started_at + self.t.hold_s)   # end of the listen period
        ds += [p.expires for p in self.peers.values()]
        ds += self.vg.deadlines()
        for vf in self.fwds.values():
            ds += vf.deadlines()
        return earliest(*(d for d in ds if d is not None and d > self._evaluated_at))

    def is_avg(self) -> bool:
        return self.vg.state == VGState.ACTIVE and not self.shutting_down

    def distribution(self) -> list[tuple[int, bytes, int]]:
        """(forwarder, VMAC, weight) that new hosts may be given, in forwarder order."""
        out = []
        for n, vf in sorted(self.fwds.items()):
            if vf.redirected:
                continue
            weight = self.weight if vf.owner == self.mac else vf.owner_weight
            if vf.owner_alive and not self._owner_able(vf):
                continue
            if vf.state == VFState.ACTIVE or self._holder(n) is not None or vf.owner_alive:
                out.append((n, vf.vmac, weight or 1))
        return out

    def arp_reply(self, host_mac: bytes, dst_mac: bytes) -> tuple[bytes, bytes] | None:
        """(Ethernet source, VMAC to put in the ARP sender field) or None for silence.

        Broadcast requests for the VIP: only the AVG answers, choosing a VMAC by the load
        balancing mode. A unicast request to one of the group's VMACs is a host's ARP
        cache refresh: whoever forwards that VMAC confirms it, so the host is not moved.
        """
        if self.shutting_down or not self.link_up:
            return None
        if dst_mac != BROADCAST:
            vf = next((v for v in self.fwds.values() if v.vmac == dst_mac), None)
            if vf is None or vf.state != VFState.ACTIVE or vf.redirected:
                return None
            self.counters["arp_refreshes"] += 1
            return vf.vmac, vf.vmac
        if not self.is_avg():
            return None
        choice = self.balancer.choose(host_mac, self.distribution())
        if choice is None:
            return None
        self.counters["arp_replies"] += 1
        return self._own_source(), choice

    # --- internals ----------------------------------------------------------------

    def _log(self, level: str, text: str) -> None:
        self._out.append(Log(level, text))

    def _event(self, now: float, text: str) -> None:
        self.events.append((now, text))
        self._log("info", f"group {self.cfg.group}: {text}")

    def _live(self) -> list[Peer]:
        return [p for p in self.peers.values() if not p.resigned]

    def _own_source(self) -> bytes:
        """Our Ethernet source for replies: our own VMAC if we forward it, else our MAC,
        never another member's VMAC (switches would learn it on our port)."""
        own = [vf for n, vf in sorted(self.fwds.items()) if vf.owner == self.mac and vf.state == VFState.ACTIVE]
        return own[0].vmac if own else self.mac

    def _vg_set(self, new: int | None, old: int, now: float) -> None:
        if new is None or new == old:
            return
        self.counters["vg_changes"] += 1
        self.hello_due = True
        self._event(now, f"VG {_vg(old)} -> {_vg(new)}")
        if new == VGState.ACTIVE and not self._live():
            # Seed 003 Fig 9b 943/945: a new AVG with no other live member tells every
            # host to use its VMAC, so nobody stays stranded on a dead member's VMAC.
            self.garp_left, self.garp_at = GARP_REPEATS, now

    def _vf_set(self, vf: VirtualForwarder, new: int, now: float) -> None:
        old = vf.state
        if new == old:
            return
        vf.state, vf.since = VFState(new), now
        self.counters["vf_changes"] += 1
        self.hello_due = True
        if new == VFState.ACTIVE:
            vf.release_at = None
            if vf.owner != self.mac:
                vf.takeovers += 1
                self.counters["takeovers"] += 1
        elif old == VFState.ACTIVE and new == VFState.LISTEN:
            # Make-before-break: keep accepting until a hello from the new holder arrives
            # (it has then taught the switches its port), plus a grace; see receive().
            cap = self.shutdown_cap if self.shutdown_cap is not None else now + 2 * self.t.hold_s
            vf.release_at = cap + DRAIN_GRACE_S if self.shutdown_cap is None else cap
        who = "owner" if vf.owner == self.mac else f"owner {glbp.mac_text(vf.owner)}"
        self._event(now, f"VF {vf.number} ({glbp.mac_text(vf.vmac)}, {who}) {_vf(old)} -> {_vf(new)}")

    def _create(self, n: int, owner: bytes, now: float) -> VirtualForwarder:
        vf = VirtualForwarder(n, glbp.vmac(self.cfg.group, n), owner, since=now)
        vf.owner_alive = self._owner_alive(owner)
        vf.owner_weight = self.weight if owner == self.mac else 0
        if not vf.owner_alive:
            self._start_timers(vf, now)
        if not self.link_up:
            vf.state = VFState.DISABLED
        self.fwds[n] = vf
        self.hello_due = True
        self._event(now, f"VF {n} ({glbp.mac_text(vf.vmac)}) assigned to {glbp.mac_text(owner)}")
        return vf

    def _delete(self, n: int, now: float, why: str) -> None:
        vf = self.fwds.pop(n)
        self.balancer.forget_vmac(vf.vmac)
        self.counters["forwarders_removed"] += 1
        self.hello_due = True
        self._event(now, f"VF {n} ({glbp.mac_text(vf.vmac)}) removed: {why}")

    def _owner_alive(self, owner: bytes) -> bool:
        if owner == self.mac:
            return not self.shutting_down and self.link_up
        p = self.peers.get(owner)
        return p is not None and not p.resigned

    def _start_timers(self, vf: VirtualForwarder, now: float) -> None:
        vf.redirect_at = now + self.t.redirect_s
        vf.timeout_at = now + self.t.timeout_s
        vf.redirected = self.t.redirect_s <= 0

    def _merge_from_avg(self, avg: Peer, now: float) -> None:
        """The AVG's hello is the forwarder table: adopt its assignments."""
        for n, f in avg.vfs.items():
            if f.owner == glbp.ZERO_MAC or not 1 <= n <= glbp.MAX_FORWARDERS:
                continue
            vf = self.fwds.get(n)
            if vf is None:
                self._create(n, f.owner, now)
            elif vf.owner != f.owner:
                self._event(now, f"VF {n} reassigned by the AVG to {glbp.mac_text(f.owner)}")
                vf.owner = f.owner
                vf.owner_alive = self._owner_alive(f.owner)
                vf.redirect_at = vf.timeout_at = None
                vf.redirected = False
                if not vf.owner_alive:
                    self._start_timers(vf, now)
        for n in [n for n, vf in self.fwds.items() if n not in avg.vfs and not vf.owner_alive]:
            self._delete(n, now, "no longer in the AVG's table")

    def _assign(self, now: float) -> bool:
        """AVG: give a forwarder number to every live member that has none (us first)."""
        changed = False
        owned = {vf.owner for vf in self.fwds.values()}
        live = sorted(self._live(), key=lambda p: ip_int(p.ip))
        # A member that still holds a number from a previous AVG keeps it if it is free.
        for p in live:
            for n, f in sorted(p.vfs.items()):
                if f.owner == p.mac and p.mac not in owned and n not in self.fwds and 1 <= n <= glbp.MAX_FORWARDERS:
                    self._create(n, p.mac, now)
                    owned.add(p.mac)
                    changed = True
        free = [n for n in range(1, glbp.MAX_FORWARDERS + 1) if n not in self.fwds]
        for mac in [self.mac] + [p.mac for p in live]:
            if mac not in owned and free and (mac != self.mac or self.link_up):
                self._create(free.pop(0), mac, now)
                owned.add(mac)
                changed = True
        return changed

    def _holder(self, n: int) -> tuple[int, int] | None:
        """Rank (forwarder priority, IP) of the best live peer advertising `n` active."""
        ranks = [(p.vfs[n].priority, ip_int(p.ip)) for p in self._live()
                 if n in p.vfs and p.vfs[n].state == VFState.ACTIVE]
        return max(ranks) if ranks else None

    def _owner_able(self, vf: VirtualForwarder) -> bool:
        """The owner is alive and has not said it cannot forward (priority 0)."""
        if not vf.owner_alive:
            return False
        if vf.owner == self.mac:
            return self.able
        tlv = self.peers[vf.owner].vfs.get(vf.number) if vf.owner in self.peers else None
        return tlv is None or tlv.priority > 0

    def _vf_prio(self, vf: VirtualForwarder) -> int:
        able = self.able and not self.shutting_down and self.link_up
        return vf_priority(owner=vf.owner == self.mac, able=able, vg_state=self.vg.state, weight=self.weight)

    def _expire(self, now: float) -> None:
        for mac in [m for m, p in self.peers.items() if p.expires <= now]:
            p = self.peers.pop(mac)
            self.counters["peers_lost"] += 1
            self._event(now, f"peer {p.ip} lost ({_vg(p.vg_state)}, no hello for {p.hold_s * 1000:.0f} ms)"
                        if not p.resigned else f"peer {p.ip} gone after resigning")
        for vf in self.fwds.values():
            alive = self._owner_alive(vf.owner)
            if alive != vf.owner_alive:
                vf.owner_alive = alive
                if alive:
                    vf.redirect_at = vf.timeout_at = None
                    vf.redirected = False
                    self._event(now, f"VF {vf.number} owner {glbp.mac_text(vf.owner)} is back: timers cancelled")
                else:
                    self._start_timers(vf, now)
                    self._event(now, f"VF {vf.number} owner {glbp.mac_text(vf.owner)} failed: redirect "
                                     f"{self.t.redirect_s:g}s, timeout {self.t.timeout_s:g}s started")
        for n, vf in list(self.fwds.items()):
            if vf.redirect_at is not None and now >= vf.redirect_at:
                vf.redirect_at, vf.redirected = None, True
                self.hello_due = True
                self._event(now, f"VF {n} redirect expired: no longer handed out, still forwarded")
            if vf.timeout_at is not None and now >= vf.timeout_at:
                self._delete(n, now, "timeout expired")

    def _evaluate(self, now: float) -> None:
        if self.started_at is None:
            return
        self._evaluated_at = now
        self._expire(now)
        may_claim = (not self.shutting_down and self.link_up and now >= self.started_at + self.t.hold_s)
        for _ in range(MAX_ROUNDS):
            changed = False
            if self.link_up and not self.shutting_down:
                old = self.vg.state
                new = self.vg.evaluate(now, [PeerView(p.rank, p.vg_state) for p in self._live()])
                if new is not None:
                    self._vg_set(new, old, now)
                    changed = True
                if self.vg.state == VGState.ACTIVE and self._assign(now):
                    changed = True
            for n, vf in sorted(self.fwds.items()):
                holder = self._holder(n)
                cands = [(p.vfs[n].priority, ip_int(p.ip)) for p in self._live()
                         if n in p.vfs and p.vfs[n].priority > 0]
                new = decide(vf, now=now, me=(self._vf_prio(vf), ip_int(self.ip)), owner=vf.owner == self.mac,
                             holder=holder, candidates=cands, may_claim=may_claim,
                             preempt=self.cfg.forwarder_preempt, preempt_delay_s=self.t.forwarder_preempt_delay_s,
                             owner_will_claim=self._owner_able(vf))
                if new is not None and new != vf.state:
                    self._vf_set(vf, new, now)
                    changed = True
            if not changed:
                break
        for vf in self.fwds.values():
            if vf.release_at is not None and now >= vf.release_at:
                vf.release_at = None
        if self.shutdown_cap is not None and now >= self.shutdown_cap:
            self.shutdown_cap = None
        self._hello(now)
        self._garp(now)

    def _hello(self, now: float) -> None:
        if not self.link_up or self.vg.state == VGState.DISABLED and not self.shutting_down:
            return
        if not self.hello_due and self.next_hello_at is not None and now < self.next_hello_at:
            return
        if self.shutting_down and self.finished(now) and not self.hello_due:
            return
        self.hello_due = False
        self.next_hello_at = now + self.t.hello_s
        sources = tuple(vf.vmac for n, vf in sorted(self.fwds.items()) if vf.state == VFState.ACTIVE) or (self.mac,)
        self.counters["hello_tx"] += 1
        self._out.append(SendHello(self.build_hello(), sources))

    def build_hello(self) -> Packet:
        c = self.cfg
        hello = Hello(self.vg.state, 0 if self.shutting_down else c.priority, c.hello_ms, c.hold_ms,
                      wire_seconds(c.redirect_ms), wire_seconds(c.timeout_ms), c.vip)
        tlvs = [Forwarder(n, vf.state, self._vf_prio(vf), min(self.weight, 255), vf.vmac, vf.owner)
                for n, vf in sorted(self.fwds.items())]
        if not self.shutting_down and not any(vf.owner == self.mac for vf in self.fwds.values()):
            # A request for a forwarder; the AVG's next hello is the response.
            tlvs.append(Forwarder(0, VFState.INIT if self.vg.state != VGState.ACTIVE else VFState.LISTEN,
                                  0, min(self.weight, 255), glbp.ZERO_MAC, self.mac))
        return Packet(c.group, self.mac, hello=hello, forwarders=tuple(tlvs))

    def _garp(self, now: float) -> None:
        if not self.garp_left or now < self.garp_at or not self.is_avg():
            if not self.is_avg():
                self.garp_left = 0
            return
        vmac = self._own_source()
        if vmac == self.mac:
            active = [vf.vmac for n, vf in sorted(self.fwds.items()) if vf.state == VFState.ACTIVE]
            if not active:
                return  # wait until we forward a VMAC
            vmac = active[0]
        self.garp_left -= 1
        self.garp_at = now + self.t.hello_s
        self.counters["garp_tx"] += 1
        self._out.append(SendGarp(vmac))

    # --- show ---------------------------------------------------------------------

    def snapshot(self, now: float) -> dict:
        c = self.cfg
        live = self._live()
        avg = next((p for p in live if p.vg_state == VGState.ACTIVE), None)
        stby = next((p for p in live if p.vg_state == VGState.STANDBY), None)
        me = {"ip": self.ip, "mac": glbp.mac_text(self.mac), "local": True}

        def who(p):
            return None if p is None else {"ip": p.ip, "mac": glbp.mac_text(p.mac), "priority": p.priority,
                                           "local": False}
        clients = self.balancer.clients()
        fwds = []
        for n, vf in sorted(self.fwds.items()):
            holder = None
            if vf.state == VFState.ACTIVE:
                holder = self.ip
            else:
                best = max(((p.vfs[n].priority, ip_int(p.ip), p.ip) for p in live
                            if n in p.vfs and p.vfs[n].state == VFState.ACTIVE), default=None)
                holder = best[2] if best else None
            owner_ip = self.ip if vf.owner == self.mac else (self.peers[vf.owner].ip if vf.owner in self.peers else None)
            fwds.append({
                "number": n, "vmac": glbp.mac_text(vf.vmac), "owner_mac": glbp.mac_text(vf.owner),
                "owner_ip": owner_ip, "owner_alive": vf.owner_alive, "state": _vf(vf.state),
                "since_s": round(now - vf.since, 3), "active_ip": holder, "priority": self._vf_prio(vf),
                "weight": vf.owner_weight if vf.owner != self.mac else self.weight,
                "redirected": vf.redirected, "accepting": vf.accepting(now),
                "redirect_in_s": None if vf.redirect_at is None else round(vf.redirect_at - now, 3),
                "timeout_in_s": None if vf.timeout_at is None else round(vf.timeout_at - now, 3),
                "preempt_in_s": None if vf.preempt_at is None else round(vf.preempt_at - now, 3),
                "clients": clients.get(vf.vmac, 0), "takeovers": vf.takeovers,
            })
        return {
            "group": c.group, "interface": c.interface, "vip": c.vip, "state": _vg(self.vg.state),
            "since_s": round(now - self.vg.since, 3), "priority": c.priority, "preempt": c.preempt,
            "avg": me if self.vg.state == VGState.ACTIVE else who(avg),
            "standby": me if self.vg.state == VGState.STANDBY else who(stby),
            "timers": {"hello_ms": c.hello_ms, "hold_ms": c.hold_ms, "redirect_ms": c.redirect_ms,
                       "timeout_ms": c.timeout_ms},
            "forwarder_preempt": c.forwarder_preempt, "forwarder_preempt_delay_ms": c.forwarder_preempt_delay_ms,
            "load_balancing": c.load_balancing,
            "weighting": {"current": self.weight, "maximum": c.weight_max, "lower": c.weight_lower,
                          "upper": c.weight_upper, "forwarding": self.able},
            "tracking": [{"kind": t.kind, "target": t.target, "decrement": t.decrement,
                          "up": t not in self.track_down} for t in c.track],
            "authentication": c.auth_type, "shutting_down": self.shutting_down,
            "forwarders": fwds,
            "peers": [{"ip": p.ip, "mac": glbp.mac_text(p.mac), "state": _vg(p.vg_state), "priority": p.priority,
                       "expires_in_s": round(p.expires - now, 3)} for p in sorted(self.peers.values(), key=lambda p: p.ip)],
            "counters": dict(self.counters),
            "events": [{"age_s": round(now - t, 3), "text": x} for t, x in list(self.events)[-20:]],
        }


def _vg(state: int) -> str:
    try:
        return VGState(state).name.lower()
    except ValueError:
        return str(state)


def _vf(state: int) -> str:
    try:
        return VFState(state).name.lower()
    except ValueError:
        return str(state)

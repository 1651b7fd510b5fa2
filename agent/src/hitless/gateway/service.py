"""The gateway role in the agent: GLBP groups on their LAN interfaces, wired to sockets,
the ARP responder and the XDP VMAC table. Implements agentd's RoleService.

Per event (a GLBP packet, an ARP request, a timer, a tracked object changing) the group
engine decides; this service then sends what it asked for (hellos, one copy per VMAC it
forwards; gratuitous ARPs), writes the VMAC differences into XDP and re-arms one timer.

Host preparation, idempotent, done at start: the VIP as a /32 on `lo` (so the member
accepts and routes for it) with arp_ignore=1/arp_announce=2 on the LAN interface (so the
kernel never answers ARP for it, nor uses it as an ARP source), a permanent neighbour entry
for the VIP, forwarding on, ICMP redirects off.

`stop()` is a planned shutdown: resign, hand each VMAC over make-before-break, then remove
our VMAC entries. The XDP program stays attached. After a crash (kill -9) the entries stay
and keep forwarding while the peers take over; a restarted agent keeps what it finds for
one hold time while it relearns the group, so a restart never drops a VMAC.
"""
from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass, field

from hitless.agentd.service import AgentContext
from hitless.config.schema import mac_bytes
from hitless.errors import HitlessError, WireError
from hitless.gateway import arp as garp
from hitless.gateway.auth import Authenticator
from hitless.gateway.config import GatewayConfig, GroupConfig
from hitless.gateway.dataplane import Entry, VmacTable
from hitless.gateway.group import GroupEngine, Log, SendGarp, SendHello
from hitless.gateway.metrics import GatewayCollector
from hitless.gateway.net import GlbpSocket, IfaceInfo, iface_info, iface_kind, link_up, route_present
from hitless.gateway.vf import DRAIN_GRACE_S
from hitless.wire import glbp
from hitless.wire.glbp import GlbpTruncated, Packet

TRACK_POLL_S = 0.1
MAX_BATCH = 256           # packets handled per readiness callback, so timers are never starved
STOP_LIMIT_S = 30.0
LOG_EVERY_S = 5.0         # rate limit for per-packet warnings


@dataclass
class Iface:
    info: IfaceInfo
    glbp: GlbpSocket
    arp: garp.ArpSocket
    groups: dict[int, "Group"] = field(default_factory=dict)


@dataclass
class Group:
    cfg: GroupConfig
    engine: GroupEngine
    auth: Authenticator
    iface: Iface
    counters: dict = field(default_factory=lambda: {"auth_failures": 0, "arp_requests": 0})


class GatewayService:
    name = "gateway"

    def __init__(self, cfg: GatewayConfig, ctx: AgentContext):
        self.cfg, self.ctx = cfg, ctx
        self.log = ctx.log.getChild("gateway")
        self.clock = ctx.clock
        self.ifaces: dict[str, Iface] = {}
        self.groups: list[Group] = []
        self.prog = None
        self.table: VmacTable | None = None
        self.adopted: dict[bytes, tuple[Entry, float]] = {}
        self.counters = {k: 0 for k in ("rx_packets", "rx_malformed", "rx_truncated", "rx_bad_port",
                                        "rx_unknown_group", "arp_malformed", "tx_errors", "dataplane_writes")}
        self._timer: asyncio.TimerHandle | None = None
        self._track_task: asyncio.Task | None = None
        self._warned: dict[str, float] = {}
        self.started = False
        ctx.collectors.append(GatewayCollector(self))

    # --- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        now = self.clock()
        for g in self.cfg.groups:
            if g.interface not in self.ifaces:
                info = iface_info(g.interface)
                if info.ip is None:
                    raise HitlessError(f"gateway: interface {g.interface} has no IPv4 address "
                                       "(GLBP speaks from the interface's own address)")
                self.ifaces[g.interface] = Iface(info, GlbpSocket(info.name, info.ifindex, info.ip),
                                                 garp.ArpSocket(info.name))
            iface = self.ifaces[g.interface]
            self._prepare_host(g, iface.info)
            grp = Group(g, GroupEngine(g, iface.info.ip, iface.info.mac), Authenticator(g.auth_type, g.auth_key), iface)
            iface.groups[g.group] = grp
            self.groups.append(grp)
        if self.ctx.dataplane is not None:
            self.prog = self._load_program(self.ctx.dataplane)
            self.table = VmacTable(self.prog)
            self._adopt(now)
        for grp in self.groups:
            for t in grp.cfg.track:
                grp.engine.set_tracked(t, self._track_up(t), now)
            grp.engine.set_link(grp.iface.info.up, now)
            grp.engine.start(now)
            self.log.info("group %d on %s: VIP %s, priority %d, hello %d ms, hold %d ms, %s",
                          grp.cfg.group, grp.cfg.interface, grp.cfg.vip, grp.cfg.priority,
                          grp.cfg.hello_ms, grp.cfg.hold_ms, grp.cfg.load_balancing)
        for iface in self.ifaces.values():
            loop.add_reader(iface.glbp.fileno(), self._on_glbp, iface)
            loop.add_reader(iface.arp.fileno(), self._on_arp, iface)
        self.started = True
        self._process(now)
        self._track_task = asyncio.create_task(self._track_loop())

    async def stop(self) -> None:
        if not self.started:
            return
        now = self.clock()
        for grp in self.groups:
            grp.engine.shutdown(now)
        self._process(now)
        deadline = time.monotonic() + STOP_LIMIT_S
        while not all(g.engine.finished(self.clock()) for g in self.groups) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)   # the readers keep running: we hear who takes over
            self._process(self.clock())
        self._process(self.clock())
        loop = asyncio.get_running_loop()
        if self._track_task:
            self._track_task.cancel()
        if self._timer:
            self._timer.cancel()
        for iface in self.ifaces.values():
            loop.remove_reader(iface.glbp.fileno())
            loop.remove_reader(iface.arp.fileno())
            iface.glbp.close()
            iface.arp.close()
        self.started = False
        self.log.info("gateway stopped; the XDP program stays attached")

    def _load_program(self, dp):
        # Native XDP on veth drops what we hand to the stack: veth classified the frame as
        # PACKET_OTHERHOST (addressed to a VMAC) before XDP ran and does not reclassify it
        # after we rewrite the destination, while generic XDP does. So on veth, "auto"
        # means generic for this program; real NIC drivers build the skb after XDP and
        # work natively.
        mode = dp.xdp_mode
        veth = any(iface_kind(i) == "veth" for i in self.ifaces)
        if mode == "auto" and veth:
            mode = "generic"
        elif mode == "native" and veth:
            self.log.warning("gateway: native XDP on veth does not deliver rewritten frames to the "
                             "stack; use xdp_mode auto or generic")
        return dp.ensure_program("gateway", list(self.ifaces), xdp_mode=mode)

    # --- host preparation ---------------------------------------------------------

    def _sysctl(self, key: str, value: str) -> None:
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path) as fh:
                if fh.read().strip() == value:
                    return
            with open(path, "w") as fh:
                fh.write(value)
            self.log.info("sysctl %s = %s", key, value)
        except OSError as exc:
            self.log.warning("cannot set sysctl %s: %s", key, exc.strerror)

    def _ip(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=10)

    def _prepare_host(self, g: GroupConfig, info: IfaceInfo) -> None:
        ifn = info.name.replace(".", "/")
        self._sysctl("net.ipv4.ip_forward", "1")
        self._sysctl(f"net.ipv4.conf.{ifn}.arp_ignore", "1")
        self._sysctl(f"net.ipv4.conf.{ifn}.arp_announce", "2")
        self._sysctl("net.ipv4.conf.all.send_redirects", "0")
        self._sysctl(f"net.ipv4.conf.{ifn}.send_redirects", "0")
        have = self._ip("-4", "-o", "addr", "show", "dev", "lo").stdout
        if f" {g.vip}/32 " not in have:
            r = self._ip("addr", "add", f"{g.vip}/32", "dev", "lo")
            if r.returncode != 0 and "File exists" not in r.stderr:
                raise HitlessError(f"gateway: cannot add VIP {g.vip} to lo: {r.stderr.strip()}")
            self.log.info("VIP %s/32 added to lo", g.vip)
        # The VIP is local, so the kernel never needs a neighbour entry for it; a permanent
        # one means no ARP we receive (a GARP, a spoof) can ever create or change one.
        mac = glbp.mac_text(info.mac)
        r = self._ip("neigh", "replace", g.vip, "lladdr", mac, "dev", info.name, "nud", "permanent")
        if r.returncode != 0:
            self.log.warning("cannot install the permanent neighbour entry for %s: %s", g.vip, r.stderr.strip())

    # --- data plane ---------------------------------------------------------------

    def _ours(self, vmac: bytes, ifindex: int) -> Group | None:
        gv = glbp.parse_vmac(vmac)
        if gv is None:
            return None
        return next((g for g in self.groups if g.cfg.group == gv[0] and g.iface.info.ifindex == ifindex), None)

    def _adopt(self, now: float) -> None:
        """Entries a previous agent left: keep ours for one hold time while we relearn."""
        for vmac, e in self.table.installed.items():
            grp = self._ours(vmac, e.ifindex)
            if grp is not None:
                self.adopted[vmac] = (e, now + grp.engine.t.hold_s + DRAIN_GRACE_S)
                self.log.info("adopted VMAC %s from the previous agent", glbp.mac_text(vmac))

    def _sync(self, now: float) -> None:
        if self.table is None:
            return
        desired: dict[bytes, Entry] = {}
        for vmac, (e, until) in list(self.adopted.items()):
            if now < until:
                desired[vmac] = e
            else:
                del self.adopted[vmac]
        for grp in self.groups:
            info = grp.iface.info
            for vmac in grp.engine.accepting(now):
                desired[vmac] = Entry(info.mac, info.ifindex)
        added, removed = self.table.sync(desired)
        if added or removed:
            self.counters["dataplane_writes"] += len(added) + len(removed)
            for v in added:
                self.log.info("data plane: accepting VMAC %s", glbp.mac_text(v))
            for v in removed:
                self.log.info("data plane: released VMAC %s", glbp.mac_text(v))

    # --- event plumbing -----------------------------------------------------------

    def _warn(self, key: str, msg: str, *args) -> None:
        t = time.monotonic()
        if t - self._warned.get(key, -1e9) >= LOG_EVERY_S:
            self._warned[key] = t
            self.log.warning(msg, *args)

    def _process(self, now: float) -> None:
        """Performs every group's pending actions, syncs XDP, re-arms the timer.

        XDP first: a VMAC we take over must be accepted before the hello sourced from it
        moves the switches' entries to our port (make-before-break inside the node too)."""
        self._sync(now)
        for grp in self.groups:
            for act in grp.engine.drain():
                try:
                    if isinstance(act, SendHello):
                        raw = grp.auth.seal(act.packet)
                        for src in act.sources:
                            grp.iface.glbp.send(raw, src)
                    elif isinstance(act, SendGarp):
                        grp.iface.arp.send(garp.gratuitous(act.vmac, grp.cfg.vip))
                        self.log.info("group %d: gratuitous ARP %s is at %s", grp.cfg.group, grp.cfg.vip,
                                      glbp.mac_text(act.vmac))
                    elif isinstance(act, Log):
                        getattr(self.log, act.level)(act.text)
                except OSError as exc:
                    self.counters["tx_errors"] += 1
                    self._warn("tx", "gateway: send on %s failed: %s", grp.iface.info.name, exc.strerror)
        self._sync(now)
        self._arm(now)

    def _arm(self, now: float) -> None:
        if not self.started:
            return
        ds = [d for d in (g.engine.next_deadline() for g in self.groups) if d is not None]
        ds += [until for _, until in self.adopted.values() if until > now]
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if ds:
            self._timer = asyncio.get_running_loop().call_later(max(0.0, min(ds) - now), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self.clock()
        for grp in self.groups:
            grp.engine.tick(now)
        self._process(now)

    def _on_glbp(self, iface: Iface) -> None:
        for _ in range(MAX_BATCH):
            got = iface.glbp.recv()
            if got is None:
                break
            data, src, sport = got
            self.counters["rx_packets"] += 1
            if sport != glbp.PORT:
                self.counters["rx_bad_port"] += 1
                continue
            try:
                pkt = Packet.decode(data)
            except GlbpTruncated as exc:
                self.counters["rx_truncated"] += 1
                self._warn("trunc", "gateway: truncated GLBP packet from %s dropped: %s", src, exc)
                continue
            except WireError as exc:
                self.counters["rx_malformed"] += 1
                self._warn("malformed", "gateway: malformed GLBP packet from %s dropped: %s", src, exc)
                continue
            grp = iface.groups.get(pkt.group)
            if grp is None:
                self.counters["rx_unknown_group"] += 1
                continue
            if not grp.auth.verify(data, pkt):
                grp.counters["auth_failures"] += 1
                self._warn(f"auth{grp.cfg.group}", "gateway: group %d: packet from %s failed %s "
                           "authentication, dropped", grp.cfg.group, src, grp.cfg.auth_type)
                continue
            grp.engine.receive(pkt, src, self.clock())
        self._process(self.clock())

    def _on_arp(self, iface: Iface) -> None:
        vips = {g.cfg.vip: g for g in iface.groups.values()}
        for _ in range(MAX_BATCH):
            frame = iface.arp.recv()
            if frame is None:
                break
            if not frame:
                continue
            try:
                req = garp.ArpPacket.parse(frame)
            except (WireError, ValueError):
                self.counters["arp_malformed"] += 1
                continue
            grp = vips.get(req.tpa)
            if req.op != 1 or grp is None or req.spa in ("0.0.0.0", iface.info.ip):
                continue
            grp.counters["arp_requests"] += 1
            ans = grp.engine.arp_reply(req.sha, req.eth_dst)
            if ans is None:
                continue
            try:
                iface.arp.send(garp.reply(req, ans[0], ans[1], grp.cfg.vip))
            except OSError as exc:
                self.counters["tx_errors"] += 1
                self._warn("arp", "gateway: ARP reply on %s failed: %s", iface.info.name, exc.strerror)

    # --- tracking -----------------------------------------------------------------

    def _track_up(self, t) -> bool:
        return link_up(t.target) if t.kind == "interface" else route_present(t.target)

    async def _track_loop(self) -> None:
        while True:
            await asyncio.sleep(TRACK_POLL_S)
            now = self.clock()
            for grp in self.groups:
                grp.engine.set_link(link_up(grp.cfg.interface), now)
                for t in grp.cfg.track:
                    grp.engine.set_tracked(t, self._track_up(t), now)
            self._process(now)

    # --- show ---------------------------------------------------------------------

    def show(self, _args: dict | None = None) -> dict:
        now = self.clock()
        groups = []
        for grp in self.groups:
            snap = grp.engine.snapshot(now)
            snap["counters"].update(grp.counters)
            if self.table is not None:
                for f in snap["forwarders"]:
                    f["xdp"] = self.table.vmac_counters(mac_bytes(f["vmac"]))
            groups.append(snap)
        dp = None
        if self.table is not None:
            dp = {"program": self.prog.status(), "counters": self.table.counters(),
                  "vmacs": [{"vmac": glbp.mac_text(v), "ifindex": e.ifindex, "adopted": v in self.adopted,
                             **self.table.vmac_counters(v)} for v, e in sorted(self.table.installed.items())]}
        return {"node": self.ctx.node, "groups": groups, "counters": dict(self.counters), "dataplane": dp,
                "interfaces": {n: {"ifindex": i.info.ifindex, "mac": glbp.mac_text(i.info.mac), "ip": i.info.ip}
                               for n, i in self.ifaces.items()}}

    def status(self) -> dict:
        now = self.clock()
        return {"running": self.started, "groups": [
            {"group": g.cfg.group, "interface": g.cfg.interface, "vip": g.cfg.vip,
             "state": g.engine.snapshot(now)["state"], "accepting": sorted(glbp.mac_text(v) for v in g.engine.accepting(now))}
            for g in self.groups]}

    def commands(self) -> dict:
        return {"show gateway": self.show}

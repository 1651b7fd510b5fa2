"""The flow-switch role: keeps xdp_flowswitch's maps equal to what health and load say.

Start (also after an agent restart; nothing is flushed):
1. load or adopt xdp_flowswitch on every switch port;
2. re-use the cluster and server ids the maps already hold (so connection-table entries
   keep pointing at the same servers) and adopt each server's up/down flag and each
   availability cluster's primary, so a restart changes no forwarding decision;
3. write ports, clusters, servers, router pool and the Maglev tables;
4. pin every server and router MAC in the bridge FDB (static), because the bridge never
   learns them from frames XDP redirects or answers, and would otherwise flood
   server-to-router traffic to every port;
5. announce each virtual MAC with a gratuitous ARP on the router ports;
6. start health checks and the periodic re-weighting.
Events: a server going down is marked down in fs_servers first (the program skips it at
once) and then its cluster's table is rebuilt without it; a router going down gets a
cover router and its servers are re-assigned for new ARP answers.
"""
from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from array import array
from dataclasses import dataclass

from hitless.agentd.service import AgentContext
from hitless.errors import DataplaneError
from hitless.flowswitch import arp, maglev
from hitless.flowswitch.availability import Availability
from hitless.flowswitch.balance import Rebalancer, rates
from hitless.flowswitch.config import ClusterCfg, FlowSwitchConfig, ServerCfg
from hitless.flowswitch.health import DOWN, UP, ArpProber, HealthMonitor, probe_icmp, probe_tcp
from hitless.flowswitch.routers import RouterPool
from hitless.flowswitch.tables import (MAX_CLUSTERS, MAX_ROUTERS, MAX_SERVERS, MODE_AVAILABILITY, MODE_BALANCE,
                                       PORT_ROUTER, PORT_SERVER, ROUTER, FlowSwitchMaps, ServerEntry)


@dataclass
class Member:
    """One server in one cluster (a server box in two clusters is two members)."""

    cluster: ClusterCfg
    server: ServerCfg
    sid: int
    up: bool = False

    @property
    def key(self) -> str:
        return f"{self.cluster.name}/{self.server.name}"


def _ipv4_of(ifname: str) -> str | None:
    try:
        out = subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", ifname], capture_output=True,
                             text=True, timeout=10)
        for link in json.loads(out.stdout or "[]"):
            for a in link.get("addr_info", []):
                if a.get("family") == "inet":
                    return a["local"]
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass
    return None


def _mac_of(ifname: str) -> str | None:
    try:
        return ":".join(f"{b:02x}" for b in arp.if_mac(ifname))
    except OSError:
        return None


class FlowSwitchService:
    name = "flowswitch"

    def __init__(self, cfg: FlowSwitchConfig, ctx: AgentContext):
        self.cfg, self.ctx = cfg, ctx
        self.log = ctx.log.getChild("flowswitch")
        self.prog = None
        self.maps: FlowSwitchMaps | None = None
        self.cluster_ids: dict[str, int] = {}
        self.members: dict[str, Member] = {}            # "cluster/server" -> member
        self.port_slots = {p: i + 1 for i, p in enumerate(self.cfg.ports)}
        self.router_ids: dict[str, int] = {}
        self.router_up: dict[str, bool] = {}
        self.pools: dict[str, RouterPool] = {}
        self.avail: dict[str, Availability] = {}
        self.rebalancers: dict[str, Rebalancer] = {}
        self.weights: dict[str, dict[str, float]] = {}
        self.tables: dict[str, array] = {}
        self.rebuilds: dict[str, int] = {}
        self.monitor = HealthMonitor(self._on_health, clock=ctx.clock, log=self.log.getChild("health"))
        self._tasks: list[asyncio.Task] = []
        self._prev_sample: tuple[float, dict[str, int], dict[str, int]] | None = None
        self.events: list[dict] = []
        self.started = False
        self.arp_prober: ArpProber | None = None

    # ------------------------------------------------------------------ start / stop

    def _cflags(self) -> list[str]:
        return [f"-DFS_MAGLEV_M={self.cfg.maglev_size}", f"-DFS_CT_SIZE={self.cfg.conntrack_size}"]

    async def start(self) -> None:
        self.prog = self.ctx.dataplane.ensure_program("flowswitch", list(self.cfg.ports), cflags=self._cflags())
        self.maps = FlowSwitchMaps(self.prog, self.cfg.maglev_size)
        self._allocate_ids()
        self._write_static()
        for c in self.cfg.clusters:
            self._rebuild(c.name, reason="start")
        self._write_routers()
        self._pin_fdb()
        self.arp_prober = ArpProber(self.cfg.bridge, self.cfg.source_ip or _ipv4_of(self.cfg.bridge) or "0.0.0.0")
        self.arp_prober.open()
        self._announce()
        self._add_health_targets()
        self.monitor.start()
        self._tasks.append(asyncio.create_task(self._rebalance_loop(), name="fs-rebalance"))
        self.ctx.collectors.append(FlowSwitchCollector(self))
        self.started = True
        self.log.info("flowswitch: %d clusters, %d members, %d routers on %s (program %s)",
                      len(self.cfg.clusters), len(self.members), len(self.router_ids),
                      ", ".join(self.cfg.ports), "adopted" if self.prog.adopted else "loaded")

    async def stop(self) -> None:
        # The program stays attached and the maps pinned: forwarding goes on without us.
        await self.monitor.stop()
        if self.arp_prober is not None:
            self.arp_prober.close()
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self.started = False

    # ------------------------------------------------------------------ ids and adoption

    def _allocate_ids(self) -> None:
        maps = self.maps
        existing_clusters = maps.clusters()          # vmac -> (id, ip, mode)
        for c in self.cfg.clusters:
            old = existing_clusters.get(c.vmac)
            if old is not None and old[0] < MAX_CLUSTERS:
                self.cluster_ids[c.name] = old[0]
        for c in self.cfg.clusters:
            if c.name not in self.cluster_ids:
                taken = set(self.cluster_ids.values())
                self.cluster_ids[c.name] = next(i for i in range(MAX_CLUSTERS) if i not in taken)

        existing = maps.servers()                    # sid -> ServerEntry
        by_identity = {(e.cluster, e.mac): e for e in existing.values()}
        taken_sids: set[int] = set()
        for c in self.cfg.clusters:
            cid = self.cluster_ids[c.name]
            for s in c.servers:
                e = by_identity.get((cid, s.mac))
                if e is not None:
                    m = Member(c, s, e.sid, e.up)
                    taken_sids.add(e.sid)
                    self.members[m.key] = m
        next_sid = (i for i in range(MAX_SERVERS) if i not in taken_sids and i not in existing)
        for c in self.cfg.clusters:
            for s in c.servers:
                key = f"{c.name}/{s.name}"
                if key not in self.members:
                    self.members[key] = Member(c, s, next(next_sid), False)
        # Slots that held servers no longer configured are freed (never re-used this run).
        for sid in existing:
            if sid not in {m.sid for m in self.members.values()}:
                maps.clear_server(sid)

        for c in self.cfg.clusters:
            names = [s.name for s in c.servers]
            self.weights[c.name] = {s.name: float(s.capacity) for s in c.servers}
            self.rebalancers[c.name] = Rebalancer(threshold=self.cfg.rebalance_threshold)
            if c.mode == "availability":
                a = Availability(names, preferred=c.primary)
                up = [n for n in names if self.members[f"{c.name}/{n}"].up]
                a.restore(self._adopted_primary(c), up)
                self.avail[c.name] = a

        rid = 0
        existing_rtr = {":".join(f"{b:02x}" for b in k[:6]): bool(ROUTER.unpack(v)[1])
                        for k, v in maps.m("fs_rtr").items()}
        for p in self.cfg.router_pools:
            pool = RouterPool.of(p.name, [r.name for r in p.routers], p.select)
            for r in p.routers:
                self.router_ids[r.name] = rid
                rid += 1
                up = existing_rtr.get(r.mac, False)
                self.router_up[r.name] = up
                pool.set_up(r.name, up)
            self.pools[p.name] = pool
        if rid > MAX_ROUTERS:
            raise DataplaneError(f"{rid} routers, the program holds {MAX_ROUTERS}")

    def _adopted_primary(self, c: ClusterCfg) -> str | None:
        cid = self.cluster_ids[c.name]
        sid = self.maps.maglev_slot(cid, 0)
        for m in self.members.values():
            if m.cluster.name == c.name and m.sid == sid:
                return m.server.name
        return None

    # ------------------------------------------------------------------ writing maps

    def _write_static(self) -> None:
        slots, roles = {}, {}
        server_ports = {s.port for c in self.cfg.clusters for s in c.servers}
        router_ports = {r.port for p in self.cfg.router_pools for r in p.routers}
        for port, slot in self.port_slots.items():
            try:
                idx = socket.if_nametoindex(port)
            except OSError:
                raise DataplaneError(f"flowswitch: no interface {port}") from None
            slots[slot] = idx
            if port in server_ports:
                roles[idx] = PORT_SERVER
            elif port in router_ports:
                roles[idx] = PORT_ROUTER
        self.maps.set_ports(slots, roles)
        self_macs = [m for m in [_mac_of(self.cfg.bridge), *(_mac_of(p) for p in self.cfg.ports)] if m]
        self.maps.set_self_macs(self_macs)
        self.maps.set_clusters({self.cluster_ids[c.name]: (c.ip, c.vmac, MODE_AVAILABILITY if c.mode == "availability"
                                                           else MODE_BALANCE) for c in self.cfg.clusters})
        for m in self.members.values():
            self._write_member(m)
        self.maps.set_server_sources({(m.cluster.ip, m.server.mac): m.sid for m in self.members.values()})

    def _write_member(self, m: Member) -> None:
        self.maps.set_server(ServerEntry(m.sid, m.server.mac, self.port_slots[m.server.port], m.up,
                                         self.cluster_ids[m.cluster.name]))

    def _table_for(self, cname: str) -> array:
        c = next(x for x in self.cfg.clusters if x.name == cname)
        live = [m for m in self.members.values() if m.cluster.name == cname and m.up]
        if c.mode == "availability":
            prim = self.avail[cname].primary
            sid = self.members[f"{cname}/{prim}"].sid if prim else maglev.EMPTY
            return array("I", [sid]) * self.cfg.maglev_size
        w = self.weights[cname]
        return maglev.build([maglev.Backend(m.server.name, m.sid, w[m.server.name]) for m in live],
                            self.cfg.maglev_size)

    def _rebuild(self, cname: str, reason: str) -> None:
        t0 = time.perf_counter()
        table = self._table_for(cname)
        half = self.maps.write_maglev(self.cluster_ids[cname], table)
        self.tables[cname] = table
        self.rebuilds[cname] = self.rebuilds.get(cname, 0) + 1
        self.log.info("flowswitch: cluster %s table rebuilt (%s) into half %d in %.1f ms", cname, reason, half,
                      (time.perf_counter() - t0) * 1000)

    def _router_cfg(self):
        return {r.name: (p, r) for p in self.cfg.router_pools for r in p.routers}

    def _write_routers(self) -> None:
        rc = self._router_cfg()
        desired = {}
        for pname, pool in self.pools.items():
            cover = pool.cover()
            for r in pool.routers:
                _, cfg = rc[r.name]
                cov = cover.get(r.name)
                if cov is not None:
                    cc = rc[cov][1]
                    desired[cfg.mac] = (self.router_ids[r.name], r.up, cc.mac, self.port_slots[cc.port],
                                        self.router_ids[cov], list(self.pools).index(pname))
                else:
                    desired[cfg.mac] = (self.router_ids[r.name], r.up, None, 0, 0, list(self.pools).index(pname))
        self.maps.set_routers(desired)
        # A server asking for one router's own IP gets that router, or its cover while down;
        # no answer at all when the whole pool is down (the request is dropped, not leaked).
        answers = {}
        for pname, pool in self.pools.items():
            cover = pool.cover()
            for r in pool.routers:
                cfg = rc[r.name][1]
                target = r.name if r.up else cover.get(r.name)
                if target is not None:
                    answers[cfg.ip] = rc[target][1].mac
        self.maps.set_router_ips(answers)
        # Which servers ask which gateway: every member MAC of the clusters using a pool.
        assignments, pools = {}, {}
        for p in self.cfg.router_pools:
            servers = sorted({m.server.mac for m in self.members.values() if m.cluster.router_pool == p.name})
            assignments[p.name] = self.pools[p.name].assign(servers)
            pools[p.name] = (p.gateway_ip, self.pools[p.name].live)
        gws, assign = arp.gateway_tables(pools, assignments, {n: c.mac for n, (_, c) in rc.items()})
        self.maps.set_gateways(gws, assign)

    def _pin_fdb(self) -> None:
        entries = {(m.server.mac, m.server.port) for m in self.members.values()}
        entries |= {(r.mac, r.port) for p in self.cfg.router_pools for r in p.routers}
        for mac, port in sorted(entries):
            proc = subprocess.run(["bridge", "fdb", "replace", mac, "dev", port, "master", "static"],
                                  capture_output=True, text=True, timeout=10)
            if proc.returncode != 0:
                self.log.warning("flowswitch: cannot pin %s on %s in the bridge: %s", mac, port, proc.stderr.strip())

    def _announce(self) -> None:
        router_ports = sorted({r.port for p in self.cfg.router_pools for r in p.routers})
        frames = [arp.gratuitous(c.vmac, c.ip) for c in self.cfg.clusters]
        for port in router_ports:
            try:
                for f in frames:
                    self.arp_prober.send_on(port, f)
            except OSError as exc:
                self.log.warning("flowswitch: gratuitous ARP on %s failed: %s", port, exc)

    # ------------------------------------------------------------------ health

    def _add_health_targets(self) -> None:
        prober = self.arp_prober
        for m in self.members.values():
            spec, s, c = m.cluster.health, m.server, m.cluster
            timeout = spec.timeout_ms / 1000
            if spec.type == "arp":
                probe = (lambda s=s, c=c, t=timeout: prober.probe(s.address or c.ip, s.mac, t))
            elif spec.type == "icmp":
                probe = (lambda s=s, t=timeout: probe_icmp(s.address, t, self.cfg.source_ip))
            else:
                probe = (lambda s=s, t=timeout, port=spec.port: probe_tcp(s.address, port, t, self.cfg.source_ip))
            self.monitor.add(f"server:{m.key}", spec, probe, initial=UP if m.up else DOWN)
        for p in self.cfg.router_pools:
            timeout = p.health.timeout_ms / 1000
            for r in p.routers:
                if p.health.type == "arp":
                    probe = (lambda r=r, t=timeout: prober.probe(r.ip, r.mac, t))
                else:
                    probe = (lambda r=r, t=timeout: probe_icmp(r.ip, t, self.cfg.source_ip))
                self.monitor.add(f"router:{p.name}/{r.name}", p.health, probe,
                                 initial=UP if self.router_up[r.name] else DOWN)

    def _on_health(self, target: str, state: str) -> None:
        kind, _, key = target.partition(":")
        up = state == UP
        self.events.append({"t": round(time.time(), 3), "target": target, "state": state})
        del self.events[:-100]
        if kind == "server":
            self.set_server_state(key, up)
        else:
            self.set_router_state(key.split("/", 1)[1], up)

    def set_server_state(self, key: str, up: bool) -> None:
        m = self.members[key]
        if m.up == up:
            return
        m.up = up
        # Flag first: the program stops choosing a failed server at once (and may choose a
        # recovered one); the table rebuild that follows makes the steady state exact.
        self._write_member(m)
        cname = m.cluster.name
        if cname in self.avail:
            a = self.avail[cname]
            before = a.primary
            (a.server_up if up else a.server_down)(m.server.name)
            if a.primary != before:
                self.log.warning("flowswitch: cluster %s primary %s -> %s", cname, before, a.primary)
        self._rebuild(cname, reason=f"{m.server.name} {'up' if up else 'down'}")
        self._write_routers()  # its MAC joins/leaves the gateway assignment

    def set_router_state(self, name: str, up: bool) -> None:
        if self.router_up.get(name) == up:
            return
        self.router_up[name] = up
        for pool in self.pools.values():
            if name in [r.name for r in pool.routers]:
                pool.set_up(name, up)
        self.log.warning("flowswitch: router %s %s", name, "up" if up else "down")
        self._write_routers()

    # ------------------------------------------------------------------ load

    def _sample(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """Bytes in+out per member, per server MAC (all its clusters) and per router."""
        per_member, per_mac, per_router = {}, {}, {}
        for key, m in self.members.items():
            c = self.maps.server_counters(m.sid)
            b = c["in"]["bytes"] + c["out"]["bytes"]
            per_member[key] = b
            per_mac[m.server.mac] = per_mac.get(m.server.mac, 0) + b
        for name, rid in self.router_ids.items():
            c = self.maps.router_counters(rid)
            per_router[name] = c["in"]["bytes"] + c["out"]["bytes"]
        return per_member, per_mac, per_router

    def rebalance(self) -> dict:
        """One re-evaluation period: re-weight every balance cluster from measured load."""
        now = self.ctx.clock()
        members, macs, routers = self._sample()
        prev = self._prev_sample
        self._prev_sample = (now, members, {**macs, **{f"router:{k}": v for k, v in routers.items()}})
        if prev is None:
            return {"rebuilt": []}
        dt = now - prev[0]
        mrate = rates(prev[1], members, dt)
        allrate = rates(prev[2], self._prev_sample[2], dt)
        rebuilt = []
        for c in self.cfg.clusters:
            if c.mode != "balance":
                continue
            live = {m.server.name: float(m.server.capacity) for m in self.members.values()
                    if m.cluster.name == c.name and m.up}
            rate = {name: mrate.get(f"{c.name}/{name}", 0.0) for name in live}
            new = self.rebalancers[c.name].update(live, rate)
            old = {n: self.weights[c.name][n] for n in live}
            for n, w in new.items():
                self.weights[c.name][n] = w
            if self.rebalancers[c.name].changed(old, new):
                self._rebuild(c.name, reason="load")
                rebuilt.append(c.name)
        for p in self.cfg.router_pools:
            pool = self.pools[p.name]
            pool.set_loads({r.name: allrate.get(f"router:{r.name}", 0.0) for r in p.routers},
                           {m.server.mac: allrate.get(m.server.mac, 0.0) for m in self.members.values()
                            if m.cluster.router_pool == p.name})
        if self.cfg.router_pools:
            self._write_routers()
        return {"rebuilt": rebuilt}

    async def _rebalance_loop(self) -> None:
        interval = self.cfg.rebalance_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            try:
                self.rebalance()
            except (DataplaneError, OSError) as exc:
                self.log.error("flowswitch: rebalance failed: %s", exc)

    # ------------------------------------------------------------------ views

    def status(self) -> dict:
        if self.maps is None:
            return {"running": False}
        now = self.ctx.clock()
        clusters = []
        for c in self.cfg.clusters:
            cid = self.cluster_ids[c.name]
            table = self.tables.get(c.name)
            share = maglev.shares(table) if table is not None else {}
            servers = []
            for s in c.servers:
                m = self.members[f"{c.name}/{s.name}"]
                t = self.monitor.targets.get(f"server:{m.key}")
                entry = {
                    "name": s.name, "mac": s.mac, "port": s.port, "capacity": s.capacity, "id": m.sid,
                    "state": UP if m.up else DOWN,
                    "weight": round(self.weights[c.name][s.name], 3),
                    "table_share": round(share.get(m.sid, 0.0), 4),
                    "health": t.state.snapshot(now) if t else None,
                    **self.maps.server_counters(m.sid),
                }
                if c.name in self.avail:
                    entry["availability"] = self.avail[c.name].states[s.name]
                servers.append(entry)
            clusters.append({
                "name": c.name, "id": cid, "ip": c.ip, "vmac": c.vmac, "mode": c.mode,
                "primary": self.avail[c.name].primary if c.name in self.avail else None,
                "promotions": self.avail[c.name].promotions if c.name in self.avail else 0,
                "table": {"size": self.cfg.maglev_size, "half": self.maps.selected_half(cid),
                          "rebuilds": self.rebuilds.get(c.name, 0)},
                "servers": servers, **self.maps.cluster_counters(cid),
            })
        rc = self._router_cfg()
        pools = []
        for p in self.cfg.router_pools:
            pool = self.pools[p.name]
            cover = pool.cover()
            routers = []
            for r in pool.routers:
                cfg = rc[r.name][1]
                routers.append({
                    "name": r.name, "mac": cfg.mac, "ip": cfg.ip, "port": cfg.port,
                    "state": UP if r.up else DOWN, "covered_by": cover.get(r.name),
                    "servers": sum(1 for x in pool.assignment.values() if x == r.name),
                    **self.maps.router_counters(self.router_ids[r.name]),
                })
            pools.append({"name": p.name, "gateway_ip": p.gateway_ip, "select": p.select, "routers": routers,
                          "assignment": dict(sorted(pool.assignment.items()))})
        return {
            "running": self.started,
            "program": self.prog.status() if self.prog is not None else None,
            "clusters": clusters,
            "router_pools": pools,
            "stats": self.maps.stats(),
            "events": self.events[-20:],
        }

    def commands(self) -> dict:
        return {
            "show flowswitch": lambda _args: self.status(),
            "flowswitch rebalance": lambda _args: self.rebalance(),
        }


class FlowSwitchCollector:
    """Prometheus view of the flow switch: counters read from the per-CPU maps at scrape time."""

    def __init__(self, svc: FlowSwitchService):
        self.svc = svc

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        svc = self.svc
        if svc.maps is None:
            return
        pk = CounterMetricFamily("hitless_flowswitch_cluster_packets", "Packets per cluster", labels=["cluster", "direction"])
        by = CounterMetricFamily("hitless_flowswitch_cluster_bytes", "Bytes per cluster", labels=["cluster", "direction"])
        spk = CounterMetricFamily("hitless_flowswitch_server_packets", "Packets per server",
                                  labels=["cluster", "server", "direction"])
        sby = CounterMetricFamily("hitless_flowswitch_server_bytes", "Bytes per server",
                                  labels=["cluster", "server", "direction"])
        sup = GaugeMetricFamily("hitless_flowswitch_server_up", "1 when the server is operational",
                                labels=["cluster", "server"])
        swt = GaugeMetricFamily("hitless_flowswitch_server_weight", "Current Maglev weight", labels=["cluster", "server"])
        rpk = CounterMetricFamily("hitless_flowswitch_router_packets", "Packets per router",
                                  labels=["pool", "router", "direction"])
        rby = CounterMetricFamily("hitless_flowswitch_router_bytes", "Bytes per router",
                                  labels=["pool", "router", "direction"])
        rup = GaugeMetricFamily("hitless_flowswitch_router_up", "1 when the router is operational",
                                labels=["pool", "router"])
        ev = CounterMetricFamily("hitless_flowswitch_events", "Data-plane events (packets)", labels=["event"])
        rb = CounterMetricFamily("hitless_flowswitch_table_rebuilds", "Maglev table swaps", labels=["cluster"])
        for c in svc.cfg.clusters:
            cc = svc.maps.cluster_counters(svc.cluster_ids[c.name])
            for d in ("in", "out"):
                pk.add_metric([c.name, d], cc[d]["packets"])
                by.add_metric([c.name, d], cc[d]["bytes"])
            rb.add_metric([c.name], svc.rebuilds.get(c.name, 0))
            for s in c.servers:
                m = svc.members[f"{c.name}/{s.name}"]
                sc = svc.maps.server_counters(m.sid)
                for d in ("in", "out"):
                    spk.add_metric([c.name, s.name, d], sc[d]["packets"])
                    sby.add_metric([c.name, s.name, d], sc[d]["bytes"])
                sup.add_metric([c.name, s.name], 1 if m.up else 0)
                swt.add_metric([c.name, s.name], svc.weights[c.name][s.name])
        for p in svc.cfg.router_pools:
            for r in p.routers:
                rc = svc.maps.router_counters(svc.router_ids[r.name])
                for d in ("in", "out"):
                    rpk.add_metric([p.name, r.name, d], rc[d]["packets"])
                    rby.add_metric([p.name, r.name, d], rc[d]["bytes"])
                rup.add_metric([p.name, r.name], 1 if svc.router_up[r.name] else 0)
        for name, v in svc.maps.stats().items():
            ev.add_metric([name], v["packets"])
        yield from (pk, by, spk, sby, sup, swt, rpk, rby, rup, ev, rb)

"""The `flowswitch:` section of agent.yml: clusters, servers, router pools and health checks.

Example:
    flowswitch:
      bridge: br0
      maglev_size: 65537          # prime; slots per cluster table
      conntrack_size: 262144      # LRU connection-table entries
      rebalance_interval: 5s      # re-weight from measured load ("optimal workload")
      health: {type: arp, interval: 1s, timeout: 500ms, rise: 2, fall: 3}
      router_pools:
        - name: core
          gateway_ip: 10.10.0.1   # the default gateway the servers ARP for
          select: round-robin     # or load
          routers:
            - {name: r1, mac: "02:00:00:00:00:01", ip: 10.10.0.2, port: eth1}
      clusters:
        - name: web
          ip: 10.10.0.100
          vmac: "02:fe:00:00:00:01"
          mode: balance           # or availability
          router_pool: core
          health: {type: tcp, port: 80}
          servers:
            - {name: s1, mac: "02:00:00:00:01:01", port: eth3, capacity: 100, address: 10.10.0.11}

Rules beyond types (seed 004 + spec/flow-switch.md):
- no two servers of one cluster on one port (the seed's broadcast isolation);
- a MAC names one device: it cannot be two different servers, a server and a router,
  or a virtual MAC; the same server may serve several clusters (same name, MAC, port);
- names are unique: clusters, pools, routers, and servers within a cluster.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from hitless.config.schema import Section
from hitless.flowswitch.maglev import is_prime

# Compile-time limits of flowswitch.c (the map sizes); the config rejects more.
MAX_CLUSTERS = 16
MAX_SERVERS = 256   # (cluster, server) memberships
MAX_ROUTERS = 64
MAX_PORTS = 64
MAGLEV_MIN, MAGLEV_MAX = 13, 262139


@dataclass(frozen=True)
class DampingSpec:
    """Flap damping (RFC 2439 style): each up->down adds `penalty`, halving every `half_life`."""

    half_life_ms: int = 30_000
    penalty: int = 1000
    suppress: int = 2500
    reuse: int = 750
    max_suppress_ms: int = 300_000


@dataclass(frozen=True)
class HealthSpec:
    type: str = "arp"          # arp | icmp | tcp
    port: int | None = None    # tcp only
    interval_ms: int = 1000
    timeout_ms: int = 500
    rise: int = 2
    fall: int = 3
    damping: DampingSpec | None = field(default_factory=DampingSpec)


@dataclass(frozen=True)
class ServerCfg:
    name: str
    mac: str
    port: str
    capacity: int = 1
    address: str | None = None  # a unique address for ICMP/TCP checks (all share the cluster IP)


@dataclass(frozen=True)
class ClusterCfg:
    name: str
    ip: str
    vmac: str
    mode: str                  # balance | availability
    primary: str | None        # availability mode: the first primary
    router_pool: str | None
    health: HealthSpec
    servers: tuple[ServerCfg, ...]


@dataclass(frozen=True)
class RouterCfg:
    name: str
    mac: str
    ip: str
    port: str


@dataclass(frozen=True)
class PoolCfg:
    name: str
    gateway_ip: str
    select: str                # round-robin | load
    health: HealthSpec
    routers: tuple[RouterCfg, ...]


@dataclass(frozen=True)
class FlowSwitchConfig:
    file: str
    bridge: str
    ports: tuple[str, ...]
    maglev_size: int
    conntrack_size: int
    rebalance_interval_ms: int
    rebalance_threshold: float
    source_ip: str | None
    clusters: tuple[ClusterCfg, ...]
    router_pools: tuple[PoolCfg, ...]

    def pool(self, name: str) -> PoolCfg:
        return next(p for p in self.router_pools if p.name == name)


_HEALTH_KEYS = {"type", "port", "interval", "timeout", "rise", "fall", "damping"}


def _damping(sec: Section, name: str, base: DampingSpec | None) -> DampingSpec | None:
    raw = sec.raw(name, None)
    if raw is False:
        return None
    if raw is None or raw is True:
        return base if base is not None else DampingSpec()
    d = sec.section(name)
    d.reject_unknown({"half_life", "penalty", "suppress", "reuse", "max_suppress"})
    b = base or DampingSpec()
    out = DampingSpec(
        half_life_ms=d.duration_ms("half_life", b.half_life_ms, lo=100),
        penalty=d.int("penalty", b.penalty, lo=1, hi=100_000),
        suppress=d.int("suppress", b.suppress, lo=1, hi=1_000_000),
        reuse=d.int("reuse", b.reuse, lo=0, hi=1_000_000),
        max_suppress_ms=d.duration_ms("max_suppress", b.max_suppress_ms, lo=0),
    )
    if out.reuse >= out.suppress:
        raise d.error("reuse", f"must be below suppress ({out.suppress}), got {out.reuse}")
    return out


def _health(parent: Section, name: str, base: HealthSpec) -> HealthSpec:
    if name not in parent:
        return base
    h = parent.section(name)
    h.reject_unknown(_HEALTH_KEYS)
    kind = h.str("type", base.type, choices=("arp", "icmp", "tcp"))
    port = h.int("port", base.port, lo=1, hi=65535) if ("port" in h or base.port is not None) else None
    if kind == "tcp" and port is None:
        raise h.error("port", "required for a tcp health check")
    spec = HealthSpec(
        type=kind,
        port=port,
        interval_ms=h.duration_ms("interval", base.interval_ms, lo=10, hi=3_600_000),
        timeout_ms=h.duration_ms("timeout", base.timeout_ms, lo=1, hi=60_000),
        rise=h.int("rise", base.rise, lo=1, hi=100),
        fall=h.int("fall", base.fall, lo=1, hi=100),
        damping=_damping(h, "damping", base.damping),
    )
    if spec.timeout_ms > spec.interval_ms:
        raise h.error("timeout", f"must not exceed interval ({spec.interval_ms} ms), got {spec.timeout_ms} ms")
    return spec


class _Devices:
    """One registry of MACs and names, so duplicates are caught across the whole section."""

    def __init__(self):
        self.by_mac: dict[str, tuple[str, str, str, str]] = {}  # mac -> (kind, name, port, key)

    def claim(self, sec: Section, key: str, mac: str, kind: str, name: str, port: str) -> None:
        prev = self.by_mac.get(mac)
        if prev is None:
            self.by_mac[mac] = (kind, name, port, sec.key(key))
            return
        pkind, pname, pport, pkey = prev
        # The same server in another cluster is fine: same device, same port, same name.
        if kind == pkind == "server" and pname == name and pport == port:
            return
        raise sec.error(key, f"duplicate MAC {mac}: already used by {pkind} {pname!r} at {pkey}")


def _router(r: Section, devices: _Devices) -> RouterCfg:
    r.reject_unknown({"name", "mac", "ip", "port"})
    cfg = RouterCfg(name=r.str("name"), mac=r.mac("mac"), ip=r.ipv4("ip"), port=r.str("port"))
    devices.claim(r, "mac", cfg.mac, "router", cfg.name, cfg.port)
    return cfg


def _server(s: Section, devices: _Devices, health: HealthSpec) -> ServerCfg:
    s.reject_unknown({"name", "mac", "port", "capacity", "address"})
    cfg = ServerCfg(
        name=s.str("name"),
        mac=s.mac("mac"),
        port=s.str("port"),
        capacity=s.int("capacity", 1, lo=1, hi=1_000_000),
        address=s.ipv4("address") if "address" in s else None,
    )
    if health.type in ("icmp", "tcp") and cfg.address is None:
        raise s.error("address", f"required for a {health.type} health check (servers share the cluster IP)")
    devices.claim(s, "mac", cfg.mac, "server", cfg.name, cfg.port)
    return cfg


def parse_config(section: Section) -> FlowSwitchConfig:
    section.reject_unknown({
        "bridge", "ports", "maglev_size", "conntrack_size", "rebalance_interval",
        "rebalance_threshold", "source_ip", "health", "router_pools", "clusters",
    })
    maglev_size = section.int("maglev_size", 65537, lo=MAGLEV_MIN, hi=MAGLEV_MAX)
    if not is_prime(maglev_size):
        raise section.error("maglev_size", f"must be a prime number, got {maglev_size}")
    base_health = _health(section, "health", HealthSpec())
    devices = _Devices()

    pools: list[PoolCfg] = []
    router_names: set[str] = set()
    for p in section.sections("router_pools", []):
        p.reject_unknown({"name", "gateway_ip", "select", "health", "routers"})
        name = p.str("name")
        if any(x.name == name for x in pools):
            raise p.error("name", f"duplicate router pool name {name!r}")
        health = _health(p, "health", base_health)
        if health.type == "tcp":
            raise p.error("health.type", "routers are checked by arp or icmp")
        routers = []
        for r in p.sections("routers"):
            rc = _router(r, devices)
            if rc.name in router_names:
                raise r.error("name", f"duplicate router name {rc.name!r}")
            router_names.add(rc.name)
            routers.append(rc)
        if not routers:
            raise p.error("routers", "a pool needs at least one router")
        pools.append(PoolCfg(
            name=name,
            gateway_ip=p.ipv4("gateway_ip"),
            select=p.str("select", "round-robin", choices=("round-robin", "load")),
            health=health,
            routers=tuple(routers),
        ))

    clusters: list[ClusterCfg] = []
    members = 0
    for c in section.sections("clusters"):
        c.reject_unknown({"name", "ip", "vmac", "mode", "primary", "router_pool", "health", "servers"})
        name = c.str("name")
        if any(x.name == name for x in clusters):
            raise c.error("name", f"duplicate cluster name {name!r}")
        ip = c.ipv4("ip")
        if any(x.ip == ip for x in clusters):
            raise c.error("ip", f"cluster IP {ip} is already used by another cluster")
        if any(p.gateway_ip == ip for p in pools):
            raise c.error("ip", f"cluster IP {ip} is a router pool's gateway IP")
        vmac = c.mac("vmac")
        if int(vmac.split(":")[0], 16) & 1:
            raise c.error("vmac", f"must be a unicast MAC, got {vmac}")
        devices.claim(c, "vmac", vmac, "cluster", name, "")
        health = _health(c, "health", base_health)
        pool = c.str("router_pool", None) if "router_pool" in c else None
        if pool is not None and not any(p.name == pool for p in pools):
            raise c.error("router_pool", f"no router pool named {pool!r}")
        servers: list[ServerCfg] = []
        for s in c.sections("servers"):
            sc = _server(s, devices, health)
            for other in servers:
                if other.name == sc.name:
                    raise s.error("name", f"duplicate server name {sc.name!r} in cluster {name!r}")
                if other.mac == sc.mac:
                    raise s.error("mac", f"duplicate MAC {sc.mac} in cluster {name!r}")
                if other.port == sc.port:
                    raise s.error("port", f"servers {other.name!r} and {sc.name!r} of cluster {name!r} "
                                          f"are both on port {sc.port} (one server per port per cluster)")
            servers.append(sc)
        if not servers:
            raise c.error("servers", "a cluster needs at least one server")
        if len(servers) >= maglev_size:
            raise c.error("servers", f"{len(servers)} servers need a maglev_size above that")
        mode = c.str("mode", "balance", choices=("balance", "availability"))
        primary = None
        if mode == "availability":
            primary = c.str("primary", servers[0].name)
            if not any(s.name == primary for s in servers):
                raise c.error("primary", f"no server named {primary!r} in cluster {name!r}")
        elif "primary" in c:
            raise c.error("primary", "only meaningful with mode: availability")
        members += len(servers)
        clusters.append(ClusterCfg(name, ip, vmac, mode, primary, pool, health, tuple(servers)))
    if not clusters:
        raise section.error("clusters", "at least one cluster is required")
    if len(clusters) > MAX_CLUSTERS:
        raise section.error("clusters", f"at most {MAX_CLUSTERS} clusters, got {len(clusters)}")
    if members > MAX_SERVERS:
        raise section.error("clusters", f"at most {MAX_SERVERS} cluster memberships, got {members}")
    if len(router_names) > MAX_ROUTERS:
        raise section.error("router_pools", f"at most {MAX_ROUTERS} routers, got {len(router_names)}")

    # A server name used in several clusters must be one device (same MAC and port).
    seen: dict[str, ServerCfg] = {}
    for ci, cl in enumerate(clusters):
        for si, s in enumerate(cl.servers):
            prev = seen.setdefault(s.name, s)
            if (prev.mac, prev.port) != (s.mac, s.port):
                raise section.error(f"clusters[{ci}].servers[{si}].name",
                                    f"server name {s.name!r} is already used for another device "
                                    f"({prev.mac} on {prev.port})")
    # Router ports and server ports must differ: the isolation rules depend on the port role.
    server_ports = {s.port for cl in clusters for s in cl.servers}
    for pi, p in enumerate(pools):
        for ri, r in enumerate(p.routers):
            if r.port in server_ports:
                raise section.error(f"router_pools[{pi}].routers[{ri}].port",
                                    f"port {r.port} is also a server port")

    default_ports = sorted(server_ports | {r.port for p in pools for r in p.routers})
    ports = tuple(section.strings("ports", default_ports))
    if len(set(ports)) != len(ports):
        raise section.error("ports", "duplicate port names")
    missing = [p for p in default_ports if p not in ports]
    if missing:
        raise section.error("ports", f"must include every server and router port; missing {', '.join(missing)}")
    if len(ports) > MAX_PORTS:
        raise section.error("ports", f"at most {MAX_PORTS} ports, got {len(ports)}")
    threshold = section.raw("rebalance_threshold", 0.1)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise section.error("rebalance_threshold", f"must be a number in 0..1, got {threshold!r}")
    source_ip = section.ipv4("source_ip") if "source_ip" in section else None
    if source_ip is not None and ipaddress.IPv4Address(source_ip) in {ipaddress.IPv4Address(c.ip) for c in clusters}:
        raise section.error("source_ip", "must not be a cluster IP")
    return FlowSwitchConfig(
        file=section.file,
        bridge=section.str("bridge", "br0"),
        ports=ports,
        maglev_size=maglev_size,
        conntrack_size=section.int("conntrack_size", 262144, lo=1024, hi=16_777_216),
        rebalance_interval_ms=section.duration_ms("rebalance_interval", 5000, lo=100, hi=3_600_000),
        rebalance_threshold=float(threshold),
        source_ip=source_ip,
        clusters=tuple(clusters),
        router_pools=tuple(pools),
    )

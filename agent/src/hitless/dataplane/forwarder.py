"""The L2 forwarder role: static destination-MAC rewrites with an egress port, in XDP.

Configuration (`forwarder:` section):
    interfaces: [p1, p2]            # where xdp_l2fwd is attached (ingress)
    rules:
      - dst_mac: 02:00:00:00:01:01   # frames to this MAC...
        new_dst_mac: 02:00:00:00:02:01   # ...leave with this destination MAC
        egress: p2                       # ...out of this interface (devmap redirect)
Frames that match no rule go to the kernel (and the bridge) untouched.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from hitless.agentd.service import AgentContext
from hitless.config.schema import Section, mac_bytes
from hitless.dataplane.maps import read_counters, sync_map

ENTRY = struct.Struct("<6sHII")  # struct l2fwd_entry
U32 = struct.Struct("<I")
STATS = ("rx", "forwarded", "passed", "no_port")  # enum l2fwd_stat


@dataclass(frozen=True)
class ForwardRule:
    dst_mac: str
    new_dst_mac: str
    egress: str


@dataclass(frozen=True)
class ForwarderConfig:
    interfaces: tuple[str, ...]
    rules: tuple[ForwardRule, ...]


def parse_config(sec: Section) -> ForwarderConfig:
    sec.reject_unknown({"interfaces", "rules"})
    interfaces = sec.strings("interfaces")
    if not interfaces:
        raise sec.error("interfaces", "needs at least one interface")
    if len(set(interfaces)) != len(interfaces):
        raise sec.error("interfaces", "lists an interface twice")
    rules, seen = [], set()
    for rule in sec.sections("rules", []):
        rule.reject_unknown({"dst_mac", "new_dst_mac", "egress"})
        r = ForwardRule(rule.mac("dst_mac"), rule.mac("new_dst_mac"), rule.str("egress"))
        if r.dst_mac in seen:
            raise rule.error("dst_mac", f"{r.dst_mac} already has a rule")
        seen.add(r.dst_mac)
        rules.append(r)
    return ForwarderConfig(tuple(interfaces), tuple(rules))


def port_slots(rules: tuple[ForwardRule, ...]) -> dict[str, int]:
    """Egress interface -> devmap slot, stable for a given set of egress names."""
    return {name: slot for slot, name in enumerate(sorted({r.egress for r in rules}), start=1)}


def desired_tables(cfg: ForwarderConfig, ifindex=socket.if_nametoindex) -> tuple[dict, dict]:
    slots = port_slots(cfg.rules)
    ports = {U32.pack(slot): U32.pack(ifindex(name)) for name, slot in slots.items()}
    table = {mac_bytes(r.dst_mac) + b"\0\0": ENTRY.pack(mac_bytes(r.new_dst_mac), 0, slots[r.egress], 0)
             for r in cfg.rules}
    return table, ports


class ForwarderService:
    name = "forwarder"

    def __init__(self, cfg: ForwarderConfig, ctx: AgentContext):
        self.cfg, self.ctx, self.prog = cfg, ctx, None
        self.last_sync: dict[str, int] = {}

    async def start(self) -> None:
        self.prog = self.ctx.dataplane.ensure_program("l2fwd", list(self.cfg.interfaces))
        table, ports = desired_tables(self.cfg)
        # Ports first: a rule must never point at a slot that is not there yet.
        p = sync_map(self.prog.map("l2fwd_ports"), ports)
        t = sync_map(self.prog.map("l2fwd_table"), table)
        self.last_sync = {"ports_written": p.writes, "rules_written": t.writes}
        self.ctx.log.info("forwarder: %d rules, %d ports; wrote %d rule and %d port entries",
                          len(table), len(ports), t.writes, p.writes)

    async def stop(self) -> None:
        # Deliberately leaves the program attached and the maps pinned.
        self.prog = None

    def counters(self) -> dict[str, dict[str, int]]:
        stats = self.prog.map("l2fwd_stats")
        out = {}
        for idx, name in enumerate(STATS):
            packets, bytes_ = read_counters(stats, U32.pack(idx))
            out[name] = {"packets": packets, "bytes": bytes_}
        return out

    def status(self) -> dict:
        if self.prog is None:
            return {"running": False}
        return {"running": True, "program": self.prog.status(), "rules": len(self.cfg.rules),
                "last_sync": self.last_sync, "counters": self.counters()}

    def commands(self) -> dict:
        return {"show forwarder": lambda _args: self.status()}

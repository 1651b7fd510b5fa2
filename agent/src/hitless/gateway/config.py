"""The `gateway:` section of agent.yml: GLBP groups, timers, weighting, tracking, auth.

    gateway:
      groups:
        - group: 1                     # 0..1023
          interface: eth0              # the LAN interface the hosts are on
          vip: 10.0.0.1
          priority: 100                # AVG priority 1..255
          preempt: false               # AVG preemption (off, as seed 003 and Cisco)
          preempt_delay: 0s
          timers: {hello: 3s, hold: 10s, redirect: 600s, timeout: 4h}   # ms or s
          forwarder_preempt: true
          forwarder_preempt_delay: 30s
          load_balancing: round-robin  # round-robin | weighted | host-dependent
          weighting: {maximum: 100, lower: 1, upper: 100}
          track:
            - {interface: eth1, decrement: 50}
            - {route: 0.0.0.0/0, decrement: 10}
          authentication: {type: md5, key: secret}   # none | text | md5
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from hitless.config.schema import Section
from hitless.errors import ConfigError
from hitless.wire.glbp import MAX_GROUP

LB_MODES = ("round-robin", "weighted", "host-dependent")
AUTH_TYPES = ("none", "text", "md5")
# Wire limits: redirect and timeout travel in seconds in 16 bits; hello/hold in ms in 32.
MAX_REDIRECT_MS = 3600 * 1000
MAX_TIMEOUT_MS = 64800 * 1000


@dataclass(frozen=True)
class Track:
    kind: str          # "interface" | "route"
    target: str        # interface name or IPv4 prefix
    decrement: int


@dataclass(frozen=True)
class GroupConfig:
    group: int
    interface: str
    vip: str
    priority: int = 100
    preempt: bool = False
    preempt_delay_ms: int = 0
    hello_ms: int = 3000
    hold_ms: int = 10000
    redirect_ms: int = 600_000
    timeout_ms: int = 14_400_000
    forwarder_preempt: bool = True
    forwarder_preempt_delay_ms: int = 30_000
    load_balancing: str = "round-robin"
    weight_max: int = 100
    weight_lower: int = 1
    weight_upper: int = 100
    track: tuple[Track, ...] = ()
    auth_type: str = "none"
    auth_key: str = ""


@dataclass(frozen=True)
class GatewayConfig:
    groups: tuple[GroupConfig, ...] = field(default_factory=tuple)


GROUP_KEYS = {"group", "interface", "vip", "priority", "preempt", "preempt_delay", "timers",
              "forwarder_preempt", "forwarder_preempt_delay", "load_balancing", "weighting",
              "track", "authentication"}


def _group(s: Section) -> GroupConfig:
    s.reject_unknown(GROUP_KEYS)
    t = s.section("timers", {})
    t.reject_unknown({"hello", "hold", "redirect", "timeout"})
    hello = t.duration_ms("hello", "3s", lo=10, hi=60_000)
    hold = t.duration_ms("hold", "10s", lo=30, hi=180_000)
    if hold <= hello:
        raise t.error("hold", f"must be longer than hello ({hello} ms), got {hold} ms")
    redirect = t.duration_ms("redirect", "600s", lo=0, hi=MAX_REDIRECT_MS)
    timeout = t.duration_ms("timeout", "14400s", lo=1, hi=MAX_TIMEOUT_MS)
    if timeout <= redirect:
        raise t.error("timeout", f"must be longer than redirect ({redirect} ms), got {timeout} ms")

    w = s.section("weighting", {})
    w.reject_unknown({"maximum", "lower", "upper"})
    wmax = w.int("maximum", 100, lo=1, hi=254)
    upper = w.int("upper", wmax, lo=1, hi=wmax)
    lower = w.int("lower", 1, lo=1, hi=upper)
    if "lower" in w and "upper" in w and lower >= upper:
        raise w.error("lower", f"must be below upper ({upper}), got {lower}")

    tracks = []
    for ts in s.sections("track", []):
        ts.reject_unknown({"interface", "route", "decrement"})
        if ("interface" in ts) == ("route" in ts):
            raise ts.error("interface", "give exactly one of interface or route")
        dec = ts.int("decrement", 10, lo=1, hi=254)
        if "interface" in ts:
            tracks.append(Track("interface", ts.str("interface"), dec))
        else:
            try:
                net = ipaddress.IPv4Network(ts.str("route"), strict=False)
            except ValueError:
                raise ts.error("route", f"not an IPv4 prefix: {ts.raw('route')!r}") from None
            tracks.append(Track("route", str(net), dec))

    a = s.section("authentication", {})
    a.reject_unknown({"type", "key"})
    atype = a.str("type", "none", choices=AUTH_TYPES)
    key = ""
    if atype != "none":
        key = a.str("key")
        if len(key.encode()) > (16 if atype == "text" else 64):
            raise a.error("key", "is too long (text: 16 bytes, md5: 64 bytes)")

    vip = s.ipv4("vip")
    if ipaddress.IPv4Address(vip).is_multicast or ipaddress.IPv4Address(vip).is_unspecified:
        raise s.error("vip", f"must be a unicast address, got {vip}")
    return GroupConfig(
        group=s.int("group", lo=0, hi=MAX_GROUP),
        interface=s.str("interface"),
        vip=vip,
        priority=s.int("priority", 100, lo=1, hi=255),
        preempt=s.bool("preempt", False),
        preempt_delay_ms=s.duration_ms("preempt_delay", 0, lo=0, hi=3_600_000),
        hello_ms=hello, hold_ms=hold, redirect_ms=redirect, timeout_ms=timeout,
        forwarder_preempt=s.bool("forwarder_preempt", True),
        forwarder_preempt_delay_ms=s.duration_ms("forwarder_preempt_delay", "30s", lo=0, hi=3_600_000),
        load_balancing=s.str("load_balancing", "round-robin", choices=LB_MODES),
        weight_max=wmax, weight_lower=lower, weight_upper=upper,
        track=tuple(tracks), auth_type=atype, auth_key=key,
    )


def parse_config(section: Section) -> GatewayConfig:
    section.reject_unknown({"groups"})
    groups: list[GroupConfig] = []
    seen: dict[tuple[str, int], int] = {}
    for i, gs in enumerate(section.sections("groups")):
        g = _group(gs)
        if (g.interface, g.group) in seen:
            raise ConfigError(section.file, f"{section.key('groups')}[{i}].group",
                              f"group {g.group} on {g.interface} is already groups[{seen[(g.interface, g.group)]}]")
        seen[(g.interface, g.group)] = i
        groups.append(g)
    if not groups:
        raise section.error("groups", "needs at least one group")
    return GatewayConfig(tuple(groups))

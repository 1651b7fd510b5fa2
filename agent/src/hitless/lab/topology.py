"""A lab topology: nodes with interfaces, bridges, addresses and routes, wired by veth links.

Parsed from YAML (or a dict) and validated up front, so `up` never fails half-way on a typo.
Every interface a link names exists in its node; interfaces and bridges without a MAC get a
stable derived one (a hash of node and interface name), so a rebuilt lab looks the same.

YAML shape (see topologies/default.yml for a full example):

    name: pair
    ipv6: false                 # default: IPv6 off on lab interfaces (no DAD/RS/MLD noise)
    nodes:
      h1:
        type: host              # host | router | switch | server
        kind: netns             # netns (default) | container
        interfaces:
          eth0: {mac: "02:00:00:00:00:01", addresses: [10.0.0.1/24]}
        routes: [{to: default, via: 10.0.0.254}]
        sysctls: {net.ipv4.conf.all.arp_ignore: 1}
      sw:
        type: switch            # a switch gets bridge br0 over all its ports unless it says
        bridges:
          br0: {ports: [p1, p2]}
    links:
      - [h1:eth0, sw:p1]
"""
from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from hitless.config.schema import Section
from hitless.errors import ConfigError, LabError

NODE_TYPES = ("host", "router", "switch", "server")
NODE_KINDS = ("netns", "container")
IFNAMSIZ = 15  # Linux interface names are at most 15 characters
_IFNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_NODE_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
RESERVED_PREFIXES = {"ssh"}  # /var/lib/hitless-lab/ssh is the lab key, not a lab


@dataclass
class Interface:
    name: str
    mac: str
    addresses: list[str] = field(default_factory=list)
    mtu: int | None = None
    peer: str | None = None  # "node:ifname" at the other end of the veth; None for bridges
    bridge: str | None = None  # the bridge this port is enslaved to, if any


@dataclass
class Bridge:
    name: str
    mac: str
    ports: list[str]
    addresses: list[str] = field(default_factory=list)


@dataclass
class Route:
    to: str
    via: str | None = None
    dev: str | None = None


@dataclass
class Node:
    name: str
    type: str
    kind: str
    interfaces: dict[str, Interface] = field(default_factory=dict)
    bridges: dict[str, Bridge] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)

    @property
    def is_container(self) -> bool:
        return self.kind == "container"


@dataclass
class Link:
    a: tuple[str, str]  # (node, ifname)
    b: tuple[str, str]


@dataclass
class Topology:
    name: str
    source: str
    nodes: dict[str, Node]
    links: list[Link]
    ipv6: bool = False
    raw: dict = field(default_factory=dict)

    def force_plain(self) -> None:
        """Makes every node a plain namespace (the --plain flag, HITLESS_LAB_PLAIN=1)."""
        for node in self.nodes.values():
            node.kind = "netns"


def derived_mac(*parts: str) -> str:
    """A stable locally-administered unicast MAC (02:...) for names without one in YAML."""
    h = hashlib.sha256("/".join(parts).encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in h[:5])


def check_prefix(prefix: str) -> str:
    # No '-' in a prefix: namespaces are "{prefix}-{node}", so "a" and "a-b" would collide.
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        raise LabError(f"lab prefix {prefix!r} must be 1-10 characters of [a-z0-9], starting with a letter")
    if prefix in RESERVED_PREFIXES:
        raise LabError(f"lab prefix {prefix!r} is reserved (/var/lib/hitless-lab/{prefix} holds lab-wide files)")
    return prefix


def check_ifname(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise LabError(f"{where}: interface name must be a non-empty string, got {name!r}")
    if len(name) > IFNAMSIZ:
        raise LabError(f"{where}: interface name {name!r} is {len(name)} characters; "
                       f"Linux allows at most {IFNAMSIZ}")
    if not _IFNAME_RE.match(name) or name in (".", ".."):
        raise LabError(f"{where}: interface name {name!r} may use only letters, digits, '_', '.', '-'")
    if name == "lo":
        raise LabError(f"{where}: 'lo' is the loopback, not a lab interface")
    return name


def _addresses(sec: Section, name: str) -> list[str]:
    out = []
    for i, a in enumerate(sec.list(name, [])):
        try:
            out.append(str(ipaddress.ip_interface(a)))
        except (ValueError, TypeError):
            raise ConfigError(sec.file, f"{sec.key(name)}[{i}]", f"not an address/prefix: {a!r}") from None
    return out


def _endpoint(text: Any, file: str, key: str) -> tuple[str, str]:
    if not isinstance(text, str) or text.count(":") != 1:
        raise ConfigError(file, key, f"must be 'node:interface', got {text!r}")
    node, ifname = text.split(":")
    return node, ifname


def _parse_node(name: str, sec: Section) -> Node:
    sec.reject_unknown({"type", "kind", "interfaces", "bridges", "routes", "sysctls"})
    node = Node(name=name, type=sec.str("type", choices=NODE_TYPES),
                kind=sec.str("kind", "netns", choices=NODE_KINDS))
    ifs = sec.section("interfaces", {})
    for ifname in ifs.data:
        check_ifname(ifname, f"{sec.file}: {ifs.key(str(ifname))}")
        isec = ifs.section(ifname)
        isec.reject_unknown({"mac", "addresses", "mtu"})
        node.interfaces[ifname] = Interface(
            name=ifname,
            mac=isec.mac("mac") if "mac" in isec else derived_mac(name, ifname),
            addresses=_addresses(isec, "addresses"),
            mtu=isec.int("mtu", None, lo=68, hi=65535) if isec.raw("mtu", None) is not None else None)
    brs = sec.section("bridges", {})
    for brname in brs.data:
        check_ifname(brname, f"{sec.file}: {brs.key(str(brname))}")
        bsec = brs.section(brname)
        bsec.reject_unknown({"mac", "ports", "addresses"})
        node.bridges[brname] = Bridge(
            name=brname,
            mac=bsec.mac("mac") if "mac" in bsec else derived_mac(name, brname),
            ports=bsec.strings("ports", []),
            addresses=_addresses(bsec, "addresses"))
    for rsec in sec.sections("routes", []):
        rsec.reject_unknown({"to", "via", "dev"})
        to = rsec.str("to")
        if to != "default":
            try:
                to = str(ipaddress.ip_network(to, strict=False))
            except ValueError:
                raise rsec.error("to", f"not 'default' or a prefix: {to!r}") from None
        node.routes.append(Route(to=to, via=rsec.ipv4("via") if "via" in rsec else None,
                                 dev=rsec.str("dev") if "dev" in rsec else None))
    sysctls = sec.section("sysctls", {})
    for k, v in sysctls.data.items():
        if not isinstance(k, str) or not re.match(r"^[a-z0-9_.-]+$", k) or isinstance(v, (dict, list)):
            raise sysctls.error(str(k), "sysctls map dotted names to scalar values")
        node.sysctls[k] = str(int(v) if isinstance(v, bool) else v)
    return node


def _parse(data: Any, source: str) -> Topology:
    top = Section(data, source)
    top.reject_unknown({"name", "description", "ipv6", "nodes", "links"})
    nodes_sec = top.section("nodes")
    if not nodes_sec.data:
        raise top.error("nodes", "a topology needs at least one node")
    nodes: dict[str, Node] = {}
    for name in nodes_sec.data:
        if not isinstance(name, str) or not _NODE_RE.match(name):
            raise nodes_sec.error(str(name), "node names are 1-20 characters of [a-z0-9-], starting with a letter")
        nodes[name] = _parse_node(name, nodes_sec.section(name))

    links: list[Link] = []
    used: dict[tuple[str, str], str] = {}
    for i, item in enumerate(top.list("links", [])):
        key = f"links[{i}]"
        if not isinstance(item, list) or len(item) != 2:
            raise ConfigError(source, key, "a link is a list of two 'node:interface' endpoints")
        ends = [_endpoint(e, source, f"{key}[{j}]") for j, e in enumerate(item)]
        for j, (node, ifname) in enumerate(ends):
            if node not in nodes:
                raise ConfigError(source, f"{key}[{j}]", f"unknown node {node!r}")
            check_ifname(ifname, f"{source}: {key}[{j}]")
            if (node, ifname) in used:
                raise ConfigError(source, f"{key}[{j}]", f"{node}:{ifname} is already used by {used[(node, ifname)]}")
            if ifname in nodes[node].bridges:
                raise ConfigError(source, f"{key}[{j}]", f"{node}:{ifname} is a bridge, not a port")
            used[(node, ifname)] = key
        if ends[0] == ends[1]:
            raise ConfigError(source, key, "a link needs two different endpoints")
        for (node, ifname), other in ((ends[0], ends[1]), (ends[1], ends[0])):
            iface = nodes[node].interfaces.setdefault(
                ifname, Interface(name=ifname, mac=derived_mac(node, ifname)))
            iface.peer = f"{other[0]}:{other[1]}"
        links.append(Link(a=ends[0], b=ends[1]))

    for node in nodes.values():
        for ifname, iface in node.interfaces.items():
            if iface.peer is None:
                raise ConfigError(source, f"nodes.{node.name}.interfaces.{ifname}",
                                  "no link in `links` uses this interface")
        if node.type == "switch" and not node.bridges:
            # A switch bridges all its ports by default, so non-XDP frames still flow.
            node.bridges["br0"] = Bridge(name="br0", mac=derived_mac(node.name, "br0"),
                                         ports=sorted(node.interfaces))
        for br in node.bridges.values():
            for port in br.ports:
                if port not in node.interfaces:
                    raise ConfigError(source, f"nodes.{node.name}.bridges.{br.name}.ports",
                                      f"{port!r} is not a linked interface of {node.name}")
                if node.interfaces[port].bridge:
                    raise ConfigError(source, f"nodes.{node.name}.bridges.{br.name}.ports",
                                      f"{port!r} is already a port of {node.interfaces[port].bridge}")
                node.interfaces[port].bridge = br.name
        for r in node.routes:
            if r.dev and r.dev not in node.interfaces and r.dev not in node.bridges:
                raise ConfigError(source, f"nodes.{node.name}.routes", f"unknown dev {r.dev!r}")
        macs = [i.mac for i in node.interfaces.values()] + [b.mac for b in node.bridges.values()]
        for mac in macs:
            if int(mac.split(":")[0], 16) & 1:
                raise ConfigError(source, f"nodes.{node.name}", f"{mac} is a multicast MAC")

    return Topology(name=top.str("name", source.rsplit("/", 1)[-1].removesuffix(".yml")),
                    source=source, nodes=nodes, links=links,
                    ipv6=top.bool("ipv6", False), raw=data)


def parse(data: Any, source: str = "<dict>") -> Topology:
    """Validates a topology mapping; every problem is a LabError naming file and key."""
    try:
        return _parse(data, source)
    except ConfigError as exc:
        raise LabError(str(exc)) from exc


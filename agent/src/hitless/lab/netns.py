"""Building blocks of a plain lab node: its network namespace, veth ends, bridges, addresses.

Every function converges: it looks at what exists and changes only what differs, so running
`up` twice leaves interfaces (and their ifindexes) untouched. Veth pairs are created directly
inside their two namespaces, so no temporary name ever appears in the root namespace.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from hitless.errors import LabError
from hitless.lab import sh
from hitless.lab.topology import Interface, Node, Topology


def exists(ns: str) -> bool:
    """True when /run/netns/NS is a live namespace (a mounted nsfs file, not a stale stub)."""
    p = sh.netns_path(ns)
    return os.path.exists(p) and os.path.ismount(p)


def list_prefixed(prefix: str) -> list[str]:
    """Names of the namespaces of lab `prefix`: "{prefix}-*" (a prefix never has '-')."""
    with contextlib.suppress(FileNotFoundError):
        return sorted(n for n in os.listdir(sh.NETNS_DIR) if n.startswith(prefix + "-"))
    return []


def ensure(ns: str) -> bool:
    """Creates the namespace if missing; True when it was created."""
    if exists(ns):
        return False
    p = Path(sh.netns_path(ns))
    if p.exists():  # an unmounted leftover of a crash: `ip netns add` would say "File exists"
        p.unlink()
    sh.run(["ip", "netns", "add", ns])
    return True


def delete(ns: str) -> None:
    if exists(ns):
        sh.run(["ip", "netns", "del", ns], check=False)
    p = Path(sh.netns_path(ns))
    if os.path.ismount(p):
        sh.run(["umount", "-l", str(p)], check=False)
    with contextlib.suppress(FileNotFoundError):
        p.unlink()
    if p.exists():
        raise LabError(f"cannot remove namespace {ns}")


def links(ns: str | None) -> dict[str, dict]:
    """`ip -d link` of a namespace, keyed by interface name."""
    return {d["ifname"]: d for d in sh.ip_json(["-d", "link", "show"], ns=ns)}


def base_sysctls(node: Node, ipv6: bool) -> dict[str, str]:
    """Namespace-wide settings; the `default.*` ones apply to interfaces created later."""
    out: dict[str, str] = {}
    if ipv6:
        # Keep IPv6 but silence duplicate-address detection and router solicitations.
        for scope in ("all", "default"):
            out[f"net.ipv6.conf.{scope}.accept_dad"] = "0"
            out[f"net.ipv6.conf.{scope}.dad_transmits"] = "0"
            out[f"net.ipv6.conf.{scope}.router_solicitations"] = "0"
            out[f"net.ipv6.conf.{scope}.accept_ra"] = "0"
    else:
        # No IPv6 at all: no link-local addresses, no MLD/RS/DAD frames to confuse XDP counters.
        for scope in ("all", "default"):
            out[f"net.ipv6.conf.{scope}.disable_ipv6"] = "1"
    if node.type == "router":
        out["net.ipv4.ip_forward"] = "1"
    out.update(node.sysctls)
    return out


def apply_sysctls(ns: str, values: dict[str, str]) -> None:
    if values:
        sh.run(["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in values.items())], ns=ns)


def _is_pair(ns_a: str, if_a: str, have_a: dict, ns_b: str, if_b: str, have_b: dict) -> bool:
    a, b = have_a.get(if_a), have_b.get(if_b)
    if not a or not b:
        return False
    kind = lambda d: d.get("linkinfo", {}).get("info_kind")  # noqa: E731
    return (kind(a) == "veth" and kind(b) == "veth"
            and a.get("link_index") == b["ifindex"] and b.get("link_index") == a["ifindex"]
            # A pair across namespaces shows the peer's namespace id; within one, none.
            and (a.get("link_netnsid") is None) == (ns_a == ns_b))


def ensure_veth(ns_a: str, a: Interface, ns_b: str, b: Interface,
                have_a: dict, have_b: dict) -> tuple[bool, bool]:
    """Creates the veth pair a<->b unless it already exists as such.

    Returns (created, deleted): deleted says a stale same-named interface was removed, which
    may have taken its veth peer elsewhere with it, so the caller must look again."""
    if _is_pair(ns_a, a.name, have_a, ns_b, b.name, have_b):
        return False, False
    deleted = False
    # A same-named interface that is not this pair (a crash mid-way, a changed topology) goes.
    for ns, name, have in ((ns_a, a.name, have_a), (ns_b, b.name, have_b)):
        if name in have:
            sh.run(["ip", "link", "del", name], ns=ns, check=False)
            deleted = True
    sh.run(["ip", "link", "add", a.name, "address", a.mac, "netns", ns_a, "type", "veth",
            "peer", "name", b.name, "address", b.mac, "netns", ns_b])
    return True, deleted


def configure_links(ns: str, node: Node) -> None:
    """MACs, MTUs, bridges, ports, addresses and 'up' for one node, in one `ip -batch`."""
    have = links(ns)
    cmds: list[str] = ["link set dev lo up"]
    for br in node.bridges.values():
        if br.name in have and have[br.name].get("linkinfo", {}).get("info_kind") != "bridge":
            cmds.append(f"link del dev {br.name}")
            have.pop(br.name)
        if br.name not in have:
            # STP off and no forward delay: ports forward at once; no snooping so multicast
            # (GLBP hellos, 224.0.0.102) is flooded like a plain hub would.
            cmds.append(f"link add name {br.name} address {br.mac} type bridge stp_state 0 "
                        f"forward_delay 0 mcast_snooping 0")
    for iface in node.interfaces.values():
        cmds.append(f"link set dev {iface.name} address {iface.mac}")
        if iface.mtu:
            cmds.append(f"link set dev {iface.name} mtu {iface.mtu}")
        if iface.bridge:
            cmds.append(f"link set dev {iface.name} master {iface.bridge}")
    for br in node.bridges.values():
        # The bridge would otherwise take the smallest port MAC, which changes as ports join.
        cmds.append(f"link set dev {br.name} address {br.mac}")
    for iface in list(node.interfaces.values()) + list(node.bridges.values()):
        for addr in iface.addresses:
            cmds.append(f"address replace {addr} dev {iface.name}")
        cmds.append(f"link set dev {iface.name} up")
    for r in node.routes:
        cmd = f"route replace {r.to}"
        if r.via:
            cmd += f" via {r.via}"
        if r.dev:
            cmd += f" dev {r.dev}"
        cmds.append(cmd)
    sh.run(["ip", "-batch", "-"], ns=ns, input="\n".join(cmds) + "\n")
    for iface in node.interfaces.values():
        # Native XDP_REDIRECT into a veth needs NAPI on the receiving end; since Linux 5.13
        # turning GRO on gives a veth NAPI without an XDP program of its own.
        # TX checksum offload off: a veth otherwise hands the peer a packet whose L4 checksum
        # is only "partial", trusted through skb metadata. XDP turns the packet into a bare
        # frame and that metadata is lost, so a redirected UDP/TCP packet would arrive with
        # a bad checksum and be dropped. A real NIC puts a full checksum on the wire anyway.
        sh.run(["ethtool", "-K", iface.name, "gro", "on", "tx", "off"], ns=ns)


def not_ready(ns: str, node: Node) -> list[str]:
    """Interfaces of the node that cannot pass traffic yet: not operationally up, or a bridge
    port not yet forwarding. Carrier changes reach the bridge through the kernel's linkwatch,
    which may lag up to a second behind `ip link set up`."""
    have = links(ns)
    out = []
    for name in [*node.interfaces, *node.bridges]:
        d = have.get(name)
        if not d or d.get("operstate") not in ("UP", "UNKNOWN"):
            out.append(name)
            continue
        slave = d.get("linkinfo", {}).get("info_slave_data", {})
        if name in node.interfaces and node.interfaces[name].bridge and slave.get("state") != "forwarding":
            out.append(name)
    return out


def wait_ready(prefix: str, topo: Topology, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(topo.nodes)
    while pending:
        pending = {n: node for n, node in pending.items() if not_ready(f"{prefix}-{n}", node)}
        if not pending:
            return
        if time.monotonic() > deadline:
            detail = "; ".join(f"{n}: {', '.join(not_ready(f'{prefix}-{n}', node))}" for n, node in pending.items())
            raise LabError(f"lab {prefix}: interfaces not up after {timeout:.0f}s: {detail}")
        time.sleep(0.05)


def ifindex(ns: str, ifname: str) -> int:
    info = sh.ip_json(["link", "show", "dev", ifname], ns=ns) if exists(ns) else []
    if not info:
        raise LabError(f"no interface {ifname} in namespace {ns}")
    return int(info[0]["ifindex"])


def build(prefix: str, topo: Topology, log=lambda msg: None) -> None:
    """Namespaces, sysctls, veth links, bridges and addresses for every node (idempotent)."""
    ns_of = {name: f"{prefix}-{name}" for name in topo.nodes}
    for name, node in topo.nodes.items():
        if ensure(ns_of[name]):
            log(f"lab: namespace {ns_of[name]} created")
        apply_sysctls(ns_of[name], base_sysctls(node, topo.ipv6))
    have = {name: links(ns_of[name]) for name in topo.nodes}
    for link in topo.links:
        (na, ia), (nb, ib) = link.a, link.b
        a, b = topo.nodes[na].interfaces[ia], topo.nodes[nb].interfaces[ib]
        created, deleted = ensure_veth(ns_of[na], a, ns_of[nb], b, have[na], have[nb])
        if created:
            log(f"lab: veth {na}:{ia} <-> {nb}:{ib} created")
        if deleted:
            have = {name: links(ns_of[name]) for name in topo.nodes}
    for name, node in topo.nodes.items():
        configure_links(ns_of[name], node)
    wait_ready(prefix, topo)

"""The Lab object: one topology brought up under one name prefix.

    from hitless.lab import Lab
    with Lab.load("pair", prefix="t1").running() as lab:
        lab.run("h1", ["ping", "-c1", "10.0.0.2"])

Namespaces are "{prefix}-{node}"; interfaces inside nodes keep their YAML names. A node's
agent pins under /sys/fs/bpf/hitless/{prefix}-{node}/ (see pin_root). `down` finds
everything by prefix, so a fresh Lab object (or `hitless lab down --prefix P`) cleans up
after a crash.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator, Sequence

import yaml

from hitless.errors import LabError
from hitless.lab import cleanup, container, netns, sh, state
from hitless.lab.topology import Node, Topology, check_prefix, parse

DEFAULT_PREFIX = "hl"
TOPOLOGY_DIR = Path(__file__).parent / "topologies"


def packaged_topologies() -> list[str]:
    return sorted(p.stem for p in TOPOLOGY_DIR.glob("*.yml"))


def resolve_topology(path_or_name: str | os.PathLike) -> Path:
    """A file path, or the name of a packaged topology ("default", "pair", ...)."""
    p = Path(path_or_name)
    if p.is_file():
        return p
    packaged = TOPOLOGY_DIR / f"{path_or_name}.yml"
    if packaged.is_file():
        return packaged
    raise LabError(f"no topology {str(path_or_name)!r}: not a file, and not one of "
                   f"{', '.join(packaged_topologies())}")


def plain_from_env() -> bool:
    return os.environ.get("HITLESS_LAB_PLAIN", "").strip().lower() in ("1", "true", "yes", "on")


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise LabError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None


class Lab:
    """A topology under a prefix. Cheap to create: nothing happens until up()."""

    def __init__(self, topology: Topology, prefix: str | None = None, plain: bool | None = None):
        self.prefix = check_prefix(DEFAULT_PREFIX if prefix is None else prefix)
        self.plain = plain_from_env() if plain is None else bool(plain)
        if self.plain:
            topology.force_plain()
        self.topology = topology
        self.log = lambda msg: None

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def load(cls, path_or_name: str | os.PathLike = "default", prefix: str | None = None,
             plain: bool | None = None) -> "Lab":
        path = resolve_topology(path_or_name)
        try:
            text = path.read_text()
        except OSError as exc:
            raise LabError(f"{path}: cannot read: {exc.strerror}") from None
        return cls(parse(_read_yaml(text, str(path)), str(path)), prefix, plain)

    @classmethod
    def from_dict(cls, data: dict, prefix: str | None = None, plain: bool | None = None,
                  source: str = "<dict>") -> "Lab":
        return cls(parse(data, source), prefix, plain)

    @classmethod
    def from_yaml(cls, text: str, prefix: str | None = None, plain: bool | None = None) -> "Lab":
        return cls(parse(_read_yaml(text, "<yaml>"), "<yaml>"), prefix, plain)

    @classmethod
    def attach(cls, prefix: str | None = None, plain: bool | None = None) -> "Lab":
        """The lab running under `prefix`, rebuilt from its state record."""
        prefix = check_prefix(DEFAULT_PREFIX if prefix is None else prefix)
        rec = state.read(prefix)
        if not rec or "topology" not in rec:
            raise LabError(f"no lab is recorded under prefix {prefix!r} (give --topology)")
        lab = cls(parse(rec["topology"], rec.get("source", "<state>")), prefix,
                  rec.get("plain", False) if plain is None else plain)
        return lab

    # ---- names --------------------------------------------------------------------------

    @property
    def nodes(self) -> dict[str, Node]:
        return self.topology.nodes

    def node(self, name: str) -> Node:
        try:
            return self.topology.nodes[name]
        except KeyError:
            raise LabError(f"lab {self.prefix}: no node {name!r} "
                           f"(nodes: {', '.join(self.topology.nodes)})") from None

    def netns(self, node: str) -> str:
        self.node(node)
        return f"{self.prefix}-{node}"

    def pin_root(self, node: str) -> str:
        """The bpffs directory an agent on `node` pins under (its config: node: {prefix}-{node})."""
        self.node(node)
        return str(cleanup.pin_root(self.prefix, node))

    def agent_node_id(self, node: str) -> str:
        return self.netns(node)

    # ---- lifecycle ----------------------------------------------------------------------

    def _record(self, phase: str) -> None:
        state.write(self.prefix, {
            "phase": phase, "source": self.topology.source, "name": self.topology.name,
            "topology": self.topology.raw, "plain": self.plain, "nodes": sorted(self.nodes),
            "containers": sorted(n for n, node in self.nodes.items() if node.is_container),
        })

    def up(self) -> "Lab":
        """Builds the lab, or repairs it to match the topology; a second call changes nothing."""
        with state.lock(self.prefix):
            self._record("building")  # first, so a crash mid-way still names our nodes
            netns.build(self.prefix, self.topology, self.log)
            for name, node in self.nodes.items():
                ns = self.netns(name)
                if node.is_container:
                    container.start(self.prefix, name, ns, self.log)
                elif container.running_pid(ns):  # a node switched to plain since the last up
                    container.stop(self.prefix, name, ns)
            self._record("up")
        return self

    def down(self) -> dict[str, list]:
        """Removes everything of this prefix, whether or not this object built it."""
        with state.lock(self.prefix):
            return cleanup.teardown(self.prefix, sorted(self.nodes), self.log)

    @contextlib.contextmanager
    def running(self) -> Iterator["Lab"]:
        """`with lab.running():` brings the lab up and always takes it down again."""
        try:
            yield self.up()
        finally:
            self.down()

    # ---- inside nodes -------------------------------------------------------------------

    def _argv(self, argv: Sequence[str] | str) -> list[str]:
        if isinstance(argv, str):
            return ["sh", "-c", argv]
        return [str(a) for a in argv]

    def run(self, node: str, argv: Sequence[str] | str, check: bool = True,
            timeout: float | None = 60.0, **kw) -> subprocess.CompletedProcess:
        """Runs a command inside the node's network namespace (nsenter --net, so /sys/fs/bpf
        stays visible). A string runs through sh -c. Output is captured as text."""
        ns = self.netns(node)
        if not netns.exists(ns):
            raise LabError(f"lab {self.prefix}: node {node} is not up (no namespace {ns})")
        return sh.run(self._argv(argv), ns=ns, check=check, timeout=timeout, **kw)

    def popen(self, node: str, argv: Sequence[str] | str, **kw) -> subprocess.Popen:
        """Starts a command inside the node's namespace; `down` kills it if still running."""
        ns = self.netns(node)
        if not netns.exists(ns):
            raise LabError(f"lab {self.prefix}: node {node} is not up (no namespace {ns})")
        return subprocess.Popen(sh.in_netns(ns, self._argv(argv)), **kw)

    def ifindex(self, node: str, ifname: str) -> int:
        return netns.ifindex(self.netns(node), ifname)

    def ssh_argv(self, node: str, command: Sequence[str] | None = None) -> list[str]:
        """ssh to a container node as root with the lab key, through its namespace."""
        if not self.node(node).is_container:
            raise LabError(f"lab {self.prefix}: node {node} is a plain namespace, it has no sshd")
        return container.ssh_argv(self.netns(node), list(command or []))

    # ---- inspection ---------------------------------------------------------------------

    def status(self) -> dict:
        """What exists now, per node: namespace, interfaces (ifindex, MAC, state, addresses,
        bridge), container (nspawn pid, sshd answering). `up` is True when all is there."""
        nodes: dict[str, dict] = {}
        all_up = True
        for name, node in self.nodes.items():
            ns = self.netns(name)
            entry: dict[str, Any] = {"netns": ns, "type": node.type, "kind": node.kind,
                                     "exists": netns.exists(ns), "pin_root": self.pin_root(name),
                                     "interfaces": {}}
            if entry["exists"]:
                for d in sh.ip_json(["addr", "show"], ns=ns):
                    if d["ifname"] == "lo":
                        continue
                    entry["interfaces"][d["ifname"]] = {
                        "ifindex": d["ifindex"], "mac": d.get("address"),
                        "state": d.get("operstate"), "master": d.get("master"),
                        "addresses": [f"{a['local']}/{a['prefixlen']}" for a in d.get("addr_info", [])
                                      if a.get("family") == "inet"],
                    }
                missing = [i for i in [*node.interfaces, *node.bridges] if i not in entry["interfaces"]]
                entry["missing_interfaces"] = missing
                all_up &= not missing
            else:
                all_up = False
            if node.is_container:
                pid = container.running_pid(ns)
                ssh = bool(pid and entry["exists"] and container.sshd_banner(ns))
                entry["container"] = {"pid": pid, "sshd": ssh}
                all_up &= ssh
            nodes[name] = entry
        rec = state.read(self.prefix)
        return {"prefix": self.prefix, "topology": self.topology.name, "source": self.topology.source,
                "plain": self.plain, "up": all_up, "recorded_phase": rec.get("phase") if rec else None,
                "nodes": nodes}

    def leftovers(self) -> dict[str, list]:
        """Anything of this prefix that exists (namespaces, links, pins, processes, mounts)."""
        return cleanup.leftovers(self.prefix)

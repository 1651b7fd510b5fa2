"""Removing a lab completely, found by its prefix alone, so `down` works after a crash.

Order matters: containers first (their nspawn runs in the root namespace), then every
process still inside a lab namespace, then overlay mounts, namespaces (which takes their
veths and bridges with them), root-namespace links named after the prefix, pinned BPF
objects, overlay directories and the state record. The result is checked, not assumed.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from hitless.errors import LabError
from hitless.lab import container, netns, procs, sh, state

BPFFS_ROOT = Path(os.environ.get("HITLESS_LAB_BPFFS", "/sys/fs/bpf/hitless"))
# nspawn's per-machine mount propagation directory; a killed nspawn cannot remove its own.
NSPAWN_PROPAGATE = Path("/run/systemd/nspawn/propagate")


def pin_root(prefix: str, node: str) -> Path:
    """Where the agent of lab node `node` pins its maps: its agent config says
    `node: {prefix}-{node}`, so two labs with the same node names never share pins."""
    return BPFFS_ROOT / f"{prefix}-{node}"


def root_links(prefix: str) -> list[str]:
    """Links in the root namespace whose name starts with "{prefix}-" (helpers that tie the
    host to a lab name their ends so; the lab itself creates none there)."""
    return sorted(d["ifname"] for d in sh.ip_json(["link", "show"]) if d["ifname"].startswith(prefix + "-"))


def _other_labs_with_node(prefix: str, node: str) -> bool:
    with contextlib.suppress(FileNotFoundError):
        for n in os.listdir(sh.NETNS_DIR):
            other, _, rest = n.partition("-")
            if rest == node and other != prefix:
                return True
    return False


def pin_paths(prefix: str, nodes: list[str]) -> list[Path]:
    """Pinned bpffs directories of the lab: {prefix}-* always; a bare <node> directory (an
    agent configured with the plain node name) only when no other running lab has a node of
    that name, since it could be theirs."""
    out: list[Path] = []
    with contextlib.suppress(FileNotFoundError):
        out += [p for p in BPFFS_ROOT.iterdir() if p.name.startswith(prefix + "-")]
    for node in nodes:
        p = BPFFS_ROOT / node
        if p.exists() and not _other_labs_with_node(prefix, node):
            out.append(p)
    return sorted(set(out))


def leftovers(prefix: str) -> dict[str, list]:
    """Everything of lab `prefix` still present; all lists are empty after a clean `down`."""
    ns_paths = [sh.netns_path(n) for n in netns.list_prefixed(prefix)]
    return {
        "namespaces": netns.list_prefixed(prefix),
        "links": root_links(prefix),
        "pins": [str(p) for p in pin_paths(prefix, [])],
        "processes": sorted(set(procs.in_netns(ns_paths) + container.nspawn_pids(prefix))),
        "mounts": container.mounts_under(container.STATE_ROOT / prefix),
        "dirs": [str(p) for p in (container.STATE_ROOT / prefix, state.RUN_ROOT / prefix) if p.exists()],
    }


def teardown(prefix: str, nodes: list[str] | None = None, log=lambda m: None) -> dict[str, list]:
    """Removes lab `prefix`. `nodes` (the topology's node names, if known) only widens the
    search for pins; everything else is found by prefix. Raises LabError if anything stays."""
    names = netns.list_prefixed(prefix)
    node_names = set(nodes or []) | {n.split("-", 1)[1] for n in names}
    rec = state.read(prefix)
    if rec:
        node_names |= set(rec.get("nodes", []))
    removed: dict[str, list] = {k: [] for k in ("processes", "mounts", "namespaces", "links", "pins")}

    # 1. Containers: nspawn kills its container (SIGKILL to the stub init) on SIGTERM.
    pids = container.nspawn_pids(prefix)
    stuck = procs.terminate(pids)
    removed["processes"] += [p for p in pids if p not in stuck]
    container.reap()

    # 2. Whatever still runs inside a lab namespace (tests' popen, agents, sshd children).
    ns_paths = [sh.netns_path(n) for n in names]
    for _ in range(5):  # bounded: a process may fork while we kill
        pids = procs.in_netns(ns_paths)
        if not pids:
            break
        stuck = procs.terminate(pids)
        removed["processes"] += [p for p in pids if p not in stuck]

    # 3. Overlay mounts (deepest first); lazily if something still holds one.
    with contextlib.suppress(FileNotFoundError):
        for d in NSPAWN_PROPAGATE.iterdir():
            if d.name.startswith(prefix + "-"):
                for mp in container.mounts_under(d):
                    sh.run(["umount", "-l", mp], check=False)
                shutil.rmtree(d, ignore_errors=True)
    for mp in container.mounts_under(container.STATE_ROOT / prefix):
        if sh.run(["umount", mp], check=False).returncode != 0:
            sh.run(["umount", "-l", mp], check=False)
        removed["mounts"].append(mp)

    # 4. Namespaces: deleting one destroys its veths (and so their peers) and bridges.
    for n in names:
        netns.delete(n)
        removed["namespaces"].append(n)

    # 5. Root-namespace links carrying the prefix.
    for link in root_links(prefix):
        sh.run(["ip", "link", "del", link], check=False)
        removed["links"].append(link)

    # 6. Pinned maps/programs/links: unlinking the pins frees them once nothing holds them.
    for p in pin_paths(prefix, sorted(node_names)):
        shutil.rmtree(p, ignore_errors=True)
        removed["pins"].append(str(p))

    # 7. Overlay directories and the state record.
    with contextlib.suppress(LabError):
        container.remove_dirs(prefix)
    state.remove(prefix)

    left = {k: v for k, v in leftovers(prefix).items() if v}
    if left:
        raise LabError(f"lab {prefix}: could not remove " +
                       "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in left.items()))
    for k, v in removed.items():
        if v:
            log(f"lab: removed {k}: {', '.join(map(str, v))}")
    return removed

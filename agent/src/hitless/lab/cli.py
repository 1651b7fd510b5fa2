"""`hitless lab ACTION`: up, down, status, exec, ssh, inventory, rootfs, list.

The topology defaults to the one recorded for the prefix when a lab is up, else the packaged
default; the prefix defaults to "hl". `exec` enters only the node's network namespace (with
nsenter, so /sys/fs/bpf stays visible); `ssh` logs in to a container node.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

from hitless.errors import LabError
from hitless.lab import cleanup, inventory, netns, rootfs, sh, state
from hitless.lab.lab import DEFAULT_PREFIX, Lab, packaged_topologies
from hitless.lab.topology import check_prefix


def _common(p: argparse.ArgumentParser, topology: bool = True) -> None:
    p.add_argument("-p", "--prefix", default=None,
                   help=f"name prefix of the lab's namespaces and links (default {DEFAULT_PREFIX})")
    if topology:
        p.add_argument("-t", "--topology", default=None,
                       help=f"topology file or packaged name ({', '.join(packaged_topologies())}); "
                            "default: the one recorded for the prefix, else 'default'")
        p.add_argument("--plain", action="store_true", default=None,
                       help="every node a plain namespace, no containers (also HITLESS_LAB_PLAIN=1)")


def _lab(args, log: bool = False) -> Lab:
    prefix = check_prefix(args.prefix or DEFAULT_PREFIX)
    topo = getattr(args, "topology", None)
    plain = getattr(args, "plain", None)
    if topo is None and state.read(prefix):
        lab = Lab.attach(prefix, plain=plain)
    else:
        lab = Lab.load(topo or "default", prefix=prefix, plain=plain)
    if log:
        lab.log = lambda msg: print(msg, file=sys.stderr)
    return lab


def _print_status(st: dict) -> None:
    print(f"lab {st['topology']} (prefix {st['prefix']}): {'up' if st['up'] else 'not up'}")
    for name, n in st["nodes"].items():
        what = "up" if n["exists"] else "absent"
        if "container" in n:
            c = n["container"]
            what += f", container {'pid ' + str(c['pid']) if c['pid'] else 'stopped'}" \
                    f"{', sshd ok' if c['sshd'] else ', no sshd'}"
        print(f"  {name:<8} {n['type']:<7} {n['netns']:<16} {what}")
        for ifname, i in n["interfaces"].items():
            extra = f" master {i['master']}" if i.get("master") else ""
            addrs = " ".join(i["addresses"])
            print(f"      {ifname:<8} #{i['ifindex']:<3} {i['mac']} {i['state']:<7}{extra} {addrs}".rstrip())
        if n.get("missing_interfaces"):
            print(f"      missing: {', '.join(n['missing_interfaces'])}")


def cmd_up(args) -> int:
    lab = _lab(args, log=True)
    lab.up()
    _print_status(lab.status())
    return 0


def cmd_down(args) -> int:
    prefix = check_prefix(args.prefix or DEFAULT_PREFIX)
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    if args.topology is None and not state.read(prefix):
        # Nothing recorded (a crash, or a deleted /run): clean up by prefix alone.
        with state.lock(prefix):
            cleanup.teardown(prefix, [], say)
    else:
        lab = _lab(args, log=True)
        lab.down()
    print(f"lab {prefix}: down")
    return 0


def cmd_status(args) -> int:
    st = _lab(args).status()
    if args.json:
        print(json.dumps(st, indent=2))
    else:
        _print_status(st)
    return 0 if st["up"] else 1


def _command(rest: list[str]) -> list[str]:
    if rest and rest[0] == "--":
        rest = rest[1:]
    return rest


def cmd_exec(args) -> int:
    lab = _lab(args)
    cmd = _command(args.cmd) or ["bash"]
    ns = lab.netns(args.node)
    if not netns.exists(ns):
        raise LabError(f"node {args.node} is not up (no namespace {ns})")
    return subprocess.call(sh.in_netns(ns, cmd))


def cmd_ssh(args) -> int:
    lab = _lab(args)
    return subprocess.call(lab.ssh_argv(args.node, _command(args.cmd)))


def cmd_inventory(args) -> int:
    text = inventory.render(_lab(args))
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_rootfs(args) -> int:
    path = rootfs.ensure(log=lambda m: print(m, file=sys.stderr), rebuild=args.rebuild)
    print(path)
    return 0


def cmd_list(args) -> int:
    print("topologies: " + ", ".join(packaged_topologies()))
    for prefix in state.prefixes():
        rec = state.read(prefix) or {}
        print(f"lab {prefix}: {rec.get('name', '?')} ({rec.get('phase', '?')}), nodes {', '.join(rec.get('nodes', []))}")
    return 0


def register(subparsers) -> None:
    lab = subparsers.add_parser("lab", help="the embedded lab of network namespaces",
                                description=__doc__.splitlines()[0])
    sub = lab.add_subparsers(dest="lab_action", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("up", help="build the lab, or repair it (idempotent)")
    _common(p)
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="remove everything of the prefix, even after a crash")
    _common(p)
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="what exists now (exit 1 unless fully up)")
    _common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("exec", help="run a command in a node's network namespace: exec NODE -- CMD")
    _common(p)
    p.add_argument("node")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="command (default: bash)")
    p.set_defaults(func=cmd_exec)

    p = sub.add_parser("ssh", help="log in to a container node: ssh NODE [-- CMD]")
    _common(p)
    p.add_argument("node")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_ssh)

    p = sub.add_parser("inventory", help="print the Ansible inventory of the lab's container nodes")
    _common(p)
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_inventory)

    p = sub.add_parser("rootfs", help="build the cached container rootfs now")
    p.add_argument("--rebuild", action="store_true", help="build again even if cached")
    p.set_defaults(func=cmd_rootfs)

    p = sub.add_parser("list", help="packaged topologies and recorded labs")
    p.set_defaults(func=cmd_list)

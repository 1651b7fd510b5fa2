"""Container nodes: a systemd-nspawn Debian rootfs with sshd in the node's namespace.

Ansible's path is exercised as the inventory describes it: ssh as root with the lab key,
through a ProxyCommand that enters the namespace. The first run builds the rootfs with
debootstrap (about a minute here); later runs reuse the cache.
"""
from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from hitless.lab import Lab, state
from hitless.lab.inventory import build as build_inventory

from labcheck import alive, namespaces, pids_with_cmdline, pin_map, root_links, wait_until

pytestmark = [pytest.mark.lab, pytest.mark.container]

BCC_XDP = ("import bcc; b = bcc.BPF(text='int pass(struct xdp_md *ctx) { return XDP_PASS; }'); "
           "f = b.load_func('pass', bcc.BPF.XDP); print('xdp-loaded', f.fd > 0)")


def ssh_via_inventory(lab: Lab, node: str, command: str) -> subprocess.CompletedProcess:
    """ssh exactly as Ansible would from the generated inventory's variables."""
    inv = build_inventory(lab)["all"]
    group = {"switch": "switches", "router": "routers"}[lab.node(node).type]
    host = inv["children"][group]["hosts"][node]
    argv = ["ssh", *shlex.split(host["ansible_ssh_common_args"]), "-o", "BatchMode=yes",
            "-i", inv["vars"]["ansible_ssh_private_key_file"], "-l", inv["vars"]["ansible_user"],
            host["ansible_host"], command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_container_node_ssh_bcc_and_clean_down(make_lab):
    lab = make_lab("pair-container", plain=False)
    lab.up()
    ns = lab.netns("sw")
    st = lab.status()
    assert st["up"] is True and st["nodes"]["sw"]["container"]["sshd"] is True
    pid = st["nodes"]["sw"]["container"]["pid"]

    # sshd answers on the node's loopback only; login with the lab key through nsenter.
    cp = ssh_via_inventory(lab, "sw", "hostname; python3 -c 'import bcc; print(\"bcc-ok\")'")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split() == [ns, "bcc-ok"]
    # The container has its own rootfs (Debian bookworm) but the node's interfaces.
    cp = ssh_via_inventory(lab, "sw", "cat /etc/debian_version; ip -br link show br0")
    assert cp.returncode == 0 and cp.stdout.startswith("12.") and "02:00:00:00:0a:00" in cp.stdout
    # bcc compiles against the bound host headers and loads an XDP program in the container.
    cp = ssh_via_inventory(lab, "sw", f"python3 -c {shlex.quote(BCC_XDP)}")
    assert cp.returncode == 0 and "xdp-loaded True" in cp.stdout, cp.stderr
    # The host's bpffs is shared: a map pinned on the host is visible inside, and vice versa.
    pin_map(f"{lab.pin_root('sw')}/from_host")
    cp = ssh_via_inventory(lab, "sw", f"ls {lab.pin_root('sw')}; touch /root/written-in-node")
    assert cp.returncode == 0 and "from_host" in cp.stdout
    # Writes land in the node's overlay, never in the shared cache.
    assert os.path.exists(f"/var/lib/hitless-lab/{lab.prefix}/sw/upper/root/written-in-node")
    assert not os.path.exists("/var/cache/hitless-lab/rootfs-bookworm/root/written-in-node")
    # sshd is bound to the node's own loopback, not to every address of the node.
    listen = lab.run("sw", ["ss", "-Hltn"]).stdout
    assert "127.0.0.1:22" in listen and "0.0.0.0:22" not in listen

    # A second up keeps the running container.
    lab.up()
    assert lab.status()["nodes"]["sw"]["container"]["pid"] == pid

    # Down from a fresh object with the state record gone (as after a crash).
    state.remove(lab.prefix)
    Lab.load("pair-container", prefix=lab.prefix).down()
    assert namespaces(lab.prefix) == [] and root_links(lab.prefix) == []
    assert wait_until(lambda: not alive(pid), timeout=10)
    assert pids_with_cmdline(f"/run/netns/{lab.prefix}-") == []
    with open("/proc/self/mountinfo") as fh:
        assert f"/var/lib/hitless-lab/{lab.prefix}/" not in fh.read()
    assert not os.path.exists(f"/var/lib/hitless-lab/{lab.prefix}")
    assert not os.path.exists(lab.pin_root("sw"))


def test_default_lab_with_containers(make_lab):
    """The default topology as shipped: 4 containers (switches, routers) answer ssh, hosts
    reach both gateways on the LAN, servers reach both routers, routers forward."""
    lab = make_lab("default", plain=False)
    lab.up()
    st = lab.status()
    assert st["up"] is True
    assert sorted(n for n, v in st["nodes"].items() if v.get("container", {}).get("sshd")) == \
        ["r1", "r2", "sw1", "sw2"]
    for node, target in (("h1", "10.0.1.2"), ("h2", "10.0.1.3"), ("s1", "10.0.2.2"),
                         ("s2", "10.0.2.3"), ("h1", "10.0.1.12"), ("s1", "10.0.2.12")):
        assert lab.run(node, ["ping", "-c", "1", "-W", "2", target]).returncode == 0, (node, target)
    # r1 forwards: h1 reaches s1 through it once both point their routes at r1.
    lab.run("h1", ["ip", "route", "replace", "10.0.2.0/24", "via", "10.0.1.2"])
    lab.run("s1", ["ip", "route", "replace", "10.0.1.0/24", "via", "10.0.2.2"])
    assert lab.run("h1", ["ping", "-c", "1", "-W", "2", "10.0.2.11"]).returncode == 0
    for node in ("sw1", "r2"):
        cp = ssh_via_inventory(lab, node, "hostname")
        assert cp.returncode == 0 and cp.stdout.strip() == lab.netns(node), cp.stderr
    lab.down()
    assert namespaces(lab.prefix) == [] and pids_with_cmdline(f"/run/netns/{lab.prefix}-") == []

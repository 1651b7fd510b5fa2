"""The lab on plain namespaces: up, status, exec, idempotent up, repair, coexistence, CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hitless.errors import LabError
from hitless.lab import Lab

from labcheck import namespaces, pin_map, root_links

pytestmark = pytest.mark.lab
HITLESS = [sys.executable, "-m", "hitless"]

ROUTED = {
    "name": "routed",
    "nodes": {
        "a": {"type": "host", "interfaces": {"eth0": {"addresses": ["10.77.1.10/24"]}},
              "routes": [{"to": "default", "via": "10.77.1.1"}]},
        "r": {"type": "router", "interfaces": {"e1": {"addresses": ["10.77.1.1/24"]},
                                               "e2": {"addresses": ["10.77.2.1/24"]}}},
        "b": {"type": "host", "interfaces": {"eth0": {"addresses": ["10.77.2.10/24"]}},
              "routes": [{"to": "10.77.1.0/24", "via": "10.77.2.1"}]},
    },
    "links": [["a:eth0", "r:e1"], ["r:e2", "b:eth0"]],
}


def snapshot(lab: Lab) -> dict:
    """Everything `up` could change, per node: links (index, MAC, master, flags), addresses,
    routes and the settings the lab makes."""
    out = {}
    for node in lab.nodes:
        links = json.loads(lab.run(node, ["ip", "-j", "-d", "link", "show"]).stdout)
        out[node] = {
            "links": sorted((d["ifindex"], d["ifname"], d["address"], d.get("master"), tuple(d["flags"]),
                             d.get("mtu")) for d in links),
            "addrs": lab.run(node, ["ip", "-br", "addr"]).stdout,
            "routes": lab.run(node, ["ip", "route"]).stdout,
        }
    return out


def test_up_status_exec_down(make_lab):
    lab = make_lab("pair")
    lab.up()
    st = lab.status()
    assert st["up"] is True
    assert set(namespaces(lab.prefix)) == {f"{lab.prefix}-h1", f"{lab.prefix}-h2", f"{lab.prefix}-sw"}
    sw = st["nodes"]["sw"]["interfaces"]
    assert sw["p1"]["mac"] == "02:00:00:00:0a:01" and sw["p1"]["master"] == "br0"
    assert sw["br0"]["mac"] == "02:00:00:00:0a:00"
    assert st["nodes"]["h1"]["interfaces"]["eth0"]["addresses"] == ["10.0.0.1/24"]
    assert lab.ifindex("sw", "p2") == sw["p2"]["ifindex"]

    # Traffic crosses the bridge as soon as up() returns.
    assert lab.run("h1", ["ping", "-c", "1", "-W", "2", "10.0.0.2"]).returncode == 0
    # Every veth end has GRO on (NAPI for XDP_REDIRECT into it), lo is up, IPv6 is off.
    for node, ifname in (("h1", "eth0"), ("h2", "eth0"), ("sw", "p1"), ("sw", "p2")):
        assert "generic-receive-offload: on" in lab.run(node, ["ethtool", "-k", ifname]).stdout
        assert "LOOPBACK,UP" in lab.run(node, ["ip", "link", "show", "lo"]).stdout
        assert lab.run(node, ["sysctl", "-n", "net.ipv6.conf.all.disable_ipv6"]).stdout.strip() == "1"
    # Bridge ports forward at once (STP off).
    assert lab.run("sw", ["bridge", "link"]).stdout.count("state forwarding") == 2
    # run() enters only the network namespace: the host's bpffs stays visible.
    assert lab.run("h1", ["test", "-d", "/sys/fs/bpf"]).returncode == 0
    # check=True raises a LabError that is also a CalledProcessError.
    with pytest.raises(subprocess.CalledProcessError):
        lab.run("h1", ["false"])
    with pytest.raises(LabError):
        lab.run("h1", ["false"])
    assert lab.run("h1", "exit 3", check=False).returncode == 3

    lab.down()
    assert namespaces(lab.prefix) == [] and root_links(lab.prefix) == []
    assert lab.status()["up"] is False
    with pytest.raises(LabError, match="not up"):
        lab.run("h1", ["true"])


def test_second_up_changes_nothing(make_lab):
    lab = make_lab("pair")
    lab.up()
    before = snapshot(lab)
    idx = {(n, i): lab.ifindex(n, i) for n, node in lab.nodes.items() for i in node.interfaces}
    lab.up()
    assert snapshot(lab) == before
    assert {(n, i): lab.ifindex(n, i) for n, i in idx} == idx
    # A fresh Lab object (another process, say) also finds nothing to change.
    Lab.load("pair", prefix=lab.prefix).up()
    assert snapshot(lab) == before


def test_up_repairs_a_missing_link(make_lab):
    lab = make_lab("pair")
    lab.up()
    keep = lab.ifindex("h2", "eth0")
    lab.run("h1", ["ip", "link", "del", "eth0"])  # takes sw:p1 with it
    assert lab.status()["up"] is False
    lab.up()
    assert lab.status()["up"] is True
    assert lab.ifindex("h2", "eth0") == keep
    assert lab.run("h1", ["ping", "-c", "1", "-W", "2", "10.0.0.2"]).returncode == 0


def test_two_labs_with_different_prefixes_coexist(make_lab):
    one, two = make_lab("pair"), make_lab("pair")
    one.up()
    two.up()
    for lab in (one, two):
        assert lab.run("h1", ["ping", "-c", "1", "-W", "2", "10.0.0.2"]).returncode == 0
    one.down()
    assert namespaces(one.prefix) == []
    assert two.status()["up"] is True
    assert two.run("h2", ["ping", "-c", "1", "-W", "2", "10.0.0.1"]).returncode == 0


def test_router_forwards_between_subnets(make_lab):
    lab = make_lab(ROUTED)
    lab.up()
    assert lab.run("r", ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
    assert lab.run("a", ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "0"
    assert lab.run("a", ["ping", "-c", "1", "-W", "2", "10.77.2.10"]).returncode == 0


def test_bad_topology_creates_nothing(prefix):
    bad = json.loads(json.dumps(ROUTED))
    bad["links"][0][1] = "r:e1-much-too-long"
    with pytest.raises(LabError, match="at most 15"):
        Lab.from_dict(bad, prefix=prefix)
    assert namespaces(prefix) == []


def test_popen_runs_in_node_and_sees_pins(make_lab):
    lab = make_lab("pair")
    lab.up()
    path = f"{lab.pin_root('sw')}/probe_map"
    pin_map(path)
    assert lab.run("sw", ["test", "-e", path]).returncode == 0
    proc = lab.popen("h2", ["ip", "-br", "addr", "show", "eth0"], stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=10)
    assert "10.0.0.2/24" in out


def test_cli_up_exec_status_inventory_down(prefix):
    run = lambda *a, **kw: subprocess.run([*HITLESS, "lab", *a], capture_output=True, text=True,  # noqa: E731
                                          timeout=120, **kw)
    try:
        up = run("up", "-t", "pair", "-p", prefix)
        assert up.returncode == 0, up.stderr
        # exec finds the topology from the state record; its exit code is the command's.
        ex = run("exec", "-p", prefix, "h1", "--", "ping", "-c", "1", "-W", "2", "10.0.0.2")
        assert ex.returncode == 0, ex.stderr
        assert run("exec", "-p", prefix, "h1", "--", "sh", "-c", "exit 7").returncode == 7
        st = run("status", "-p", prefix, "--json")
        assert st.returncode == 0 and json.loads(st.stdout)["nodes"]["sw"]["exists"] is True
        inv = run("inventory", "-p", prefix)
        assert inv.returncode == 0 and "hitless_lab_topology" in inv.stdout
        bad = run("exec", "-p", prefix, "nosuch", "--", "true")
        assert bad.returncode == 2 and "no node" in bad.stderr
    finally:
        down = run("down", "-p", prefix)
    assert down.returncode == 0, down.stderr
    assert namespaces(prefix) == []
    assert run("status", "-p", prefix, "-t", "pair").returncode == 1

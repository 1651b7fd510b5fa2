"""Topology parsing: validation errors, derived MACs, the packaged topologies (pure logic)."""
from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hitless.errors import LabError
from hitless.lab import Lab, packaged_topologies
from hitless.lab.inventory import build as build_inventory
from hitless.lab.topology import derived_mac, parse

PAIR = {
    "nodes": {
        "a": {"type": "host", "interfaces": {"eth0": {"addresses": ["10.9.0.1/24"]}}},
        "b": {"type": "host", "interfaces": {"eth0": {"addresses": ["10.9.0.2/24"]}}},
        "sw": {"type": "switch"},
    },
    "links": [["a:eth0", "sw:p1"], ["b:eth0", "sw:p2"]],
}


def test_minimal_dict_gets_bridge_and_stable_macs():
    t = parse(copy.deepcopy(PAIR))
    sw = t.nodes["sw"]
    assert sw.bridges["br0"].ports == ["p1", "p2"]
    assert sw.interfaces["p1"].bridge == "br0"
    assert t.nodes["a"].interfaces["eth0"].peer == "sw:p1"
    mac = t.nodes["a"].interfaces["eth0"].mac
    assert mac == derived_mac("a", "eth0") == parse(copy.deepcopy(PAIR)).nodes["a"].interfaces["eth0"].mac
    assert mac.startswith("02:") and mac != t.nodes["b"].interfaces["eth0"].mac


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d["links"].append(["a:eth0", "b:eth9"]), "already used"),
    (lambda d: d["links"].append(["zz:eth0", "b:eth1"]), "unknown node"),
    (lambda d: d["links"].append(["a:averyveryverylongname", "b:eth1"]), "at most 15"),
    (lambda d: d["nodes"]["a"].update(type="firewall"), "must be one of"),
    (lambda d: d["nodes"]["a"].update(kind="vm"), "must be one of"),
    (lambda d: d["nodes"]["a"]["interfaces"]["eth0"].update(mac="01:00:5e:00:00:01"), "multicast"),
    (lambda d: d["nodes"]["a"]["interfaces"]["eth0"].update(mac="nope"), "not a MAC"),
    (lambda d: d["nodes"]["a"]["interfaces"]["eth0"].update(addresses=["10.1.2.300/24"]), "not an address"),
    (lambda d: d["nodes"]["a"]["interfaces"].update(eth5={}), "no link"),
    (lambda d: d["nodes"].update({"Bad_Name": {"type": "host"}}), "node names"),
    (lambda d: d["nodes"]["sw"].update(bridges={"br0": {"ports": ["p7"]}}), "not a linked interface"),
    (lambda d: d["nodes"]["a"].update(routes=[{"to": "default", "via": "x"}]), "IPv4"),
    (lambda d: d["links"].append("a:eth0"), "two"),
    (lambda d: d.update(extra=1), "unknown key"),
])
def test_invalid_topologies_name_the_key(mutate, needle):
    d = copy.deepcopy(PAIR)
    mutate(d)
    with pytest.raises(LabError, match=needle):
        parse(d, "t.yml")


def test_ifname_limit_message_is_clear():
    d = copy.deepcopy(PAIR)
    d["links"][0][1] = "sw:p123456789012345"
    with pytest.raises(LabError) as exc:
        parse(d, "t.yml")
    assert "16 characters" in str(exc.value) and "15" in str(exc.value)


@pytest.mark.parametrize("bad", ["", "HL", "a-b", "1ab", "abcdefghijk", "a_b", "ssh"])
def test_prefix_rules(bad):
    with pytest.raises(LabError, match="prefix"):
        Lab.from_dict(copy.deepcopy(PAIR), prefix=bad)


def test_names_follow_prefix():
    lab = Lab.from_dict(copy.deepcopy(PAIR), prefix="zq1")
    assert lab.netns("sw") == "zq1-sw"
    assert lab.pin_root("sw") == "/sys/fs/bpf/hitless/zq1-sw"
    with pytest.raises(LabError, match="no node"):
        lab.netns("nope")


def test_default_topology_shape():
    assert {"default", "pair", "pair-container"} <= set(packaged_topologies())
    lab = Lab.load("default", plain=False)
    kinds = {n: (node.type, node.kind) for n, node in lab.nodes.items()}
    assert kinds == {"sw1": ("switch", "container"), "sw2": ("switch", "container"),
                     "r1": ("router", "container"), "r2": ("router", "container"),
                     "h1": ("host", "netns"), "h2": ("host", "netns"),
                     "s1": ("server", "netns"), "s2": ("server", "netns")}
    assert lab.node("r1").interfaces["eth0"].addresses == ["10.0.1.2/24"]
    assert lab.node("r2").interfaces["eth1"].addresses == ["10.0.2.3/24"]
    assert lab.node("h2").routes[0].via == "10.0.1.1"
    assert lab.node("s1").routes[0].via == "10.0.2.1"
    assert sorted(lab.node("sw1").bridges["br0"].ports) == ["p1", "p2", "p3", "p4"]
    macs = [i.mac for n in lab.nodes.values() for i in [*n.interfaces.values(), *n.bridges.values()]]
    assert len(macs) == len(set(macs)) and all(m.startswith("02:") for m in macs)


def test_plain_flag_and_env(monkeypatch):
    assert all(n.kind == "netns" for n in Lab.load("default", plain=True).nodes.values())
    monkeypatch.setenv("HITLESS_LAB_PLAIN", "1")
    assert all(n.kind == "netns" for n in Lab.load("default").nodes.values())


def test_inventory_groups_container_nodes_by_type():
    inv = build_inventory(Lab.load("default", prefix="zq2", plain=False))["all"]
    assert list(inv["children"]) == ["switches", "routers", "hosts", "servers"]
    assert inv["children"]["hosts"] == {} and inv["children"]["servers"] == {}
    assert sorted(inv["children"]["routers"]["hosts"]) == ["r1", "r2"]
    sw1 = inv["children"]["switches"]["hosts"]["sw1"]
    assert sw1["hitless_node"] == "zq2-sw1"
    assert 'ProxyCommand="nsenter --net=/run/netns/zq2-sw1 socat STDIO TCP:127.0.0.1:22"' in sw1["ansible_ssh_common_args"]
    assert "UserKnownHostsFile=/dev/null" in sw1["ansible_ssh_common_args"]
    assert inv["vars"]["ansible_user"] == "root"
    assert inv["vars"]["ansible_ssh_private_key_file"] == "/var/lib/hitless-lab/ssh/id_ed25519"
    assert set(inv["vars"]["hitless_lab_topology"]) == {"sw1", "sw2", "r1", "r2", "h1", "h2", "s1", "s2"}
    yaml.safe_load(yaml.safe_dump(inv))  # renders to YAML


_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
_tree = st.recursive(_scalar, lambda c: st.one_of(st.lists(c, max_size=4),
                                                   st.dictionaries(st.text(max_size=12), c, max_size=4)),
                     max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_tree, st.fixed_dictionaries({"nodes": _tree, "links": _tree})))
def test_fuzz_never_crashes_with_anything_but_laberror(data):
    try:
        parse(data, "fuzz.yml")
    except LabError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["links", "nodes"]), st.integers(0, 3), _tree)
def test_fuzz_mutated_pair(section, index, value):
    d = copy.deepcopy(PAIR)
    if section == "links":
        d["links"][index % 2] = value
    else:
        d["nodes"][["a", "b", "sw"][index % 3]] = value
    try:
        parse(d, "fuzz.yml")
    except LabError:
        pass

"""flowswitch: section parsing: every rejection names file, key and reason."""
import copy

import pytest

from hitless.config.schema import Section
from hitless.errors import ConfigError
from hitless.flowswitch.config import parse_config

BASE = {
    "bridge": "br0",
    "maglev_size": 1009,
    "health": {"type": "arp", "interval": "200ms", "timeout": "100ms", "rise": 2, "fall": 2},
    "router_pools": [{
        "name": "core", "gateway_ip": "10.9.0.1", "select": "round-robin",
        "routers": [
            {"name": "r1", "mac": "02:00:00:00:00:01", "ip": "10.9.0.2", "port": "p-r1"},
            {"name": "r2", "mac": "02:00:00:00:00:02", "ip": "10.9.0.3", "port": "p-r2"},
        ],
    }],
    "clusters": [
        {"name": "web", "ip": "10.9.0.100", "vmac": "02:fe:00:00:00:01", "router_pool": "core",
         "servers": [
             {"name": "s1", "mac": "02:00:00:00:01:01", "port": "p-s1", "capacity": 2},
             {"name": "s2", "mac": "02:00:00:00:01:02", "port": "p-s2"},
         ]},
        {"name": "mail", "ip": "10.9.0.101", "vmac": "02:fe:00:00:00:02", "mode": "availability",
         "primary": "s2",
         "servers": [
             {"name": "s1", "mac": "02:00:00:00:01:01", "port": "p-s1"},
             {"name": "s2", "mac": "02:00:00:00:01:02", "port": "p-s2"},
         ]},
    ],
}


def parse(d):
    return parse_config(Section(d, "agent.yml", "flowswitch"))


def err(d):
    with pytest.raises(ConfigError) as ei:
        parse(d)
    return str(ei.value)


def test_valid_config_parses():
    cfg = parse(BASE)
    assert [c.name for c in cfg.clusters] == ["web", "mail"]
    assert cfg.clusters[0].servers[0].capacity == 2
    assert cfg.clusters[1].mode == "availability" and cfg.clusters[1].primary == "s2"
    assert cfg.ports == ("p-r1", "p-r2", "p-s1", "p-s2")
    assert cfg.clusters[0].health.interval_ms == 200
    assert cfg.router_pools[0].routers[1].mac == "02:00:00:00:00:02"
    assert cfg.clusters[0].health.damping is not None


def test_two_servers_of_one_cluster_on_one_port_rejected():
    d = copy.deepcopy(BASE)
    d["clusters"][0]["servers"][1]["port"] = "p-s1"
    m = err(d)
    assert "agent.yml: flowswitch.clusters[0].servers[1].port:" in m and "one server per port" in m


def test_one_port_serves_several_clusters():
    cfg = parse(BASE)
    assert cfg.clusters[0].servers[0].port == cfg.clusters[1].servers[0].port


def test_duplicate_mac_in_cluster_rejected():
    d = copy.deepcopy(BASE)
    d["clusters"][0]["servers"][1]["mac"] = "02:00:00:00:01:01"
    assert "duplicate MAC" in err(d)


def test_server_mac_equal_to_router_mac_rejected():
    d = copy.deepcopy(BASE)
    d["clusters"][0]["servers"][1]["mac"] = "02:00:00:00:00:01"
    m = err(d)
    assert "flowswitch.clusters[0].servers[1].mac" in m and "router 'r1'" in m


def test_same_mac_on_different_port_across_clusters_rejected():
    d = copy.deepcopy(BASE)
    d["clusters"][1]["servers"][0]["port"] = "p-s9"
    assert "duplicate MAC" in err(d)


def test_vmac_duplicate_rejected():
    d = copy.deepcopy(BASE)
    d["clusters"][1]["vmac"] = d["clusters"][0]["vmac"]
    assert "flowswitch.clusters[1].vmac: duplicate MAC" in err(d)


def test_multicast_vmac_rejected():
    d = copy.deepcopy(BASE)
    d["clusters"][0]["vmac"] = "01:00:5e:00:00:01"
    assert "unicast" in err(d)


def test_duplicate_names_rejected():
    d = copy.deepcopy(BASE)
    d["clusters"][1]["name"] = "web"
    assert "duplicate cluster name" in err(d)
    d = copy.deepcopy(BASE)
    d["clusters"][0]["servers"][1]["name"] = "s1"
    assert "duplicate server name" in err(d)
    d = copy.deepcopy(BASE)
    d["router_pools"][0]["routers"][1]["name"] = "r1"
    assert "duplicate router name" in err(d)
    d = copy.deepcopy(BASE)
    d["router_pools"].append(copy.deepcopy(d["router_pools"][0]))
    assert "duplicate router pool name" in err(d)


def test_server_name_reused_for_other_device_rejected():
    d = copy.deepcopy(BASE)
    d["clusters"][1]["servers"][0] = {"name": "s1", "mac": "02:00:00:00:01:09", "port": "p-s9"}
    assert "already used for another device" in err(d)
    d["clusters"][1]["servers"][0] = {"name": "s9", "mac": "02:00:00:00:01:01", "port": "p-s1"}
    assert "duplicate MAC" in err(d)


def test_maglev_size_must_be_prime():
    d = copy.deepcopy(BASE)
    d["maglev_size"] = 65536
    assert "flowswitch.maglev_size: must be a prime" in err(d)


def test_tcp_check_needs_port_and_server_address():
    d = copy.deepcopy(BASE)
    d["clusters"][0]["health"] = {"type": "tcp"}
    assert "port: required" in err(d)
    d["clusters"][0]["health"] = {"type": "tcp", "port": 80}
    assert "servers[0].address: required for a tcp" in err(d)


def test_timeout_above_interval_rejected():
    d = copy.deepcopy(BASE)
    d["health"]["timeout"] = "1s"
    assert "flowswitch.health.timeout" in err(d)


def test_unknown_pool_and_primary_rejected():
    d = copy.deepcopy(BASE)
    d["clusters"][0]["router_pool"] = "nope"
    assert "no router pool named" in err(d)
    d = copy.deepcopy(BASE)
    d["clusters"][1]["primary"] = "zz"
    assert "no server named" in err(d)
    d = copy.deepcopy(BASE)
    d["clusters"][0]["primary"] = "s1"
    assert "only meaningful" in err(d)


def test_unknown_key_rejected():
    d = copy.deepcopy(BASE)
    d["clusters"][0]["servers"][0]["wieght"] = 3
    assert "flowswitch.clusters[0].servers[0].wieght: unknown key" in err(d)


def test_router_port_cannot_be_server_port():
    d = copy.deepcopy(BASE)
    d["router_pools"][0]["routers"][0]["port"] = "p-s1"
    assert "also a server port" in err(d)


def test_cluster_ip_collisions_rejected():
    d = copy.deepcopy(BASE)
    d["clusters"][1]["ip"] = "10.9.0.100"
    assert "already used by another cluster" in err(d)
    d = copy.deepcopy(BASE)
    d["clusters"][1]["ip"] = "10.9.0.1"
    assert "gateway IP" in err(d)


def test_damping_options():
    d = copy.deepcopy(BASE)
    d["health"]["damping"] = False
    assert parse(d).clusters[0].health.damping is None
    d["health"]["damping"] = {"suppress": 100, "reuse": 200}
    assert "reuse" in err(d)


def test_ports_must_cover_servers_and_routers():
    d = copy.deepcopy(BASE)
    d["ports"] = ["p-r1", "p-s1"]
    assert "missing p-r2, p-s2" in err(d)

"""Acceptance: restarting the agent under 10,000 packets/s through the XDP forwarder loses
nothing, and the program id does not change (the new agent adopts the attached program).

Topology: h1 -- sw -- h2, where sw is a router with no addresses and no bridge, so the
XDP forwarder is the ONLY way a frame from h1 reaches h2: if the data plane paused, the
probe would count the loss.
"""
import json

import pytest

from hitless.lab import Lab
from hitless.lab.agents import LabAgent
from hitless.probe import background

pytestmark = pytest.mark.lab

VMAC, H1_MAC, H2_MAC = "02:aa:00:00:00:01", "02:00:00:00:1a:01", "02:00:00:00:1b:01"
TOPOLOGY = {
    "name": "fwd-restart",
    "nodes": {
        "h1": {"type": "host", "interfaces": {"eth0": {"mac": H1_MAC, "addresses": ["10.20.0.1/24"]}}},
        "sw": {"type": "router", "interfaces": {"p1": {}, "p2": {}}},
        "h2": {"type": "host", "interfaces": {"eth0": {"mac": H2_MAC, "addresses": ["10.20.0.2/24"]}}},
    },
    "links": [["h1:eth0", "sw:p1"], ["sw:p2", "h2:eth0"]],
}
ROLES = {"forwarder": {"interfaces": ["p1"],
                       "rules": [{"dst_mac": VMAC, "new_dst_mac": H2_MAC, "egress": "p2"}]}}


@pytest.fixture(scope="module")
def lab():
    with Lab.from_dict(TOPOLOGY, prefix="tfwr").running() as lab:
        # h1 reaches h2 through the forwarder's virtual MAC.
        lab.run("h1", ["ip", "neigh", "replace", "10.20.0.2", "lladdr", VMAC, "dev", "eth0", "nud", "permanent"])
        yield lab


def attached_prog_id(lab, node, ifname):
    link = json.loads(lab.run(node, ["ip", "-j", "-d", "link", "show", "dev", ifname]).stdout)[0]
    return link.get("xdp", {}).get("prog", {}).get("id")


def forwarded(agent):
    return agent.show("status")["roles"]["forwarder"]["counters"]["forwarded"]["packets"]


def test_restart_under_load_loses_nothing_and_keeps_the_program(lab):
    agent = LabAgent(lab, "sw", ROLES)
    try:
        agent.start()
        first = agent.show("status")
        prog_id = attached_prog_id(lab, "sw", "p1")
        assert prog_id == first["dataplane"]["programs"]["l2fwd"]["prog_id"]
        before = forwarded(agent)

        with background("h1", "h2", lab=lab.prefix, dst_ip="10.20.0.2", rate=10_000, count=60_000) as probe:
            for _ in range(2):  # two restarts inside one 6 s stream
                agent.restart()
                assert attached_prog_id(lab, "sw", "p1") == prog_id
            report = probe.wait()  # the stream runs its full count, restarts in the middle

        assert report.sent == 60_000, report.table()
        assert report.lost == 0, report.table()
        assert report.received == report.sent, report.table()
        status = agent.show("status")
        prog = status["dataplane"]["programs"]["l2fwd"]
        assert prog["prog_id"] == prog_id and prog["adopted"] is True
        assert status["roles"]["forwarder"]["last_sync"] == {"ports_written": 0, "rules_written": 0}
        # Every probe packet crossed the XDP forwarder (nothing else connects h1 to h2).
        assert forwarded(agent) - before >= report.received
    finally:
        agent.stop()


def test_without_the_forwarder_nothing_gets_through(lab):
    """The control for the test above: with XDP detached, h2 receives nothing."""
    agent = LabAgent(lab, "sw", ROLES).start()
    agent.stop()
    lab.run("sw", ["ip", "link", "set", "dev", "p1", "xdp", "off"])
    try:
        with background("h1", "h2", lab=lab.prefix, dst_ip="10.20.0.2", rate=1_000, count=1_000,
                        wait_flowing=None) as probe:
            report = probe.wait()
        assert report.sent == 1_000 and report.received == 0, report.table()
    finally:
        LabAgent(lab, "sw", ROLES).start().stop()  # re-attach for any later test

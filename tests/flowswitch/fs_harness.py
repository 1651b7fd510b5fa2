"""Flow-switch test harness: a compiled xdp_flowswitch with a small two-cluster setup.

Test runs have no real ingress port: the kernel reports the loopback (ifindex 1) as the
ingress interface, so tests set ifindex 1's port role to "server" or "router" to play
either side. Devmap slots all point at lo; the redirect verdict is what we check.
"""
from __future__ import annotations

import pytest

from hitless.dataplane.loader import compile_for_test
from hitless.flowswitch import maglev
from hitless.flowswitch.tables import (MODE_AVAILABILITY, MODE_BALANCE, PORT_ROUTER, PORT_SERVER,
                                       FlowSwitchMaps, ServerEntry, U32)

M = 251  # a small prime keeps table writes cheap; the bench uses 65537
LO = 1

VMAC_A, IP_A = "02:fe:00:00:00:0a", "10.20.0.100"
VMAC_B, IP_B = "02:fe:00:00:00:0b", "10.20.0.101"
CLIENT_MAC, CLIENT_IP = "02:00:00:00:00:c1", "192.0.2.7"
ROUTERS = {"r1": ("02:00:00:00:00:01", 0), "r2": ("02:00:00:00:00:02", 1)}
GW_IP = "10.20.0.1"
SELF_MAC = "02:00:00:00:aa:00"
# cluster A: servers 0..3 (slots 1..4); cluster B: servers 10, 11 (slots 1, 2: same ports as A's 0, 1)
SERVERS_A = {i: f"02:00:00:00:01:0{i}" for i in range(4)}
SERVERS_B = {10: "02:00:00:00:01:00", 11: "02:00:00:00:01:01"}


class FS:
    """The program plus the control-plane shadow a test needs to drive it."""

    def __init__(self, prog):
        self.prog = prog
        self.fm = FlowSwitchMaps(prog, M)
        self.weights = {0: {i: 1.0 for i in SERVERS_A}, 1: {i: 1.0 for i in SERVERS_B}}
        self.up = {sid: True for sid in [*SERVERS_A, *SERVERS_B]}
        self.tables = {}

    def reset(self):
        fm = self.fm
        fm.set_ports({s: LO for s in range(1, 5)}, {LO: PORT_ROUTER})
        fm.set_self_macs([SELF_MAC])
        fm.set_clusters({0: (IP_A, VMAC_A, MODE_BALANCE), 1: (IP_B, VMAC_B, MODE_BALANCE)})
        for sid, mac in SERVERS_A.items():
            fm.set_server(ServerEntry(sid, mac, sid + 1, True, 0))
        for sid, mac in SERVERS_B.items():
            fm.set_server(ServerEntry(sid, mac, sid - 9, True, 1))
        fm.set_server_sources({(IP_A, m): s for s, m in SERVERS_A.items()}
                              | {(IP_B, m): s for s, m in SERVERS_B.items()})
        self.weights = {0: {i: 1.0 for i in SERVERS_A}, 1: {i: 1.0 for i in SERVERS_B}}
        self.up = {sid: True for sid in [*SERVERS_A, *SERVERS_B]}
        self.rebuild(0)
        self.rebuild(1)
        fm.set_routers({mac: (rid, True, None, 0, 0, 0) for mac, rid in ROUTERS.values()})
        fm.set_gateways({GW_IP: (0, [m for m, _ in ROUTERS.values()])}, {})
        fm.set_router_ips({})
        fm.m("fs_ct").clear()
        fm.m("fs_frag").clear()

    def role(self, role: int):
        self.fm.m("fs_port_role").update(U32.pack(LO), U32.pack(role))

    def rebuild(self, cid: int, mode: int = MODE_BALANCE, primary: int | None = None):
        if mode == MODE_AVAILABILITY:
            table = maglev.build([maglev.Backend(f"s{primary}", primary, 1.0)], M) if primary is not None \
                else maglev.build([], M)
        else:
            table = maglev.build([maglev.Backend(f"s{sid}", sid, w) for sid, w in self.weights[cid].items()
                                  if self.up[sid]], M)
        self.tables[cid] = table
        self.fm.write_maglev(cid, table)
        return table

    def set_up(self, sid: int, up: bool, rebuild: bool = True):
        self.up[sid] = up
        cid = 0 if sid in SERVERS_A else 1
        mac = SERVERS_A.get(sid) or SERVERS_B[sid]
        slot = sid + 1 if cid == 0 else sid - 9
        self.fm.set_server(ServerEntry(sid, mac, slot, up, cid))
        if rebuild:
            self.rebuild(cid)

    def run(self, pkt: bytes):
        return self.prog.run(pkt)


@pytest.fixture(scope="module")
def compiled():  # imported by the test modules that use it
    with compile_for_test("flowswitch", cflags=[f"-DFS_MAGLEV_M={M}", "-DFS_CT_SIZE=65536"]) as t:
        yield FS(t)


@pytest.fixture
def fs(compiled):
    compiled.reset()
    compiled.role(PORT_ROUTER)
    return compiled


SERVER_ROLE, ROUTER_ROLE = PORT_SERVER, PORT_ROUTER

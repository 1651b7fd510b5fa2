"""The GLBP lab tests' toolkit (a uniquely named module; conftest.py holds the fixtures):
the 3-router/4-host/1-server lab (topology.yml) and `Gateway`, which starts agents with a
group configuration, crashes and restarts them, reads `show gateway`, and runs nettool.py
inside nodes. `Gateway.reset` undoes everything a test did: agents, links, the VMACs left
in XDP, host ARP entries."""
from __future__ import annotations

import contextlib
import ipaddress
import json
import subprocess
import sys
from pathlib import Path

from hitless.dataplane.bpfsys import MapHandle
from hitless.errors import LabError
from hitless.lab import Lab
from hitless.lab.agents import LabAgent
from hitless.wire import glbp
from hitless.lab.poll import wait_for

HERE = Path(__file__).parent
TOPOLOGY = HERE / "topology.yml"
NETTOOL = HERE / "nettool.py"
PREFIX = "tgw"
VIP = "10.31.1.1"
SERVER = "10.31.2.10"
ROUTERS = {"r1": ("10.31.1.2", "02:00:00:31:01:02", 150),
           "r2": ("10.31.1.3", "02:00:00:31:01:03", 120),
           "r3": ("10.31.1.4", "02:00:00:31:01:04", 100)}
HOSTS = {"h1": ("10.31.1.11", "02:00:00:31:01:11"), "h2": ("10.31.1.12", "02:00:00:31:01:12"),
         "h3": ("10.31.1.13", "02:00:00:31:01:13"), "h4": ("10.31.1.14", "02:00:00:31:01:14")}
HELLO_MS, HOLD_MS = 100, 600
TIMERS = {"hello": f"{HELLO_MS}ms", "hold": f"{HOLD_MS}ms", "redirect": "4s", "timeout": "8s"}
GROUP = 1


def V(n: int) -> str:
    return glbp.mac_text(glbp.vmac(GROUP, n))




class Gateway:
    def __init__(self, lab: Lab):
        self.lab = lab
        self.agents: dict[str, LabAgent] = {}

    # --- agents ---
    def roles(self, router: str, **group) -> dict:
        g = {"group": GROUP, "interface": "eth0", "vip": VIP, "priority": ROUTERS[router][2],
             "timers": dict(TIMERS), "forwarder_preempt_delay": "1s"}
        g.update(group)
        return {"gateway": {"groups": [g]}}

    def start(self, router: str, **group) -> LabAgent:
        a = LabAgent(self.lab, router, self.roles(router, **group))
        self.agents[router] = a.start()
        return a

    def start_all(self, *routers: str, extra: dict | None = None, **group) -> None:
        """Starts the agents together (in parallel), so they elect as a cold start.
        `extra`: router -> extra top-level agent configuration (e.g. metrics)."""
        routers = routers or tuple(ROUTERS)
        agents = {r: LabAgent(self.lab, r, self.roles(r, **group), extra=(extra or {}).get(r)) for r in routers}
        for r, a in agents.items():
            a.write_config()
            a.proc = self.lab.popen(r, [sys.executable, "-m", "hitless", "agent", "--config", str(a.config_path)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.agents[r] = a
        for a in agents.values():
            a.wait_ready(90)

    def show(self, router: str) -> dict:
        return self.agents[router].show("gateway")

    def group(self, router: str) -> dict:
        return self.show(router)["groups"][0]

    def kill(self, router: str) -> None:
        """The agent crashes (kill -9); its XDP entries stay and keep forwarding."""
        self.agents[router].kill()

    def crash(self, router: str) -> None:
        """The whole router dies: agent killed and its LAN link gone."""
        self.agents[router].kill()
        self.lab.run(router, ["ip", "link", "set", "dev", "eth0", "down"])

    def revive(self, router: str, **group) -> LabAgent:
        self.lab.run(router, ["ip", "link", "set", "dev", "eth0", "up"])
        return self.start(router, **group)

    def wait_converged(self, routers=tuple(ROUTERS), avg="r1", standby=None, timeout=20.0) -> None:
        """Waits for `avg` active, one standby (the best of the rest, or `standby`) and the
        others listening, each owning an active forwarder."""
        if standby is None and len(routers) > 1:
            standby = max((r for r in routers if r != avg), key=lambda r: (ROUTERS[r][2], ipaddress.IPv4Address(ROUTERS[r][0])))

        def ok():
            gs = {r: self.group(r) for r in routers}
            if gs[avg]["state"] != "active":
                return False
            if standby and gs[standby]["state"] != "standby":
                return False
            if any(g["state"] != "listen" for r, g in gs.items() if r not in (avg, standby)):
                return False
            return all(sum(f["state"] == "active" for f in g["forwarders"]) >= 1 for g in gs.values())
        wait_for(ok, timeout, f"group to converge with {avg} as AVG and {standby} as standby")

    def accepting(self, router: str) -> set[str]:
        """VMACs in the router's XDP table (what the data plane accepts right now)."""
        dp = self.show(router)["dataplane"]
        return {v["vmac"] for v in dp["vmacs"]}

    def fwd(self, router: str, n: int) -> dict | None:
        return next((f for f in self.group(router)["forwarders"] if f["number"] == n), None)

    def owner_vmac(self, router: str) -> str:
        mac = ROUTERS[router][1]
        return next(f["vmac"] for f in self.group(router)["forwarders"] if f["owner_mac"] == mac)

    # --- inside nodes ---
    def tool(self, node: str, *args: str, timeout: float = 30) -> list:
        r = self.lab.run(node, [sys.executable, str(NETTOOL), *args], timeout=timeout)
        return json.loads(r.stdout)

    def listen(self, node: str, seconds: float) -> subprocess.Popen:
        return self.lab.popen(node, [sys.executable, str(NETTOOL), "listen", "eth0", str(seconds)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @staticmethod
    def collect(proc: subprocess.Popen) -> list:
        out, _ = proc.communicate(timeout=60)
        return json.loads(out)

    def arp(self, host: str, dst: str | None = None, wait: float = 0.5) -> list:
        args = ["arp", "eth0", VIP, "--wait", str(wait)] + (["--dst", dst] if dst else [])
        return self.tool(host, *args)

    def bind(self, host: str, vmac: str) -> None:
        """Pins a host's gateway to one VMAC (a permanent ARP entry), for probes."""
        self.lab.run(host, ["ip", "neigh", "replace", VIP, "lladdr", vmac, "dev", "eth0", "nud", "permanent"])

    def host_vmac(self, host: str) -> str | None:
        out = self.lab.run(host, ["ip", "-j", "neigh", "show", VIP, "dev", "eth0"]).stdout
        entries = json.loads(out or "[]")
        return entries[0].get("lladdr") if entries else None

    def warm(self) -> None:
        """Routers resolve the server once, so a takeover never waits for that ARP."""
        for r in ROUTERS:
            self.lab.run(r, ["ping", "-c", "1", "-W", "1", SERVER], check=False)

    # --- teardown ---
    def reset(self) -> None:
        for a in self.agents.values():
            with contextlib.suppress(Exception):
                a.kill()
        self.agents.clear()
        for r in ROUTERS:
            with contextlib.suppress(LabError):
                self.lab.run(r, ["ip", "link", "set", "dev", "eth0", "up"], check=False)
                self.lab.run(r, ["ip", "link", "set", "dev", "eth1", "up"], check=False)
            # The program stays attached (the next agent adopts it in milliseconds instead of
            # compiling for seconds); only the VMACs a killed agent left behind are removed.
            pin = Path(self.lab.pin_root(r)) / "gw_vmacs"
            if pin.exists():
                with MapHandle.from_pin(str(pin)) as m:
                    m.clear()
        for h in HOSTS:
            with contextlib.suppress(LabError):
                self.lab.run(h, ["ip", "neigh", "flush", "dev", "eth0"], check=False)
                self.lab.run(h, ["ip", "neigh", "del", VIP, "dev", "eth0"], check=False)

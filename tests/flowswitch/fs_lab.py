"""Lab harness for flow-switch tests: topology.yml, the agent's config, taps and senders.

Three clusters on one switch, each with another health-check type:
  web  10.30.0.100  balance       s1..s4 (capacity 1 each)   ARP checks
  mail 10.30.0.101  availability  s1 (primary), s2           ICMP checks to 10.30.0.11/12
  api  10.30.0.102  balance       s3 (capacity 1), s4 (3)    TCP connect to :8080
s1 and s2 serve two clusters each on one port. Router pool "core": r1, r2 behind
gateway IP 10.30.0.1 (which no router holds).
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from hitless.lab import Lab
from hitless.lab.agents import LabAgent
from hitless.lab.poll import wait_for

HERE = Path(__file__).parent
TOPOLOGY = HERE / "topology.yml"
FLOWTOOL = str(HERE / "flowtool.py")
PY = sys.executable

WEB, MAIL, API = "10.30.0.100", "10.30.0.101", "10.30.0.102"
VMAC = {"web": "02:fe:00:00:00:01", "mail": "02:fe:00:00:00:02", "api": "02:fe:00:00:00:03"}
GW = "10.30.0.1"
SW_IP = "10.30.0.250"
METRICS = f"{SW_IP}:9400"
SERVER_MAC = {f"s{i}": f"02:00:00:30:00:1{i}" for i in range(1, 5)}
SERVER_ADDR = {f"s{i}": f"10.30.0.1{i}" for i in range(1, 5)}
SERVER_PORT = {f"s{i}": f"p{i + 2}" for i in range(1, 5)}
ROUTER_MAC = {"r1": "02:00:00:30:00:02", "r2": "02:00:00:30:00:03"}
ROUTER_IP = {"r1": "10.30.0.2", "r2": "10.30.0.3"}
CLIENT_MAC, CLIENT_IP = "02:00:00:c0:00:10", "198.51.100.10"
R1_OUTSIDE_MAC = "02:00:00:c0:00:01"
SERVERS = list(SERVER_MAC)

DAMPING = {"half_life": "3s", "penalty": 1000, "suppress": 2000, "reuse": 500, "max_suppress": "60s"}
HC = {"type": "arp", "interval": "100ms", "timeout": "80ms", "rise": 2, "fall": 2, "damping": DAMPING}


def server(name: str, capacity: int = 1, address: bool = False) -> dict:
    d = {"name": name, "mac": SERVER_MAC[name], "port": SERVER_PORT[name], "capacity": capacity}
    if address:
        d["address"] = SERVER_ADDR[name]
    return d


def flowswitch_config(rebalance: str = "1s") -> dict:
    return {
        "bridge": "br0", "maglev_size": 65537, "conntrack_size": 65536, "rebalance_interval": rebalance,
        "health": HC,
        "router_pools": [{"name": "core", "gateway_ip": GW, "select": "round-robin", "routers": [
            {"name": r, "mac": ROUTER_MAC[r], "ip": ROUTER_IP[r], "port": f"p{i + 1}"}
            for i, r in enumerate(("r1", "r2"))]}],
        "clusters": [
            {"name": "web", "ip": WEB, "vmac": VMAC["web"], "router_pool": "core",
             "servers": [server(s) for s in SERVERS]},
            {"name": "mail", "ip": MAIL, "vmac": VMAC["mail"], "mode": "availability", "primary": "s1",
             "router_pool": "core", "health": {"type": "icmp"},
             "servers": [server("s1", address=True), server("s2", address=True)]},
            {"name": "api", "ip": API, "vmac": VMAC["api"], "router_pool": "core",
             "health": {"type": "tcp", "port": 8080},
             "servers": [server("s3", 1, address=True), server("s4", 3, address=True)]},
        ],
    }


LISTENER = ("import socket\n"
            "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('0.0.0.0', 8080)); s.listen(128)\n"
            "while True:\n    c, _ = s.accept(); c.close()\n")


class Env:
    """The running lab, its agent, and helpers tests share."""

    def __init__(self, lab: Lab, agent: LabAgent):
        self.lab, self.agent = lab, agent
        self.listeners: dict[str, subprocess.Popen] = {}

    # -- agent state --

    def show(self) -> dict:
        return self.agent.show("flowswitch")

    def member(self, cluster: str, server: str, st: dict | None = None) -> dict:
        st = st or self.show()
        c = next(c for c in st["clusters"] if c["name"] == cluster)
        return next(s for s in c["servers"] if s["name"] == server)

    def cluster(self, name: str, st: dict | None = None) -> dict:
        return next(c for c in (st or self.show())["clusters"] if c["name"] == name)

    def router(self, name: str, st: dict | None = None) -> dict:
        st = st or self.show()
        return next(r for p in st["router_pools"] for r in p["routers"] if r["name"] == name)

    def wait(self, pred, timeout: float = 20.0, what: str = "condition"):
        seen = {}

        def check():
            seen["state"] = st = self.show()
            return st if pred(st) else None

        return wait_for(check, timeout, what, step=0.1,
                        detail=lambda: f"last state: {json.dumps(seen.get('state'))[:2000]}\n"
                                       f"{self.agent.log_tail(20)}")

    def wait_member(self, cluster: str, server: str, state: str, timeout: float = 20.0) -> dict:
        return self.wait(lambda st: self.member(cluster, server, st)["state"] == state, timeout,
                         f"{cluster}/{server} {state}")

    def wait_router(self, name: str, state: str, timeout: float = 20.0) -> dict:
        return self.wait(lambda st: self.router(name, st)["state"] == state, timeout, f"router {name} {state}")

    def all_up(self, st: dict) -> bool:
        return all(s["state"] == "up" for c in st["clusters"] for s in c["servers"]) and \
            all(r["state"] == "up" for p in st["router_pools"] for r in p["routers"])

    def stats(self) -> dict:
        return {k: v["packets"] for k, v in self.show()["stats"].items()}

    # -- faults --

    @contextlib.contextmanager
    def link_down(self, node: str, ifname: str = "eth0"):
        self.lab.run(node, ["ip", "link", "set", ifname, "down"])
        try:
            yield
        finally:
            self.lab.run(node, ["ip", "link", "set", ifname, "up"])

    def start_listener(self, node: str) -> None:
        self.listeners[node] = self.lab.popen(node, [PY, "-c", LISTENER], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)

    def stop_listener(self, node: str) -> None:
        p = self.listeners.pop(node, None)
        if p is not None and p.poll() is None:
            p.terminate()
            p.wait(timeout=10)

    # -- traffic --

    def send(self, node: str, frames: list[bytes], iface: str = "eth0", repeat: int = 1) -> None:
        self.lab.run(node, [PY, FLOWTOOL, "send", "--iface", iface, "--frames", ",".join(f.hex() for f in frames),
                            "--repeat", str(repeat)], timeout=120)

    @contextlib.contextmanager
    def taps(self, nodes: list[str], src: list[str] = (), arp_ip: list[str] = (), iface: str = "eth0",
             max_frames: int = 200):
        """Captures on each node's iface while the block runs; fills the yielded dict afterwards."""
        procs = {}
        out: dict[str, dict] = {}
        try:
            for n in nodes:
                argv = [PY, FLOWTOOL, "tap", "--iface", iface, "--max-frames", str(max_frames), "--duration", "300"]
                for s in src:
                    argv += ["--src", s]
                for a in arp_ip:
                    argv += ["--arp-ip", a]
                procs[n] = self.lab.popen(n, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for n, p in procs.items():
                r, _, _ = select.select([p.stdout], [], [], 30)
                line = p.stdout.readline() if r else ""
                if line.strip() != "ready":
                    raise AssertionError(f"tap on {n} did not start: {line!r} {p.stderr.read() if p.poll() else ''}")
            yield out
            time.sleep(0.3)  # let the last frames land
        finally:
            for n, p in procs.items():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for n, p in procs.items():
                try:
                    stdout, _ = p.communicate(timeout=30)
                    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
                    out[n] = json.loads(lines[-1]) if lines else {"frames": [], "flows": {}, "count": 0}
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()


def lab_env(prefix: str, roles: dict | None = None, extra: dict | None = None):
    """Context manager: lab up, listeners, agent up and every target healthy; all torn down after."""
    @contextlib.contextmanager
    def cm():
        lab = Lab.load(TOPOLOGY, prefix=prefix)
        with lab.running():
            agent = LabAgent(lab, "sw", roles or {"flowswitch": flowswitch_config()},
                             extra=extra if extra is not None else {"metrics": {"listen": METRICS}})
            env = Env(lab, agent)
            try:
                env.start_listener("s3")
                env.start_listener("s4")
                agent.start(timeout=120)
                env.wait(env.all_up, timeout=60, what="every server and router up")
                yield env
            finally:
                try:
                    agent.stop()
                except subprocess.TimeoutExpired:
                    agent.kill()
                for n in list(env.listeners):
                    env.stop_listener(n)
    return cm()


def os_env_ok() -> bool:
    return os.geteuid() == 0

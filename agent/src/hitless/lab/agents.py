"""Agents inside lab nodes, for tests and benchmarks: start, ask, restart, kill.

    agent = LabAgent(lab, "sw", {"forwarder": {...}})   # node: and control: are filled in
    agent.start()                 # returns once the control socket answers
    agent.show("status")          # the `show status` result (dict)
    agent.restart()               # SIGTERM, wait, start again: the data plane stays attached
    agent.kill()                  # SIGKILL, as a crash
The configuration is written to /run/hitless-lab/<prefix>/agents/<node>.yml and the log
beside it; `lab down` kills any agent still running in the node's namespace.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from hitless.agentd.control import request
from hitless.errors import LabError


class LabAgent:
    def __init__(self, lab, node: str, roles: dict, log_format: str = "text", extra: dict | None = None):
        self.lab, self.node = lab, node
        self.node_id = lab.agent_node_id(node)
        self.dir = Path(f"/run/hitless-lab/{lab.prefix}/agents")
        self.config_path = self.dir / f"{node}.yml"
        self.log_path = self.dir / f"{node}.log"
        self.socket = str(self.dir / f"{node}.sock")
        self.config = {"node": self.node_id, "control": {"socket": self.socket},
                       "log": {"format": log_format, "level": "debug", "file": str(self.log_path)},
                       **(extra or {}), **roles}
        self.proc: subprocess.Popen | None = None

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))

    def start(self, timeout: float = 60.0) -> "LabAgent":
        self.write_config()
        self.proc = self.lab.popen(self.node, [sys.executable, "-m", "hitless", "agent", "--config",
                                               str(self.config_path)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError(f"agent on {self.node} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if request(self.socket, "ping", timeout=2).get("ok"):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise LabError(f"agent on {self.node} not ready after {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def ask(self, cmd: str, args: dict | None = None) -> dict:
        resp = request(self.socket, cmd, args)
        if not resp.get("ok"):
            raise LabError(f"agent on {self.node}: {cmd}: {resp.get('error')}")
        return resp["result"]

    def show(self, topic: str = "status") -> dict:
        return self.ask(f"show {topic}")

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart(self, timeout: float = 60.0) -> "LabAgent":
        code = self.stop()
        if code not in (0, None):
            raise LabError(f"agent on {self.node} stopped with exit code {code}:\n{self.log_tail()}")
        return self.start(timeout)

    def __enter__(self) -> "LabAgent":
        return self.start()

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            self.kill()

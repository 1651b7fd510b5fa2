"""The agent process: one asyncio loop running the configured roles and the control socket.

Start: load the data plane (adopting what a previous agent left attached), start each role,
open the control socket. SIGTERM/SIGINT: stop roles and the socket, and leave the data plane
attached and its maps pinned, so forwarding never pauses while the agent is away.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time

from hitless import __version__
from hitless.agentd.control import ControlServer
from hitless.agentd.logsetup import setup_logging
from hitless.agentd.roles import service_class
from hitless.agentd.service import AgentContext
from hitless.config.agent import AgentConfig
from hitless.dataplane.loader import Dataplane


class Agent:
    def __init__(self, config: AgentConfig):
        self.config = config
        self.log = setup_logging(config.log, config.node)
        self.ctx = AgentContext(config=config, log=self.log)
        self.ctx.dataplane = Dataplane(config.node, config.dataplane.bpffs, config.dataplane.xdp_mode,
                                       self.log.getChild("dataplane"))
        self.services = [service_class(role)(cfg, self.ctx) for role, cfg in config.roles.items()]
        self.started_at = time.time()
        self.control: ControlServer | None = None
        self.metrics_server = None
        self._stop = asyncio.Event()

    def status(self) -> dict:
        return {
            "node": self.config.node, "version": __version__, "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 3), "config": self.config.file,
            "dataplane": {"pin_dir": self.ctx.dataplane.pin_dir,
                          "programs": {n: p.status() for n, p in self.ctx.dataplane.programs.items()}},
            "roles": {svc.name: svc.status() for svc in self.services},
        }

    def handlers(self) -> dict:
        handlers = {"show status": lambda _a: self.status(), "ping": lambda _a: {"pong": True}}
        for svc in self.services:
            handlers.update(svc.commands())
        return handlers

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        self.log.info("agent %s starting (pid %d, roles: %s)", __version__, os.getpid(),
                      ", ".join(s.name for s in self.services) or "none")
        for svc in self.services:
            await svc.start()
        if self.config.metrics_listen:
            from hitless.agentd.metrics import start_metrics_server

            self.metrics_server = start_metrics_server(self.config.metrics_listen, self.ctx.collectors)
        self.control = ControlServer(self.config.control_socket, self.handlers(), self.log.getChild("control"))
        await self.control.start()
        self.log.info("agent ready; control socket %s", self.config.control_socket)
        await self._stop.wait()
        self.log.info("agent stopping; the data plane stays attached")
        await self.control.stop()
        for svc in reversed(self.services):
            await svc.stop()
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
        return 0


def run_agent(config: AgentConfig) -> int:
    return asyncio.run(Agent(config).run())

"""The contract between the agent daemon and a role (forwarder, gateway, flow switch).

A role is a `RoleService`: the daemon builds it from the role's parsed configuration and
an `AgentContext`, awaits `start()`, asks `status()` for `hitless show status`, routes
`hitless show <role>` and other control commands to `commands()`, and on SIGTERM awaits
`stop()`. `stop()` must leave the XDP data plane attached: a restarted agent adopts it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from hitless.config.agent import AgentConfig

# A control command handler takes the request's arguments and returns a JSON-able dict.
CommandHandler = Callable[[dict], "dict | Awaitable[dict]"]


@dataclass
class AgentContext:
    config: AgentConfig
    log: logging.Logger
    clock: Callable[[], float] = time.monotonic
    # Filled by the daemon: the shared data-plane manager (hitless.dataplane.loader.Dataplane).
    dataplane: Any = None
    # Prometheus collectors a role registers (prometheus_client Collector instances).
    collectors: list = field(default_factory=list)

    @property
    def node(self) -> str:
        return self.config.node


class RoleService(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status(self) -> dict: ...

    def commands(self) -> dict[str, CommandHandler]: ...

"""`hitless agent --config FILE`: run the daemon in the foreground."""
from __future__ import annotations

import os

from hitless.config.agent import load_agent_config

DEFAULT_CONFIG = "/etc/hitless/agent.yml"


def register(sub) -> None:
    p = sub.add_parser("agent", help="run the agent daemon (foreground)")
    p.add_argument("--config", "-c", default=DEFAULT_CONFIG, help=f"configuration file (default {DEFAULT_CONFIG})")
    p.set_defaults(func=run)


def run(args) -> int:
    config = load_agent_config(args.config)
    if os.geteuid() != 0:
        print("hitless agent: must run as root (XDP, bpffs and the control socket need it)")
        return 2
    from hitless.agentd.daemon import run_agent  # late: pulls in asyncio machinery and roles

    return run_agent(config)

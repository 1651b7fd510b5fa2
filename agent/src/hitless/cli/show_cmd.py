"""`hitless show status|forwarder|gateway|flowswitch [--json]`: ask a running agent.

The socket is found from --socket, else from --config's `control.socket`, else the only
socket under /run/hitless/.
"""
from __future__ import annotations

import glob
import importlib
import json
import os

from hitless.agentd.control import request
from hitless.config.agent import load_agent_config
from hitless.errors import HitlessError

TOPICS = ("status", "forwarder", "gateway", "flowswitch")


def register(sub) -> None:
    p = sub.add_parser("show", help="show a running agent's state")
    p.add_argument("topic", choices=TOPICS)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--socket", help="control socket path")
    p.add_argument("--config", "-c", help="agent configuration file (to find its socket)")
    p.set_defaults(func=run)


def find_socket(args) -> str:
    if args.socket:
        return args.socket
    config = args.config or ("/etc/hitless/agent.yml" if os.path.exists("/etc/hitless/agent.yml") else None)
    if config:
        return load_agent_config(config).control_socket
    found = glob.glob("/run/hitless/*.sock")
    if len(found) == 1:
        return found[0]
    raise HitlessError("cannot tell which agent to ask: pass --socket or --config"
                       + (f" (sockets: {', '.join(found)})" if found else " (no agent socket under /run/hitless)"))


def _flatten(prefix: str, value, out: list[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out.append(f"{prefix:<48} {value}")


def format_default(result: dict) -> str:
    lines: list[str] = []
    _flatten("", result, lines)
    return "\n".join(lines)


def run(args) -> int:
    path = find_socket(args)
    try:
        resp = request(path, f"show {args.topic}")
    except OSError as exc:
        raise HitlessError(f"agent not reachable at {path}: {exc.strerror or exc}") from None
    if not resp.get("ok"):
        raise HitlessError(resp.get("error", "agent returned an error"))
    result = resp["result"]
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    formatter = format_default
    try:  # a role may ship its own table view as hitless.<role>.show:format_table
        formatter = importlib.import_module(f"hitless.{args.topic}.show").format_table
    except (ModuleNotFoundError, AttributeError):
        pass
    print(formatter(result))
    return 0

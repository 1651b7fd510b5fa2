"""`hitless validate FILE`: the agent's own configuration check, for people and templates."""
from __future__ import annotations

from hitless.config.agent import load_agent_config


def register(sub) -> None:
    p = sub.add_parser("validate", help="validate an agent configuration file")
    p.add_argument("file")
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = load_agent_config(args.file)  # raises ConfigError -> "hitless: file: key: reason", exit 2
    roles = ", ".join(cfg.roles) or "no roles"
    print(f"{args.file}: ok (node {cfg.node}; {roles})")
    return 0

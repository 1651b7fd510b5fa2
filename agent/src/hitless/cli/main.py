"""Entry point of the `hitless` command: each concern registers its own subcommands.

A module in SUBCOMMAND_MODULES exposes `register(subparsers)`, which adds parsers whose
`func(args) -> int` runs the command. Errors of hitless's own kinds print one line and
exit 2 instead of a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from hitless import __version__
from hitless.errors import HitlessError

SUBCOMMAND_MODULES = [
    "hitless.cli.agent_cmd",     # hitless agent --config FILE
    "hitless.cli.validate_cmd",  # hitless validate FILE
    "hitless.cli.show_cmd",      # hitless show status|gateway|flowswitch [--json]
    "hitless.lab.cli",           # hitless lab up|down|status|exec
    "hitless.probe.cli",         # hitless probe send|receive|report
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hitless", description="hitless: hitless redundancy for Linux switches")
    parser.add_argument("--version", action="version", version=f"hitless {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside the module must surface
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HitlessError as exc:
        print(f"hitless: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

"""The agent's configuration file (`/etc/hitless/agent.yml`): common keys plus role sections.

Each role owns the parser of its own section; this module only knows their names, so a
new role is one line in ROLE_PARSERS and nothing else here changes.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hitless.config.schema import Section
from hitless.errors import ConfigError

# role section name -> "module:function" taking a Section and returning the role's config.
ROLE_PARSERS = {
    "forwarder": "hitless.dataplane.forwarder:parse_config",
    "gateway": "hitless.gateway.config:parse_config",
    "flowswitch": "hitless.flowswitch.config:parse_config",
}
COMMON_KEYS = {"node", "log", "control", "dataplane", "metrics"}
_NODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


@dataclass
class LogConfig:
    format: str = "text"
    level: str = "info"
    file: str | None = None


@dataclass
class DataplaneConfig:
    bpffs: str = "/sys/fs/bpf/hitless"
    xdp_mode: str = "auto"  # auto | native | generic

    def pin_dir(self, node: str) -> str:
        return f"{self.bpffs}/{node}"


@dataclass
class AgentConfig:
    file: str
    node: str
    log: LogConfig
    control_socket: str
    dataplane: DataplaneConfig
    metrics_listen: str | None
    roles: dict[str, Any] = field(default_factory=dict)


def _resolve(spec: str):
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)


def parse_agent_config(data: Any, file: str) -> AgentConfig:
    top = Section(data, file)
    top.reject_unknown(COMMON_KEYS | set(ROLE_PARSERS))
    node = top.str("node")
    if not _NODE_RE.match(node):
        raise top.error("node", "must be 1-32 characters of letters, digits, '_', '.', '-'")
    log = top.section("log", {})
    log.reject_unknown({"format", "level", "file"})
    ctl = top.section("control", {})
    ctl.reject_unknown({"socket"})
    dp = top.section("dataplane", {})
    dp.reject_unknown({"bpffs", "xdp_mode"})
    met = top.section("metrics", {})
    met.reject_unknown({"listen"})
    metrics_listen = met.str("listen", None) if "listen" in met else None
    if metrics_listen is not None:
        host, _, port = metrics_listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise met.error("listen", f"must be ADDRESS:PORT, got {metrics_listen!r}")
        if host in ("0.0.0.0", "::", "[::]"):
            raise met.error("listen", "must be the management address, not a wildcard")
    cfg = AgentConfig(
        file=str(file),
        node=node,
        log=LogConfig(
            format=log.str("format", "text", choices=("text", "json")),
            level=log.str("level", "info", choices=("debug", "info", "warning", "error")),
            file=log.str("file", None) if "file" in log else None,
        ),
        control_socket=ctl.str("socket", f"/run/hitless/{node}.sock"),
        dataplane=DataplaneConfig(
            bpffs=dp.str("bpffs", "/sys/fs/bpf/hitless"),
            xdp_mode=dp.str("xdp_mode", "auto", choices=("auto", "native", "generic")),
        ),
        metrics_listen=metrics_listen,
    )
    for role, spec in ROLE_PARSERS.items():
        if role in top:
            cfg.roles[role] = _resolve(spec)(top.section(role))
    return cfg


def load_agent_config(path: str | Path) -> AgentConfig:
    """Reads and validates a configuration file; every problem is a ConfigError."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(str(path), "", f"not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_agent_config(data, str(path))

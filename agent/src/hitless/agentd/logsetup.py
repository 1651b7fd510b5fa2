"""Agent logging: plain text for people, one JSON object per line for collectors."""
from __future__ import annotations

import json
import logging
import sys
import time

from hitless.config.agent import LogConfig


class JsonFormatter(logging.Formatter):
    def __init__(self, node: str):
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "node": self.node, "logger": record.name,
               "msg": record.getMessage()}
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, sort_keys=True)


def setup_logging(cfg: LogConfig, node: str) -> logging.Logger:
    handler: logging.Handler = logging.FileHandler(cfg.file) if cfg.file else logging.StreamHandler(sys.stderr)
    if cfg.format == "json":
        handler.setFormatter(JsonFormatter(node))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {node} %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger("hitless")
    root.handlers[:] = [handler]
    root.setLevel(cfg.level.upper())
    root.propagate = False
    return root

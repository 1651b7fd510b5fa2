"""The agent's Prometheus endpoint: the roles' collectors, served on the management address only.

    server = start_metrics_server("192.0.2.10:9400", ctx.collectors)
    ...
    server.shutdown()

A private CollectorRegistry (not the process-global default) so only what the roles
register is exported, and a test can run two agents in one process. The listener binds
exactly the configured address: the config already refuses wildcards, and this module
refuses them too, because metrics must not leak onto data-plane interfaces.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import ThreadingHTTPServer
from typing import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import MetricsHandler

from hitless.errors import HitlessError


def parse_listen(listen: str) -> tuple[str, int]:
    """ "ADDR:PORT" or "[V6]:PORT" -> (addr, port); refuses wildcards and bad ports."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port (tests)
        raise HitlessError(f"metrics listen {listen!r}: must be ADDRESS:PORT")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise HitlessError(f"metrics listen {listen!r}: {host!r} is not an IP address") from None
    if addr.is_unspecified:
        raise HitlessError(f"metrics listen {listen!r}: must be the management address, not a wildcard")
    return str(addr), int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class MetricsServer:
    """A running endpoint; `shutdown()` stops it and closes the socket."""

    def __init__(self, httpd: _Server, thread: threading.Thread, registry: CollectorRegistry):
        self.httpd, self.thread, self.registry = httpd, thread, registry

    @property
    def address(self) -> tuple[str, int]:
        return self.httpd.server_address[:2]

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(listen: str, collectors: Iterable) -> MetricsServer:
    host, port = parse_listen(listen)
    registry = CollectorRegistry(auto_describe=False)
    for c in collectors:
        registry.register(c)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_cls = type("_MetricsServer", (_Server,), {"address_family": family})
    try:
        httpd = server_cls((host, port), MetricsHandler.factory(registry))
    except OSError as exc:
        raise HitlessError(f"metrics listen {listen}: {exc.strerror or exc}") from None
    thread = threading.Thread(target=httpd.serve_forever, name="metrics", daemon=True)
    thread.start()
    return MetricsServer(httpd, thread, registry)

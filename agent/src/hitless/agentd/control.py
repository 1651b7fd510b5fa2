"""The agent's control socket: newline-delimited JSON over a root-only Unix socket.

Request  {"cmd": "show status", "args": {...}}
Response {"ok": true, "result": {...}} or {"ok": false, "error": "..."}
The socket file is mode 0600 in a 0700 directory, and each connection's peer credentials
are checked too, so only root can drive the agent even if the file mode is changed.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import socket
import struct
from typing import Awaitable, Callable

MAX_REQUEST = 64 * 1024
Handler = Callable[[dict], "dict | Awaitable[dict]"]


def _peer_uid(writer: asyncio.StreamWriter) -> int:
    sock = writer.get_extra_info("socket")
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


class ControlServer:
    def __init__(self, path: str, handlers: dict[str, Handler], log: logging.Logger):
        self.path, self.handlers, self.log = path, handlers, log
        self.server: asyncio.AbstractServer | None = None
        self.rejected = 0

    async def start(self) -> None:
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if os.path.exists(self.path):
            os.unlink(self.path)  # a stale socket from a crashed agent
        old_umask = os.umask(0o177)
        try:
            self.server = await asyncio.start_unix_server(self._serve, path=self.path, limit=MAX_REQUEST)
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()
        if os.path.exists(self.path):
            os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if _peer_uid(writer) != 0:
                self.rejected += 1
                self.log.warning("control: rejected a connection from a non-root peer")
                return
            while line := await reader.readline():
                writer.write(json.dumps(await self.dispatch(line)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
            self.log.warning("control: dropped a connection: %s", exc)
        finally:
            writer.close()

    async def dispatch(self, line: bytes) -> dict:
        try:
            req = json.loads(line)
            if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
                raise ValueError("request must be an object with a string 'cmd'")
        except ValueError as exc:
            self.rejected += 1
            self.log.warning("control: malformed request: %s", exc)
            return {"ok": False, "error": f"malformed request: {exc}"}
        handler = self.handlers.get(req["cmd"])
        if handler is None:
            return {"ok": False, "error": f"unknown command {req['cmd']!r}; known: {', '.join(sorted(self.handlers))}"}
        try:
            result = handler(req.get("args") or {})
            if inspect.isawaitable(result):
                result = await result
            return {"ok": True, "result": result}
        except Exception as exc:  # a failing command must not take the agent down
            self.log.exception("control: command %s failed", req["cmd"])
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def request(path: str, cmd: str, args: dict | None = None, timeout: float = 10.0) -> dict:
    """Client side: sends one command and returns the response object."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps({"cmd": cmd, "args": args or {}}).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)

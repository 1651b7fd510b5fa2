"""Typed access to one YAML mapping, raising ConfigError with file, dotted key and reason.

Every role parses its own section through `Section`, so all configuration errors read
the same way: `agent.yml: gateway.groups[0].priority: must be 1..255, got 300`.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterable, Iterator

from hitless.errors import ConfigError

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")
_MISSING = object()


def normalise_mac(text: str) -> str:
    """Returns a MAC as lower-case colon-separated text; raises ValueError when malformed."""
    if not isinstance(text, str) or not _MAC_RE.match(text):
        raise ValueError(f"not a MAC address: {text!r}")
    return text.lower().replace("-", ":")


def mac_bytes(text: str) -> bytes:
    return bytes.fromhex(normalise_mac(text).replace(":", ""))


def parse_duration_ms(value: Any) -> int:
    """Accepts 150, '150ms', '3s', '2m', '4h' and returns milliseconds (int)."""
    if isinstance(value, bool):
        raise ValueError("a duration, not a boolean")
    if isinstance(value, (int, float)):
        return int(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 150ms, 3s, 4h)")
    scale = {"ms": 1, None: 1, "s": 1000, "m": 60_000, "h": 3_600_000}[m.group(2)]
    return int(float(m.group(1)) * scale)


class Section:
    """A mapping found at `path` in `file`, with validating getters."""

    def __init__(self, data: Any, file: str, path: str = ""):
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(file, path, f"must be a mapping, got {type(data).__name__}")
        self.data, self.file, self.path = data, str(file), path

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, reason: str) -> ConfigError:
        return ConfigError(self.file, self.key(name), reason)

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def reject_unknown(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in self.data:
            if name not in allowed:
                raise self.error(str(name), f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            raise self.error(name, "required key is missing")
        return default

    def str(self, name: str, default: Any = _MISSING, choices: Iterable[str] | None = None) -> str:
        v = self.raw(name, default)
        if not isinstance(v, str) or not v:
            raise self.error(name, f"must be a non-empty string, got {v!r}")
        if choices is not None and v not in set(choices):
            raise self.error(name, f"must be one of {', '.join(choices)}, got {v!r}")
        return v

    def int(self, name: str, default: Any = _MISSING, lo: int | None = None, hi: int | None = None) -> int:
        v = self.raw(name, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(name, f"must be an integer, got {v!r}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.error(name, f"must be {lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}, got {v}")
        return v

    def bool(self, name: str, default: Any = _MISSING) -> bool:
        v = self.raw(name, default)
        if not isinstance(v, bool):
            raise self.error(name, f"must be true or false, got {v!r}")
        return v

    def duration_ms(self, name: str, default: Any = _MISSING, lo: int = 0, hi: int | None = None) -> int:
        v = self.raw(name, default)
        try:
            ms = parse_duration_ms(v)
        except ValueError as exc:
            raise self.error(name, str(exc)) from None
        if ms < lo or (hi is not None and ms > hi):
            raise self.error(name, f"must be between {lo} ms and {hi} ms, got {ms} ms")
        return ms

    def mac(self, name: str, default: Any = _MISSING) -> str:
        v = self.raw(name, default)
        try:
            return normalise_mac(v)
        except ValueError as exc:
            raise self.error(name, str(exc)) from None

    def ipv4(self, name: str, default: Any = _MISSING) -> str:
        v = self.raw(name, default)
        try:
            return str(ipaddress.IPv4Address(v))
        except (ValueError, TypeError):
            raise self.error(name, f"not an IPv4 address: {v!r}") from None

    def ipv4_interface(self, name: str, default: Any = _MISSING) -> str:
        v = self.raw(name, default)
        try:
            return str(ipaddress.IPv4Interface(v))
        except (ValueError, TypeError):
            raise self.error(name, f"not an IPv4 address/prefix: {v!r}") from None

    def section(self, name: str, default: Any = _MISSING) -> "Section":
        return Section(self.raw(name, default), self.file, self.key(name))

    def list(self, name: str, default: Any = _MISSING) -> list:
        v = self.raw(name, default)
        if not isinstance(v, list):
            raise self.error(name, f"must be a list, got {type(v).__name__}")
        return v

    def sections(self, name: str, default: Any = _MISSING) -> Iterator["Section"]:
        """Yields each mapping of a list of mappings, keyed as name[i]."""
        for i, item in enumerate(self.list(name, default)):
            yield Section(item, self.file, f"{self.key(name)}[{i}]")

    def strings(self, name: str, default: Any = _MISSING) -> list[str]:
        out = self.list(name, default)
        for i, item in enumerate(out):
            if not isinstance(item, str) or not item:
                raise ConfigError(self.file, f"{self.key(name)}[{i}]", f"must be a non-empty string, got {item!r}")
        return out

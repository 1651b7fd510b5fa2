"""Declarative schemas for canonical messages: value types, fields with stable ids, records.

A message or table row is a `Record` subclass that lists its `Field`s:

    class Stp(Record):
        type_id = 0x0201                      # message type in the frame header
        fields = (
            Field(1, "a", U32),
            Field(3, "r_stp_enabled", BOOL, default=True, since=2),
            Field(2, "b", U32),
        )

The byte layout lives in `hitless.wire.tlv`; this module only says what a record holds,
checks Python values against it and supplies defaults. Keeping the declaration separate
from the bytes is what lets two software versions with different structs agree on a
message (seed 002 Fig 8).

Rules for evolving a schema across software versions (the codec relies on them):
- a field id is forever: never renumber it, never reuse it, never change its value type
  (integer width may grow: a reader accepts any width whose value fits). Add a new id;
- a new field gets `since=N`, N being the schema version that introduced it, so a newer
  writer can produce exactly what version N-1 would (`encode(..., as_version=N-1)`),
  which keeps table checksums comparable during a staged upgrade;
- defaults must be sensible for a peer that never heard of the field.

Recursive schemas go through a `List` (a record cannot hold itself directly, since its
default would be infinite): `Field(2, "children", List(Nested(lambda: Node)))`.
"""
from __future__ import annotations

import copy
import ipaddress
import keyword
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Callable, ClassVar, Iterable, Iterator

from hitless.config.schema import normalise_mac


class Wire(IntEnum):
    """Wire type tags carried inside every TLV, so a reader can skip what it does not know."""

    UINT = 1
    SINT = 2
    BOOL = 3
    BYTES = 4
    STR = 5
    MAC = 6
    IPV4 = 7
    IPV4_PREFIX = 8
    RECORD = 9
    LIST = 10


class ValueType:
    """One kind of value: its wire tag, how Python values are checked, and its zero value."""

    wire: Wire
    name: str

    def coerce(self, value: Any) -> Any:
        """Returns the canonical Python form of `value`; raises TypeError/ValueError."""
        raise NotImplementedError

    def default(self) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


class UInt(ValueType):
    wire = Wire.UINT

    def __init__(self, bits: int):
        if bits not in (8, 16, 32, 64):
            raise ValueError(f"unsigned width must be 8, 16, 32 or 64, got {bits}")
        self.bits, self.size, self.max = bits, bits // 8, (1 << bits) - 1
        self.name = f"u{bits}"

    def coerce(self, value: Any) -> int:
        # bool is an int subclass; accepting it would hide a schema mistake.
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{self.name} needs an int, got {type(value).__name__}")
        if not 0 <= value <= self.max:
            raise ValueError(f"{self.name} out of range: {value}")
        return int(value)

    def default(self) -> int:
        return 0


class SInt(ValueType):
    wire = Wire.SINT

    def __init__(self, bits: int):
        if bits not in (8, 16, 32, 64):
            raise ValueError(f"signed width must be 8, 16, 32 or 64, got {bits}")
        self.bits, self.size = bits, bits // 8
        self.min, self.max = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        self.name = f"i{bits}"

    def coerce(self, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{self.name} needs an int, got {type(value).__name__}")
        if not self.min <= value <= self.max:
            raise ValueError(f"{self.name} out of range: {value}")
        return int(value)

    def default(self) -> int:
        return 0


class _Bool(ValueType):
    wire, name = Wire.BOOL, "bool"

    def coerce(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"bool needs True/False, got {type(value).__name__}")
        return value

    def default(self) -> bool:
        return False


class _Bytes(ValueType):
    wire, name = Wire.BYTES, "bytes"

    def coerce(self, value: Any) -> bytes:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"bytes needs a bytes-like value, got {type(value).__name__}")
        return bytes(value)

    def default(self) -> bytes:
        return b""


class _Str(ValueType):
    wire, name = Wire.STR, "str"

    def coerce(self, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"str needs a str, got {type(value).__name__}")
        value.encode("utf-8")  # lone surrogates cannot go on the wire: fail here, not later
        return value

    def default(self) -> str:
        return ""


class _Mac(ValueType):
    """A MAC address, held as lower-case colon-separated text."""

    wire, name = Wire.MAC, "mac"

    def coerce(self, value: Any) -> str:
        if isinstance(value, (bytes, bytearray)):
            if len(value) != 6:
                raise ValueError(f"mac needs 6 bytes, got {len(value)}")
            return ":".join(f"{b:02x}" for b in value)
        if not isinstance(value, str):
            raise TypeError(f"mac needs text like 00:07:b4:00:01:01, got {type(value).__name__}")
        return normalise_mac(value)

    def default(self) -> str:
        return "00:00:00:00:00:00"


class _IPv4(ValueType):
    """An IPv4 address, held as dotted-quad text."""

    wire, name = Wire.IPV4, "ipv4"

    def coerce(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, ipaddress.IPv4Address)):
            raise TypeError(f"ipv4 needs an address, got {type(value).__name__}")
        return str(ipaddress.IPv4Address(value))

    def default(self) -> str:
        return "0.0.0.0"


class _IPv4Prefix(ValueType):
    """An IPv4 network, held as 'a.b.c.d/len' text with no host bits set."""

    wire, name = Wire.IPV4_PREFIX, "ipv4_prefix"

    def coerce(self, value: Any) -> str:
        if not isinstance(value, (str, ipaddress.IPv4Network)):
            raise TypeError(f"ipv4_prefix needs a network, got {type(value).__name__}")
        # strict: host bits set means the caller mixed up an address and a prefix.
        return str(ipaddress.IPv4Network(value, strict=True))

    def default(self) -> str:
        return "0.0.0.0/0"


U8, U16, U32, U64 = UInt(8), UInt(16), UInt(32), UInt(64)
I8, I16, I32, I64 = SInt(8), SInt(16), SInt(32), SInt(64)
BOOL, BYTES, STR = _Bool(), _Bytes(), _Str()
MAC, IPV4, IPV4_PREFIX = _Mac(), _IPv4(), _IPv4Prefix()


class Nested(ValueType):
    """A record inside a record. `target` is a Record subclass or a zero-argument callable
    returning one (a forward reference, for recursive schemas)."""

    wire = Wire.RECORD

    def __init__(self, target: "type[Record] | Callable[[], type[Record]]"):
        self._target = target

    @property
    def cls(self) -> "type[Record]":
        target = self._target
        if not (isinstance(target, type) and issubclass(target, Record)):
            target = target()
            if not (isinstance(target, type) and issubclass(target, Record)):
                raise TypeError(f"Nested target must be a Record subclass, got {target!r}")
            self._target = target  # resolve once
        return target

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.cls.__name__

    def coerce(self, value: Any) -> "Record":
        if not isinstance(value, self.cls):
            raise TypeError(f"{self.cls.__name__} needed, got {type(value).__name__}")
        return value

    def default(self) -> "Record":
        return self.cls()


class List(ValueType):
    """A list whose elements all have one type (any type, including records and lists)."""

    wire = Wire.LIST

    def __init__(self, elem: "ValueType | type[Record]"):
        self.elem = as_type(elem)

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"list[{self.elem.name}]"

    def coerce(self, value: Any) -> list:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{self.name} needs a list, got {type(value).__name__}")
        return [self.elem.coerce(v) for v in value]

    def default(self) -> list:
        return []


def as_type(t: Any) -> ValueType:
    """Accepts a ValueType or a Record subclass (shorthand for Nested(cls))."""
    if isinstance(t, ValueType):
        return t
    if isinstance(t, type) and issubclass(t, Record):
        return Nested(t)
    raise TypeError(f"not a value type: {t!r}")


_NO_DEFAULT = object()


@dataclass(frozen=True)
class Field:
    """One field: a stable id (1..65535), a Python name, a value type, a default and the
    schema version that introduced it."""

    id: int
    name: str
    type: ValueType
    default: Any = _NO_DEFAULT
    since: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.id, int) or not 1 <= self.id <= 0xFFFF:
            raise TypeError(f"field {self.name!r}: id must be 1..65535, got {self.id!r}")
        if not (isinstance(self.name, str) and self.name.isidentifier()) or keyword.iskeyword(
            self.name
        ) or self.name.startswith("_"):
            raise TypeError(f"field id {self.id}: bad name {self.name!r}")
        if not isinstance(self.since, int) or not 1 <= self.since <= 0xFFFF:
            raise TypeError(f"field {self.name!r}: since must be 1..65535, got {self.since!r}")
        object.__setattr__(self, "type", as_type(self.type))
        if self.default is not _NO_DEFAULT and not isinstance(self.type, Nested):
            try:
                object.__setattr__(self, "default", self.type.coerce(self.default))
            except (TypeError, ValueError) as e:
                raise TypeError(f"field {self.name!r}: bad default: {e}") from None

    def make_default(self) -> Any:
        if self.default is _NO_DEFAULT:
            return self.type.default()
        # a fresh copy, so two records never share a mutable default
        return copy.deepcopy(self.default)


class Record:
    """Base of every canonical record. Subclasses set `fields` (and `type_id` when the
    record travels as a message of its own). Instances hold one attribute per field;
    assignments are checked against the field's type."""

    type_id: ClassVar[int] = 0  # 0: only ever nested, never framed on its own
    version: ClassVar[int] = 1  # schema version; defaults to the highest `since`
    fields: ClassVar[Iterable[Field]] = ()
    _ordered: ClassVar[tuple[Field, ...]] = ()
    _by_id: ClassVar[dict[int, Field]] = {}
    _by_name: ClassVar[dict[str, Field]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = tuple(cls.fields)
        by_id: dict[int, Field] = {}
        by_name: dict[str, Field] = {}
        for f in fields:
            if not isinstance(f, Field):
                raise TypeError(f"{cls.__name__}.fields: {f!r} is not a Field")
            if f.id in by_id:
                raise TypeError(f"{cls.__name__}: field id {f.id} used twice")
            if f.name in by_name:
                raise TypeError(f"{cls.__name__}: field name {f.name!r} used twice")
            if hasattr(Record, f.name):
                raise TypeError(f"{cls.__name__}: field name {f.name!r} shadows a Record member")
            by_id[f.id], by_name[f.name] = f, f
        if not isinstance(cls.type_id, int) or not 0 <= cls.type_id <= 0xFFFF:
            raise TypeError(f"{cls.__name__}: type_id must be 0..65535")
        if "version" not in cls.__dict__:
            cls.version = max((f.since for f in fields), default=1)
        newest = max((f.since for f in fields), default=1)
        if not isinstance(cls.version, int) or not newest <= cls.version <= 0xFFFF:
            raise TypeError(f"{cls.__name__}: version {cls.version!r} is older than a field's since")
        cls.fields = fields
        cls._ordered = tuple(sorted(fields, key=lambda f: f.id))  # canonical order: by id
        cls._by_id, cls._by_name = by_id, by_name

    def __init__(self, **values: Any):
        unknown = set(values) - set(self._by_name)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        for f in self._ordered:
            if f.name in values:
                object.__setattr__(self, f.name, f.type.coerce(values[f.name]))
            else:
                object.__setattr__(self, f.name, f.make_default())

    def __setattr__(self, name: str, value: Any) -> None:
        f = self._by_name.get(name)
        if f is None:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        object.__setattr__(self, name, f.type.coerce(value))

    @classmethod
    def _from_decoded(cls, values: dict[str, Any]) -> "Record":
        """Builds an instance from values the decoder already checked (skips coercion)."""
        obj = cls.__new__(cls)
        obj.__dict__.update(values)
        return obj

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in self._ordered)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self._ordered)
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts/lists (for JSON, CLI output and cross-version comparison)."""
        return {f.name: _plain(getattr(self, f.name)) for f in self._ordered}

    def replace(self, **changes: Any) -> "Record":
        """A deep copy with some fields changed."""
        new = copy.deepcopy(self)
        for name, value in changes.items():
            setattr(new, name, value)
        return new


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class Registry:
    """Maps message type ids to Record classes, for decoding frames of several kinds.

    Registries are explicit (no global auto-registration) so two schema versions of the
    same message can live side by side, as they do in the upgrade tests."""

    def __init__(self, *classes: "type[Record]"):
        self._types: dict[int, type[Record]] = {}
        for cls in classes:
            self.register(cls)

    def register(self, cls: "type[Record]") -> "type[Record]":
        """Adds `cls`; usable as a class decorator."""
        if not (isinstance(cls, type) and issubclass(cls, Record)):
            raise TypeError(f"not a Record subclass: {cls!r}")
        if cls.type_id == 0:
            raise ValueError(f"{cls.__name__} has no type_id, so it cannot be a message")
        other = self._types.get(cls.type_id)
        if other is not None and other is not cls:
            raise ValueError(
                f"type id {cls.type_id:#06x} already taken by {other.__name__}, not {cls.__name__}"
            )
        self._types[cls.type_id] = cls
        return cls

    def get(self, type_id: int) -> "type[Record] | None":
        return self._types.get(type_id)

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._types

    def __iter__(self) -> Iterator["type[Record]"]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

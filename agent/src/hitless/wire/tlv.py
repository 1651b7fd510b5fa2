"""The canonical message codec (seed 002 Fig 8): records as typed, length-prefixed fields.

Two software versions exchange state without sharing struct layouts: every value travels
with its field id, wire type and length, so a reader takes the fields it knows, skips the
ones it does not, and fills in defaults for the ones that were not sent.

Byte layout (all integers big-endian / network order):

    frame   = header body
    header  = magic "HL" (2) | format version = 1 (u8) | flags = 0 (u8)
            | message type id (u16) | schema version (u16) | body length (u32)     12 bytes
    body    = record
    record  = field*                        ; the writer emits fields in ascending id
    field   = field id (u16, 1..65535) | wire type (u8) | value length (u32) | value
    value by wire type:
      1 UINT         1, 2, 4 or 8 bytes, unsigned; the writer uses the fewest that fit
      2 SINT         1, 2, 4 or 8 bytes, two's complement; likewise the fewest
      3 BOOL         1 byte, 0 or 1
      4 BYTES        raw bytes
      5 STR          UTF-8 text
      6 MAC          6 bytes
      7 IPV4         4 bytes
      8 IPV4_PREFIX  4 address bytes | prefix length (u8, 0..32); host bits must be zero
      9 RECORD       a nested record (field*)
     10 LIST         element wire type (u8) | (element length (u32) | element value)*

Reading rules:
- unknown field id: skipped by its length whatever its wire type (so future wire types
  are skippable too) and counted in `DecodeStats.unknown_fields`;
- known field id, missing: takes the field's default, counted in `defaulted_fields`;
- known field id with a different wire type: WireError. A field id never changes type
  (schema rule), so a mismatch means corruption or a schema bug, and silently dropping
  the value would corrupt replicated state quietly;
- fields may arrive in any order (the patent allows it); a field id twice is a WireError;
- a UINT/SINT of any of the widths 1/2/4/8 is accepted if the value fits the declared
  type, so a field may be widened (u16 -> u32) between versions; since the writer uses
  the smallest width that holds the value, not the declared one, widening a field does
  not change the bytes of values that fit the old width (checksums stay comparable);
- the header's format version must be 1 and its flags 0; its schema version is the
  writer's, reported in `Header` and not otherwise checked;
- nesting is bounded by `max_depth` (the top record is level 1; every nested record and
  every list adds one), the body by `max_length`, both checked before any recursion or
  allocation, and enforced by the writer too so we never send what a peer would refuse;
- a frame whose message type a Registry does not know is a WireError counted in
  `unknown_messages`; its header length still lets a stream reader step over it.

The writer is canonical: one logical record has exactly one encoding (fields in id order,
smallest integer widths, normalised addresses), so checksums over encodings are stable
(see `hitless.wire.checksum`). The reader is liberal only in field order and integer
width.

Errors: malformed bytes raise `hitless.errors.WireError` and nothing else; the message
names the path and byte offset, e.g. `Route.nexthops[1].mac at byte 57: mac needs 6
bytes, got 5`. Encoding an invalid Python value is a programming error and raises
TypeError/ValueError.

API: `encode`/`decode` (framed), `decode_frame` (also returns the Header),
`encode_body`/`decode_body` (unframed field sequence), `peek_header` and `frame_length`
(stream framing), `DecodeStats` (counters a caller keeps across decodes).

Schemas are declared with `hitless.wire.schema` (re-exported here); table checksums over
canonical encodings are in `hitless.wire.checksum`.
"""
from __future__ import annotations

import logging
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Union

from hitless.errors import WireError
from hitless.wire.schema import (  # noqa: F401  (re-exported: one import for users)
    BOOL,
    BYTES,
    I8,
    I16,
    I32,
    I64,
    IPV4,
    IPV4_PREFIX,
    MAC,
    STR,
    U8,
    U16,
    U32,
    U64,
    Field,
    List,
    Nested,
    Record,
    Registry,
    SInt,
    UInt,
    ValueType,
    Wire,
)

log = logging.getLogger(__name__)

MAGIC = b"HL"
FORMAT_VERSION = 1
HEADER = struct.Struct("!2sBBHHI")
FIELD_HEADER = struct.Struct("!HBI")
ITEM_LENGTH = struct.Struct("!I")
HEADER_SIZE = HEADER.size  # 12
DEFAULT_MAX_DEPTH = 32
MAX_DEPTH_CAP = 200
DEFAULT_MAX_LENGTH = 16 * 1024 * 1024
_INT_WIDTHS = (1, 2, 4, 8)

Buffer = Union[bytes, bytearray, memoryview]


@dataclass(frozen=True)
class Header:
    version: int
    flags: int
    type_id: int
    schema_version: int
    length: int

    @property
    def frame_length(self) -> int:
        return HEADER_SIZE + self.length


@dataclass
class DecodeStats:
    """Counters a caller (e.g. the sync channel) keeps across many decodes. Only decodes
    that succeed add to the field counters; failures add to `malformed`."""

    messages: int = 0
    malformed: int = 0
    unknown_messages: int = 0
    unknown_fields: int = 0
    defaulted_fields: int = 0
    # (record class name, field id) -> how often that unknown field was skipped
    unknown_by_field: Counter = field(default_factory=Counter)


class _Bad(WireError):
    """Internal: a failure deep in the body, with the path built up while unwinding."""

    def __init__(self, offset: int, reason: str):
        super().__init__(reason)
        self.offset, self.reason, self.path = offset, reason, []  # path is innermost first


class _Ctx:
    __slots__ = ("max_depth", "as_version", "unknown", "defaulted", "unknown_by_field")

    def __init__(self, max_depth: int, as_version: int | None = None):
        # Each level costs about two Python frames; the cap keeps a caller's generous
        # limit far from the interpreter's recursion limit.
        if not isinstance(max_depth, int) or not 1 <= max_depth <= MAX_DEPTH_CAP:
            raise ValueError(f"max_depth must be 1..{MAX_DEPTH_CAP}, got {max_depth!r}")
        self.max_depth, self.as_version = max_depth, as_version
        self.unknown = self.defaulted = 0
        self.unknown_by_field: Counter = Counter()


# ---------------------------------------------------------------------------- encoding


def encode(
    record: Record,
    *,
    as_version: int | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> bytes:
    """Returns the framed, canonical encoding of `record` (which needs a type_id).

    `as_version` writes only the fields a reader of that schema version knows (field
    `since` <= as_version) and puts that version in the header."""
    cls = type(record)
    if not isinstance(record, Record):
        raise TypeError(f"not a Record: {cls.__name__}")
    if cls.type_id == 0:
        raise ValueError(f"{cls.__name__} has no type_id, so it cannot be framed")
    version = cls.version if as_version is None else as_version
    if not 1 <= version <= 0xFFFF:
        raise ValueError(f"schema version must be 1..65535, got {version}")
    body = encode_body(record, as_version=as_version, max_depth=max_depth)
    if len(body) > max_length:
        raise ValueError(f"{cls.__name__} encodes to {len(body)} bytes, over the {max_length} limit")
    return HEADER.pack(MAGIC, FORMAT_VERSION, 0, cls.type_id, version, len(body)) + body


def encode_body(
    record: Record, *, as_version: int | None = None, max_depth: int = DEFAULT_MAX_DEPTH
) -> bytes:
    """The canonical field sequence of `record`, without a frame header."""
    if not isinstance(record, Record):
        raise TypeError(f"not a Record: {type(record).__name__}")
    return _enc_record(record, _Ctx(max_depth, as_version), 1)


def _enc_record(record: Record, ctx: _Ctx, depth: int) -> bytes:
    if depth > ctx.max_depth:
        # also what stops a record that contains itself (a cycle) from recursing forever
        raise ValueError(f"nesting deeper than {ctx.max_depth} while encoding {type(record).__name__}")
    parts = []
    for f in record._ordered:
        if ctx.as_version is not None and f.since > ctx.as_version:
            continue
        try:
            value = _enc_value(f.type, getattr(record, f.name), ctx, depth)
        except (TypeError, ValueError) as e:
            raise _same_kind(e, f"{type(record).__name__}.{f.name}: {e}") from None
        if len(value) > 0xFFFFFFFF:
            raise ValueError(f"{type(record).__name__}.{f.name}: value over 4 GiB")
        parts.append(FIELD_HEADER.pack(f.id, f.type.wire, len(value)))
        parts.append(value)
    return b"".join(parts)


def _uint_width(v: int) -> int:
    return 1 if v < 0x100 else 2 if v < 0x10000 else 4 if v < 0x100000000 else 8


def _sint_width(v: int) -> int:
    for n in _INT_WIDTHS:
        if -(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1)):
            return n
    raise ValueError(f"{v} does not fit 64 bits")


def _same_kind(e: Exception, message: str) -> Exception:
    """TypeError or ValueError with a path-prefixed message (subclasses such as
    UnicodeEncodeError cannot be rebuilt from a message alone)."""
    return TypeError(message) if isinstance(e, TypeError) else ValueError(message)


def _enc_value(t: ValueType, value: Any, ctx: _Ctx, depth: int) -> bytes:
    wire = t.wire
    if wire == Wire.RECORD:
        return _enc_record(t.coerce(value), ctx, depth + 1)  # type: ignore[arg-type]
    if wire == Wire.LIST:
        assert isinstance(t, List)
        if depth + 1 > ctx.max_depth:
            raise ValueError(f"nesting deeper than {ctx.max_depth} while encoding {t.name}")
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{t.name} needs a list, got {type(value).__name__}")
        parts = [bytes((t.elem.wire,))]
        for i, item in enumerate(value):
            try:
                payload = _enc_value(t.elem, item, ctx, depth + 1)
            except (TypeError, ValueError) as e:
                raise _same_kind(e, f"[{i}]: {e}") from None
            parts.append(ITEM_LENGTH.pack(len(payload)))
            parts.append(payload)
        return b"".join(parts)
    value = t.coerce(value)
    if wire == Wire.UINT:
        return value.to_bytes(_uint_width(value), "big")
    if wire == Wire.SINT:
        return value.to_bytes(_sint_width(value), "big", signed=True)
    if wire == Wire.BOOL:
        return b"\x01" if value else b"\x00"
    if wire == Wire.BYTES:
        return value
    if wire == Wire.STR:
        return value.encode("utf-8")
    if wire == Wire.MAC:
        return bytes.fromhex(value.replace(":", ""))
    if wire == Wire.IPV4:
        return bytes(int(x) for x in value.split("."))
    if wire == Wire.IPV4_PREFIX:
        addr, plen = value.split("/")
        return bytes(int(x) for x in addr.split(".")) + bytes((int(plen),))
    raise TypeError(f"no encoder for wire type {wire}")


# ---------------------------------------------------------------------------- decoding


def peek_header(data: Buffer, *, max_length: int = DEFAULT_MAX_LENGTH) -> Header:
    """Parses and checks the 12-byte frame header at the start of `data`."""
    if len(data) < HEADER_SIZE:
        raise WireError(f"truncated header: {len(data)} of {HEADER_SIZE} bytes")
    magic, version, flags, type_id, schema, length = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise WireError(f"bad magic {bytes(magic)!r}, expected {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise WireError(f"unsupported format version {version} (this reader speaks {FORMAT_VERSION})")
    if flags != 0:
        raise WireError(f"unknown header flags {flags:#04x}")
    if length > max_length:
        raise WireError(f"body length {length} over the {max_length} byte limit")
    return Header(version, flags, type_id, schema, length)


def frame_length(buf: Buffer, *, max_length: int = DEFAULT_MAX_LENGTH) -> int | None:
    """For stream framing: the byte length of the frame starting at `buf[0]`, or None
    when fewer than 12 bytes have arrived. Raises WireError for a bad header."""
    if len(buf) < HEADER_SIZE:
        return None
    return peek_header(buf, max_length=max_length).frame_length


def decode(
    data: Buffer,
    target: "type[Record] | Registry",
    *,
    stats: DecodeStats | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> Record:
    """Decodes one complete frame into a record of `target` (a Record class or a
    Registry picking the class by message type). Raises only WireError."""
    return decode_frame(data, target, stats=stats, max_depth=max_depth, max_length=max_length)[1]


def decode_frame(
    data: Buffer,
    target: "type[Record] | Registry",
    *,
    stats: DecodeStats | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> tuple[Header, Record]:
    """Like `decode`, also returning the header (for its schema version)."""
    try:
        header = peek_header(data, max_length=max_length)
        if len(data) != header.frame_length:
            what = "truncated" if len(data) < header.frame_length else "trailing bytes after"
            raise WireError(f"{what} frame: {len(data)} bytes, header says {header.frame_length}")
        if isinstance(target, Registry):
            cls = target.get(header.type_id)
            if cls is None:
                if stats is not None:
                    stats.unknown_messages += 1
                raise WireError(
                    f"unknown message type {header.type_id:#06x} (schema v{header.schema_version})"
                )
        else:
            cls = target
            if header.type_id != cls.type_id:
                raise WireError(
                    f"message type {header.type_id:#06x} is not {cls.__name__} ({cls.type_id:#06x})"
                )
        record = _decode_checked(data, HEADER_SIZE, cls, stats, max_depth)
        return header, record
    except WireError as e:
        if stats is not None:
            stats.malformed += 1
        log.warning("rejected canonical message: %s", e)
        raise


def decode_body(
    data: Buffer,
    cls: "type[Record]",
    *,
    stats: DecodeStats | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Record:
    """Decodes an unframed field sequence (the output of `encode_body`)."""
    try:
        return _decode_checked(data, 0, cls, stats, max_depth)
    except WireError as e:
        if stats is not None:
            stats.malformed += 1
        log.warning("rejected canonical record: %s", e)
        raise


def _decode_checked(
    data: Buffer, start: int, cls: "type[Record]", stats: DecodeStats | None, max_depth: int
) -> Record:
    ctx = _Ctx(max_depth)
    buf = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    try:
        record = _dec_record(cls, buf, start, len(buf), ctx, 1)
    except _Bad as e:
        path = cls.__name__ + "".join(reversed(e.path))
        raise WireError(f"{path} at byte {e.offset}: {e.reason}") from None
    except (IndexError, ValueError, TypeError, OverflowError, struct.error, RecursionError) as e:
        # Safety net: every bound is checked explicitly above this line, so reaching here
        # is a decoder bug. Still honour the contract (WireError only); `internal` lets
        # the fuzz tests tell such a bug from a proper rejection.
        err = WireError(f"{cls.__name__}: undecodable ({type(e).__name__}: {e})")
        err.internal = True  # type: ignore[attr-defined]
        raise err from e
    if stats is not None:
        stats.messages += 1
        stats.unknown_fields += ctx.unknown
        stats.defaulted_fields += ctx.defaulted
        stats.unknown_by_field.update(ctx.unknown_by_field)
    return record


def _dec_record(cls: "type[Record]", buf: Buffer, pos: int, end: int, ctx: _Ctx, depth: int) -> Record:
    if depth > ctx.max_depth:
        raise _Bad(pos, f"nesting deeper than {ctx.max_depth}")
    values: dict[str, Any] = {}
    seen: set[int] = set()
    by_id = cls._by_id
    while pos < end:
        if end - pos < FIELD_HEADER.size:
            raise _Bad(pos, f"truncated field header ({end - pos} of {FIELD_HEADER.size} bytes)")
        fid, wire, length = FIELD_HEADER.unpack_from(buf, pos)
        vstart = pos + FIELD_HEADER.size
        vend = vstart + length
        if vend > end:
            raise _Bad(pos, f"field {fid} length {length} runs past its record ({end - vstart} bytes left)")
        if fid == 0:
            raise _Bad(pos, "field id 0 is reserved")
        if fid in seen:
            raise _Bad(pos, f"field {fid} appears twice")
        seen.add(fid)
        f = by_id.get(fid)
        if f is None:
            # Fig 8: a field this version does not know is discarded, not an error.
            ctx.unknown += 1
            ctx.unknown_by_field[(cls.__name__, fid)] += 1
        elif wire != f.type.wire:
            raise _Bad(pos, f"{f.name} (field {fid}) has wire type {wire}, expected {f.type.wire} ({f.type.name})")
        else:
            try:
                values[f.name] = _dec_value(f.type, buf, vstart, vend, ctx, depth)
            except _Bad as e:
                e.path.append(f".{f.name}")
                raise
        pos = vend
    if len(values) != len(cls._ordered):
        for f in cls._ordered:
            if f.name not in values:
                values[f.name] = f.make_default()
                ctx.defaulted += 1
    return cls._from_decoded(values)


def _dec_value(t: ValueType, buf: Buffer, s: int, e: int, ctx: _Ctx, depth: int) -> Any:
    n = e - s
    wire = t.wire
    if wire == Wire.UINT:
        assert isinstance(t, UInt)
        if n not in _INT_WIDTHS:
            raise _Bad(s, f"{t.name} length {n} is not 1, 2, 4 or 8")
        v = int.from_bytes(buf[s:e], "big")
        if v > t.max:
            raise _Bad(s, f"{t.name} value {v} out of range")
        return v
    if wire == Wire.SINT:
        assert isinstance(t, SInt)
        if n not in _INT_WIDTHS:
            raise _Bad(s, f"{t.name} length {n} is not 1, 2, 4 or 8")
        v = int.from_bytes(buf[s:e], "big", signed=True)
        if not t.min <= v <= t.max:
            raise _Bad(s, f"{t.name} value {v} out of range")
        return v
    if wire == Wire.BOOL:
        if n != 1 or buf[s] > 1:
            raise _Bad(s, "bool must be one byte, 0 or 1")
        return buf[s] == 1
    if wire == Wire.BYTES:
        return bytes(buf[s:e])
    if wire == Wire.STR:
        try:
            return bytes(buf[s:e]).decode("utf-8")
        except UnicodeDecodeError as err:
            raise _Bad(s + err.start, "str is not valid UTF-8") from None
    if wire == Wire.MAC:
        if n != 6:
            raise _Bad(s, f"mac needs 6 bytes, got {n}")
        return ":".join(f"{b:02x}" for b in buf[s:e])
    if wire == Wire.IPV4:
        if n != 4:
            raise _Bad(s, f"ipv4 needs 4 bytes, got {n}")
        return "%d.%d.%d.%d" % tuple(buf[s:e])
    if wire == Wire.IPV4_PREFIX:
        if n != 5:
            raise _Bad(s, f"ipv4_prefix needs 5 bytes, got {n}")
        addr, plen = int.from_bytes(buf[s : s + 4], "big"), buf[s + 4]
        if plen > 32:
            raise _Bad(s + 4, f"ipv4_prefix length {plen} over 32")
        if addr & ((1 << (32 - plen)) - 1):
            raise _Bad(s, "ipv4_prefix has host bits set")
        return "%d.%d.%d.%d/%d" % (*buf[s : s + 4], plen)
    if wire == Wire.RECORD:
        assert isinstance(t, Nested)
        return _dec_record(t.cls, buf, s, e, ctx, depth + 1)
    if wire == Wire.LIST:
        assert isinstance(t, List)
        return _dec_list(t, buf, s, e, ctx, depth + 1)
    raise _Bad(s, f"no decoder for wire type {wire}")


def _dec_list(t: List, buf: Buffer, pos: int, end: int, ctx: _Ctx, depth: int) -> list:
    if depth > ctx.max_depth:
        raise _Bad(pos, f"nesting deeper than {ctx.max_depth}")
    if pos >= end:
        raise _Bad(pos, "list has no element type byte")
    elem = t.elem
    if buf[pos] != elem.wire:
        raise _Bad(pos, f"{t.name} has element wire type {buf[pos]}, expected {elem.wire}")
    pos += 1
    items = []
    while pos < end:
        if end - pos < ITEM_LENGTH.size:
            raise _Bad(pos, f"truncated element length in {t.name}")
        (length,) = ITEM_LENGTH.unpack_from(buf, pos)
        vstart = pos + ITEM_LENGTH.size
        vend = vstart + length
        if vend > end:
            raise _Bad(pos, f"element length {length} runs past its list ({end - vstart} bytes left)")
        try:
            items.append(_dec_value(elem, buf, vstart, vend, ctx, depth))
        except _Bad as e:
            e.path.append(f"[{len(items)}]")
            raise
        pos = vend
    return items

"""Loads the BPF C programs through bcc, pins them, attaches them, and adopts them again.

A program build is identified by a hash of its sources and compile flags, and pinned at
`<pin_dir>/prog_<name>_<hash>`; its maps are pinned beside it by name (HL_MAP in
hitless.h). On start the agent looks for the pin of the build it wants:
- found and attached: adopted as is. Same program id, no map touched, no packet lost;
- found, not attached: attached again from the pin;
- absent (first start, or a new build): compiled, pinned, and attached over the old
  program atomically. The maps survive either way because bcc re-uses pinned maps.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from hitless.dataplane import bpfsys, xdp_link
from hitless.dataplane.bpfsys import MapHandle, TestRunResult
from hitless.errors import DataplaneError

BPF_DIR = Path(__file__).parent / "bpf"
TEST_BPFFS = "/sys/fs/bpf/hitless-test"


def ensure_bpffs(path: str) -> None:
    root = "/sys/fs/bpf"
    if not os.path.ismount(root):
        raise DataplaneError(f"{root} is not a mounted bpffs (mount -t bpf bpf {root})")
    os.makedirs(path, mode=0o700, exist_ok=True)


def build_hash(name: str, cflags: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for path in sorted(BPF_DIR.glob("*.[ch]")):
        # Every source and header: a change to a shared header is a new build of each program.
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    h.update(name.encode() + b"\0" + "\0".join(cflags).encode())
    return h.hexdigest()[:12]


def compile_program(name: str, pin_dir: str, cflags: tuple[str, ...] = (), func: str | None = None):
    """Compiles bpf/<name>.c with bcc; returns (bcc.BPF object, loaded function)."""
    from bcc import BPF  # late import: bcc takes a second to import and is Linux-only

    src = BPF_DIR / f"{name}.c"
    if not src.exists():
        raise DataplaneError(f"no BPF source {src}")
    flags = [f"-I{BPF_DIR}", f'-DHL_PIN_DIR="{pin_dir}"', *cflags]
    try:
        bpf = BPF(src_file=str(src).encode(), cflags=flags)
        fn = bpf.load_func((func or f"xdp_{name}").encode(), BPF.XDP)
    except Exception as exc:  # bcc raises bare Exception on compile/verifier errors
        raise DataplaneError(f"cannot load BPF program {name}: {exc}") from None
    return bpf, fn


@dataclass
class XdpProgram:
    """One loaded (or adopted) program and its attachments."""

    name: str
    pin_dir: str
    pin_path: str
    fd: int
    prog_id: int
    adopted: bool
    modes: dict[str, str] = field(default_factory=dict)
    _maps: dict[str, MapHandle] = field(default_factory=dict)
    _bcc: object = None  # keeps bcc's fds alive while this process runs

    def map(self, name: str) -> MapHandle:
        if name not in self._maps:
            self._maps[name] = MapHandle.from_pin(f"{self.pin_dir}/{name}")
        return self._maps[name]

    def run(self, packet: bytes, repeat: int = 1) -> TestRunResult:
        return bpfsys.prog_test_run(self.fd, packet, repeat=repeat)

    def status(self) -> dict:
        return {"name": self.name, "prog_id": self.prog_id, "adopted": self.adopted,
                "pin": self.pin_path, "interfaces": dict(self.modes)}


class Dataplane:
    """The data plane of one node: its pin directory and the programs attached from it."""

    def __init__(self, node: str, bpffs: str = "/sys/fs/bpf/hitless", xdp_mode: str = "auto",
                 log: logging.Logger | None = None):
        self.node, self.xdp_mode = node, xdp_mode
        self.pin_dir = f"{bpffs}/{node}"
        self.log = log or logging.getLogger("hitless.dataplane")
        self.programs: dict[str, XdpProgram] = {}

    def _find_pins(self, name: str) -> list[str]:
        prefix = f"prog_{name}_"
        return sorted(p for p in os.listdir(self.pin_dir) if p.startswith(prefix))

    def ensure_program(self, name: str, interfaces: list[str], cflags: list[str] | tuple = (),
                       func: str | None = None, xdp_mode: str | None = None) -> XdpProgram:
        """Makes sure build `name`+`cflags` is attached to `interfaces`, adopting it when possible.

        `xdp_mode` overrides the node's mode for this program (a program may know that the
        native hook cannot do its job on some driver)."""
        ensure_bpffs(self.pin_dir)
        cflags = tuple(cflags)
        pin_name = f"prog_{name}_{build_hash(name, cflags)}"
        pin_path = f"{self.pin_dir}/{pin_name}"
        bcc_obj = None
        if os.path.exists(pin_path):
            fd = bpfsys.obj_get(pin_path)
            adopted = True
        else:
            bcc_obj, fn = compile_program(name, self.pin_dir, cflags, func)
            fd = fn.fd
            bpfsys.obj_pin(fd, pin_path)
            adopted = False
        prog_id = bpfsys.prog_info(fd).id
        prog = XdpProgram(name, self.pin_dir, pin_path, fd, prog_id, adopted, _bcc=bcc_obj)
        for ifname in interfaces:
            current = xdp_link.query(ifname)
            if current and current.prog_id == prog_id:
                prog.modes[ifname] = current.mode
                continue
            prog.modes[ifname] = xdp_link.attach(ifname, fd, xdp_mode or self.xdp_mode)
        # Older builds of this program are now attached nowhere we manage: drop their pins.
        for old in self._find_pins(name):
            if old != pin_name:
                os.unlink(f"{self.pin_dir}/{old}")
        self.programs[name] = prog
        verb = "adopted" if prog.adopted else "loaded"
        self.log.info("xdp program %s %s: id %d on %s", name, verb, prog_id,
                      ", ".join(f"{i} ({m})" for i, m in prog.modes.items()) or "no interface")
        return prog

    def detach(self, ifname: str) -> None:
        xdp_link.detach(ifname)

    def remove_all(self) -> None:
        """Detaches every program this object attached and removes the pin directory.

        For teardown only: an agent stopping never calls this.
        """
        for prog in self.programs.values():
            for ifname in prog.modes:
                with contextlib.suppress(DataplaneError):
                    xdp_link.detach(ifname)
        shutil.rmtree(self.pin_dir, ignore_errors=True)


@dataclass
class TestProgram:
    """A compiled, unattached program for BPF_PROG_TEST_RUN, pinned under a private dir."""

    fd: int
    pin_dir: str
    _bcc: object

    def map(self, name: str) -> MapHandle:
        return MapHandle.from_pin(f"{self.pin_dir}/{name}")

    def run(self, packet: bytes, repeat: int = 1) -> TestRunResult:
        return bpfsys.prog_test_run(self.fd, packet, repeat=repeat)


@contextlib.contextmanager
def compile_for_test(name: str, cflags: list[str] | tuple = (), func: str | None = None) -> Iterator[TestProgram]:
    """Compiles bpf/<name>.c into a throw-away pin directory; removes it afterwards."""
    pin_dir = f"{TEST_BPFFS}/{name}-{uuid.uuid4().hex[:8]}"
    ensure_bpffs(pin_dir)
    bcc_obj = None
    try:
        bcc_obj, fn = compile_program(name, pin_dir, tuple(cflags), func)
        yield TestProgram(fn.fd, pin_dir, bcc_obj)
    finally:
        if bcc_obj is not None:
            bcc_obj.cleanup()
        shutil.rmtree(pin_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(TEST_BPFFS)

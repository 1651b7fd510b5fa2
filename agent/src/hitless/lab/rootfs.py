"""The Debian rootfs that container nodes run on: built once with debootstrap, then cached.

The build goes into a temporary directory next to the cache and is renamed into place, so a
crash never leaves a half-built rootfs that looks finished. A stamp file records what was
built; nodes never write to the cache (each gets an overlay, see container.py).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from hitless.errors import LabError
from hitless.lab import sh

SUITE = "bookworm"
CACHE_ROOT = Path(os.environ.get("HITLESS_LAB_CACHE", "/var/cache/hitless-lab"))
ROOTFS = CACHE_ROOT / f"rootfs-{SUITE}"
STAMP_NAME = ".hitless-rootfs.json"
# What a lab node needs: the agent's runtime (python3, bcc, yaml, venv for the wheelhouse),
# sshd for Ansible, and the tools tests and playbooks call inside a node.
INCLUDE = ("python3,python3-bpfcc,openssh-server,iproute2,ethtool,python3-yaml,python3-venv,"
           "procps,iputils-ping,socat,sudo")
FALLBACK_MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SSHD_DROPIN = """\
# Written by hitless lab: sshd listens on the node's loopback only, root logs in by key.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""


def host_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror the host's apt uses for the main archive, so debootstrap works on
    whatever network this machine is on. HITLESS_LAB_MIRROR overrides it."""
    if os.environ.get("HITLESS_LAB_MIRROR"):
        return os.environ["HITLESS_LAB_MIRROR"]
    deb822 = apt_dir / "sources.list.d" / "debian.sources"
    if deb822.exists():
        for stanza in re.split(r"\n\s*\n", deb822.read_text()):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
            suites = fields.get("suites", "").split()
            if "deb" in fields.get("types", "").split() and SUITE in suites and fields.get("uris"):
                return fields["uris"].split()[0]
    for lst in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        if not lst.exists():
            continue
        for line in lst.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                return words[1]
    return FALLBACK_MIRROR


def _apt_proxy_env() -> dict[str, str]:
    """debootstrap only honours http_proxy; carry over apt's own proxy setting if any."""
    env = dict(os.environ)
    if env.get("http_proxy"):
        return env
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["apt-config", "shell", "P", "Acquire::http::Proxy"],
                             capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"P='([^']+)'", out)
        if m:
            env["http_proxy"] = m.group(1)
    return env


def stamp(path: Path = ROOTFS) -> dict | None:
    try:
        return json.loads((path / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None


def is_ready(path: Path = ROOTFS) -> bool:
    s = stamp(path)
    return bool(s) and s.get("include") == INCLUDE and s.get("suite") == SUITE


@contextlib.contextmanager
def _build_lock():
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / ".build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # a second builder waits, then finds the cache ready
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _in_use(path: Path) -> bool:
    """True when an overlay mounted anywhere uses `path` as its lower directory."""
    with contextlib.suppress(OSError):
        return f"lowerdir={path}" in Path("/proc/self/mountinfo").read_text()
    return False


def _configure(root: Path) -> None:
    """Post-debootstrap setup shared by every node: sshd policy, host keys, a small cache."""
    (root / "etc/ssh/sshd_config.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/ssh/sshd_config.d/hitless-lab.conf").write_text(SSHD_DROPIN)
    sh.run(["chroot", str(root), "ssh-keygen", "-A"], timeout=120)
    sh.run(["chroot", str(root), "apt-get", "clean"], timeout=120)
    (root / "root/.ssh").mkdir(mode=0o700, parents=True, exist_ok=True)
    # The node name is set per container by nspawn; a cached one would only mislead.
    with contextlib.suppress(FileNotFoundError):
        (root / "etc/hostname").unlink()


def ensure(log=print, rebuild: bool = False) -> Path:
    """Returns the cached rootfs, building it first when missing or outdated (takes minutes)."""
    if is_ready() and not rebuild:
        return ROOTFS
    with _build_lock():
        if is_ready() and not rebuild:
            return ROOTFS
        if ROOTFS.exists() and _in_use(ROOTFS):
            if stamp():
                log(f"lab: rootfs {ROOTFS} is outdated but in use by running nodes; keeping it")
                return ROOTFS
            raise LabError(f"{ROOTFS} is unfinished but mounted; run `hitless lab down` first")
        for tool in ("debootstrap", "chroot"):
            if not shutil.which(tool):
                raise LabError(f"{tool} is not installed (apt-get install debootstrap)")
        mirror = host_mirror()
        tmp = Path(tempfile.mkdtemp(prefix=f".rootfs-{SUITE}.", dir=CACHE_ROOT))
        logfile = CACHE_ROOT / "debootstrap.log"
        argv = ["debootstrap", "--variant=minbase", f"--include={INCLUDE}"]
        if Path(KEYRING).exists():
            argv.append(f"--keyring={KEYRING}")
        argv += [SUITE, str(tmp), mirror]
        log(f"lab: building the {SUITE} rootfs from {mirror} (once; a few minutes, log {logfile})")
        t0 = time.monotonic()
        try:
            with open(logfile, "w") as fh:
                cp = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, env=_apt_proxy_env(),
                                    stdin=subprocess.DEVNULL, timeout=3600)
            if cp.returncode != 0:
                tail = logfile.read_text().strip().splitlines()[-3:]
                raise LabError(f"debootstrap failed (exit {cp.returncode}): {' | '.join(tail)}")
            _configure(tmp)
            (tmp / STAMP_NAME).write_text(json.dumps(
                {"suite": SUITE, "include": INCLUDE, "mirror": mirror, "built": time.time()}))
            tmp.chmod(0o755)
            old = None
            if ROOTFS.exists():
                old = CACHE_ROOT / f".old-{SUITE}.{os.getpid()}"
                os.rename(ROOTFS, old)
            os.rename(tmp, ROOTFS)  # atomic: the cache is either absent or complete
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log(f"lab: rootfs ready in {time.monotonic() - t0:.0f}s at {ROOTFS}")
        return ROOTFS

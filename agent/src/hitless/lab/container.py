"""Container nodes: a systemd-nspawn container with its own Debian rootfs and sshd, joined
to the node's network namespace, so Ansible can treat the node as a separate host.

Each node gets an overlayfs over the cached rootfs (lower, read-only), with its upper and work
directories under /var/lib/hitless-lab/{prefix}/{node}/. The container runs sshd in the
foreground rather than booting systemd: PID 1 of this machine is not systemd, so there is no
machined either (hence --register=no and no machinectl; `down` kills the nspawn process).
sshd listens on 127.0.0.1:22 of the node's namespace only; Ansible reaches it through a
ProxyCommand that enters the namespace (see proxy_command()).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

from hitless.errors import LabError
from hitless.lab import procs, rootfs, sh

STATE_ROOT = Path(os.environ.get("HITLESS_LAB_STATE", "/var/lib/hitless-lab"))
SSH_KEY = STATE_ROOT / "ssh" / "id_ed25519"
# nspawn processes this process started, so they can be reaped (not left as zombies).
_children: dict[int, subprocess.Popen] = {}
SSHD_CMD = ("mkdir -p /run/sshd && chmod 0755 /run/sshd && "
            "exec /usr/sbin/sshd -D -e -o ListenAddress=127.0.0.1")


def node_dir(prefix: str, node: str) -> Path:
    return STATE_ROOT / prefix / node


def ensure_ssh_key() -> Path:
    """The lab's key pair, made once and shared by every lab (root's key in each container)."""
    if SSH_KEY.exists() and SSH_KEY.with_suffix(".pub").exists():
        return SSH_KEY
    SSH_KEY.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(SSH_KEY.parent / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        if not SSH_KEY.exists():
            tmp = SSH_KEY.parent / f".key-{os.getpid()}"
            tmp_pub = Path(f"{tmp}.pub")
            for p in (tmp, tmp_pub):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            sh.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hitless-lab", "-f", str(tmp)])
            os.rename(tmp_pub, SSH_KEY.with_suffix(".pub"))
            os.rename(tmp, SSH_KEY)  # the private key last: its presence means "complete"
    return SSH_KEY


def _mounted(path: Path) -> bool:
    return os.path.ismount(path)


def ensure_overlay(prefix: str, node: str, lower: Path) -> Path:
    """Mounts the node's overlay at {node_dir}/merged (idempotent); returns the merged dir."""
    d = node_dir(prefix, node)
    merged = d / "merged"
    if _mounted(merged):
        return merged
    for sub in ("upper", "work", "merged"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    sh.run(["mount", "-t", "overlay", f"hl-{prefix}-{node}", "-o",
            f"lowerdir={lower},upperdir={d / 'upper'},workdir={d / 'work'}", str(merged)])
    return merged


def install_key(merged: Path, hostname: str) -> None:
    pub = ensure_ssh_key().with_suffix(".pub").read_text()
    ssh = merged / "root" / ".ssh"
    ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    auth = ssh / "authorized_keys"
    if not auth.exists() or auth.read_text() != pub:
        auth.write_text(pub)
        auth.chmod(0o600)
    (merged / "etc" / "hostname").write_text(hostname + "\n")


def nspawn_pids(prefix: str) -> list[int]:
    """The systemd-nspawn processes running containers of lab `prefix` (found from /proc, so
    this works after a crash): their command line names a lab namespace or overlay."""
    return procs.with_cmdline([f"--network-namespace-path={sh.netns_path(prefix + '-')}",
                               f"{STATE_ROOT / prefix}/"], "systemd-nspawn")


def running_pid(ns: str) -> int | None:
    needle = f"--network-namespace-path={sh.netns_path(ns)}"
    for pid in procs.with_cmdline([needle], "systemd-nspawn"):
        if needle in procs.cmdline(pid) and procs.alive(pid):  # exact argument, not a prefix
            return pid
    return None


def nspawn_argv(ns: str, merged: Path) -> list[str]:
    kver = os.uname().release
    argv = [
        "systemd-nspawn", "-q",
        # No machined here (PID 1 is not systemd): don't register. --keep-unit keeps nspawn
        # from asking systemd for a transient scope unit, so it runs in our own cgroup; it
        # works without systemd (tested: SPEC §7's recipe as is, on this machine).
        "--register=no", "--keep-unit",
        "-D", str(merged), f"--machine={ns}", f"--hostname={ns}",
        f"--network-namespace-path={sh.netns_path(ns)}",
        "--capability=all", "--system-call-filter=bpf perf_event_open",
        # bcc compiles inside the node against the host's kernel headers (SPEC §7).
        "--bind-ro=/usr/src", f"--bind-ro=/lib/modules/{kver}",
        # The host's bpffs, so pins made by an agent in the node are visible to host tests.
        "--bind=/sys/fs/bpf",
        "--as-pid2",  # a stub init reaps sshd's children
        "--console=pipe", "--link-journal=no", "--resolv-conf=off", "--timezone=off",
        "/bin/sh", "-c", SSHD_CMD,
    ]
    return argv


def sshd_banner(ns: str) -> str | None:
    """The SSH banner read from 127.0.0.1:22 inside the node, or None while sshd is not up."""
    # Read one line and hang up: sshd sends its banner first, then waits for ours.
    cp = sh.run(["timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/22 && read -r l <&3 && echo \"$l\""],
                ns=ns, check=False, timeout=10)
    line = (cp.stdout or "").splitlines()[:1]
    return line[0] if line and line[0].startswith("SSH-") else None


def start(prefix: str, node: str, ns: str, log=lambda m: None, timeout: float = 60.0) -> int:
    """Starts the node's container unless it runs already; waits until sshd answers."""
    pid = running_pid(ns)
    if pid is None:
        lower = rootfs.ensure(log=log)
        merged = ensure_overlay(prefix, node, lower)
        install_key(merged, ns)
        logfile = node_dir(prefix, node) / "nspawn.log"
        with open(logfile, "ab") as out:
            proc = subprocess.Popen(nspawn_argv(ns, merged), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        pid = proc.pid
        _children[pid] = proc
        log(f"lab: container {ns} started (nspawn pid {pid})")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sshd_banner(ns):
            return pid
        if not procs.alive(pid):
            break
        time.sleep(0.2)
    tail = ""
    with contextlib.suppress(OSError):
        tail = " | ".join((node_dir(prefix, node) / "nspawn.log").read_text().strip().splitlines()[-3:])
    raise LabError(f"container {ns}: sshd did not come up within {timeout:.0f}s {tail}".rstrip())


def proxy_command(ns: str) -> str:
    return f"nsenter --net={sh.netns_path(ns)} socat STDIO TCP:127.0.0.1:22"


def ssh_options(ns: str) -> list[str]:
    return ["-o", f"ProxyCommand={proxy_command(ns)}", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
            "-i", str(SSH_KEY)]


def ssh_argv(ns: str, command: list[str] | None = None) -> list[str]:
    return ["ssh", *ssh_options(ns), f"root@{ns}", *(command or [])]


def remove_dirs(prefix: str) -> None:
    """Removes the lab's overlay directories; refuses while anything is mounted below them."""
    root = STATE_ROOT / prefix
    if not root.exists():
        return
    if mounts_under(root):
        raise LabError(f"{root} still has mounts: {', '.join(mounts_under(root))}")
    shutil.rmtree(root)


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below `root` in our mount namespace, deepest first."""
    out = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            mp = line.split()[4].replace("\\040", " ")
            if mp == str(root) or mp.startswith(str(root) + "/"):
                out.append(mp)
    return sorted(set(out), key=lambda p: -p.count("/"))


def stop(prefix: str, node: str, ns: str) -> None:
    """Stops one node's container and unmounts its overlay (its upper dir is kept)."""
    pid = running_pid(ns)
    if pid is not None and procs.terminate([pid]):
        raise LabError(f"container {ns}: nspawn pid {pid} did not exit")
    for mp in mounts_under(node_dir(prefix, node)):
        sh.run(["umount", mp], check=False)


def reap() -> None:
    """Collects the exit status of nspawn processes we started and that have ended."""
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            del _children[pid]

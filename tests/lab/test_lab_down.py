"""Acceptance: `lab down` leaves no namespace, veth, pinned map or process behind, also after
a crash (no state record, a fresh Lab object, the process that built the lab killed)."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap

import pytest

from hitless.lab import Lab, state

from labcheck import (alive, map_exists, namespaces, netns_inode, pids_in_netns_inodes, pin_map,
                      root_links, wait_until)

pytestmark = pytest.mark.lab
HITLESS = [sys.executable, "-m", "hitless"]


def _topology(tag: str) -> dict:
    """pair.yml with node names unique to this test, so a bare /sys/fs/bpf/hitless/<node>
    pin (an agent configured with the plain node name) cannot belong to anybody else."""
    a, b, sw = f"a{tag}", f"b{tag}", f"sw{tag}"
    return {
        "name": "downtest",
        "nodes": {
            a: {"type": "host", "interfaces": {"eth0": {"addresses": ["10.66.0.1/24"]}}},
            b: {"type": "host", "interfaces": {"eth0": {"addresses": ["10.66.0.2/24"]}}},
            sw: {"type": "switch"},
        },
        "links": [[f"{a}:eth0", f"{sw}:p1"], [f"{b}:eth0", f"{sw}:p2"]],
    }


def _populate(lab: Lab) -> dict:
    """Long-running processes (one a daemon that outlives its parent), pinned maps under the
    lab's pin roots, and a root-namespace helper link named after the prefix."""
    a, b, sw = sorted(lab.nodes)
    procs = [lab.popen(a, ["sleep", "600"]),
             lab.popen(sw, ["socat", "-u", "UDP-RECV:9999", "/dev/null"])]
    # A double-forked daemon: its parent exits at once, so nobody holds a handle to it.
    lab.run(b, ["sh", "-c", "setsid sleep 601 </dev/null >/dev/null 2>&1 &"])
    maps = [pin_map(f"{lab.pin_root(sw)}/fwd_map"),
            pin_map(f"{lab.pin_root(a)}/sub/deeper_map"),
            pin_map(f"/sys/fs/bpf/hitless/{sw}/bare_map")]
    subprocess.run(["ip", "link", "add", f"{lab.prefix}-x0", "type", "veth", "peer", "name", f"{lab.prefix}-x1"],
                   check=True)
    inodes = {netns_inode(lab.netns(n)) for n in lab.nodes}
    daemon = [p for p in pids_in_netns_inodes({netns_inode(lab.netns(b))})]
    assert daemon, "the daemon should run in the node"
    return {"procs": procs, "maps": maps, "inodes": inodes, "pids": [p.pid for p in procs] + daemon,
            "pins": [lab.pin_root(sw), lab.pin_root(a), f"/sys/fs/bpf/hitless/{sw}"]}


def _assert_clean(lab_prefix: str, made: dict) -> None:
    assert namespaces(lab_prefix) == []
    assert root_links(lab_prefix) == []
    for path in made["pins"]:
        assert not os.path.exists(path), path
    # The maps are freed, not merely unpinned (nothing else held them).
    assert wait_until(lambda: not any(map_exists(m) for m in made["maps"]), timeout=10)
    assert [p for p in made["pids"] if alive(p)] == []
    assert pids_in_netns_inodes(made["inodes"]) == []
    assert not os.path.exists(f"/run/hitless-lab/{lab_prefix}")
    assert not os.path.exists(f"/var/lib/hitless-lab/{lab_prefix}")
    for p in made["procs"]:
        p.wait(timeout=5)


def test_down_removes_everything(make_lab):
    tag = secrets.token_hex(2)
    lab = make_lab(_topology(tag))
    lab.up()
    made = _populate(lab)
    assert all(map_exists(m) for m in made["maps"])
    lab.down()
    _assert_clean(lab.prefix, made)
    lab.down()  # a second down is a no-op, not an error


@pytest.mark.parametrize("how", ["fresh-object", "cli-without-state"])
def test_down_after_losing_state(make_lab, how):
    tag = secrets.token_hex(2)
    lab = make_lab(_topology(tag))
    lab.up()
    made = _populate(lab)
    state.remove(lab.prefix)  # the crash took the record with it
    if how == "fresh-object":
        Lab.from_dict(_topology(tag), prefix=lab.prefix).down()
    else:
        cp = subprocess.run([*HITLESS, "lab", "down", "-p", lab.prefix], capture_output=True, text=True,
                            timeout=120)
        assert cp.returncode == 0, cp.stderr
        made["pins"].pop()  # without a topology the bare <node> pin dir is not ours to know
        subprocess.run(["rm", "-rf", f"/sys/fs/bpf/hitless/sw{tag}"], check=True)
    _assert_clean(lab.prefix, made)


def test_down_after_builder_process_was_killed(prefix):
    """The process that built the lab dies without cleaning up; a new one takes it down."""
    script = textwrap.dedent(f"""
        import os, signal, subprocess
        from hitless.lab import Lab
        lab = Lab.load("pair", prefix={prefix!r})
        lab.up()
        lab.popen("h1", ["sleep", "600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.makedirs(lab.pin_root("sw"), exist_ok=True)
        subprocess.run(["bpftool", "map", "create", lab.pin_root("sw") + "/m", "type", "array",
                        "key", "4", "value", "4", "entries", "1", "name", "hlcrash"], check=True)
        print("ready", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    try:
        cp = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert cp.returncode == -9 and "ready" in cp.stdout, cp.stderr
        assert len(namespaces(prefix)) == 3
        assert os.path.exists(f"/sys/fs/bpf/hitless/{prefix}-sw/m")
    finally:
        down = subprocess.run([*HITLESS, "lab", "down", "-p", prefix], capture_output=True, text=True,
                              timeout=120)
    assert down.returncode == 0, down.stderr
    assert namespaces(prefix) == [] and root_links(prefix) == []
    assert not os.path.exists(f"/sys/fs/bpf/hitless/{prefix}-sw")
    assert not any(alive(p) for p in _sleepers_600())


def _sleepers_600() -> list[int]:
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as fh:
                    if fh.read() == b"sleep\x00600\x00":
                        out.append(int(p))
            except OSError:
                pass
    return out

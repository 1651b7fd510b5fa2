"""The loader's promises, on a real veth in a lab node:
- a second agent adopts the attached program: same id, maps untouched;
- a new build (different flags) replaces the program but keeps the pinned maps' contents;
- generic mode is honoured and reported;
- remove_all detaches and unpins everything.
Each step runs in the node's namespace in a fresh Python process, as a new agent would."""
import json
import os
import sys
import textwrap

import pytest

from hitless.lab import Lab

pytestmark = pytest.mark.lab

TOPOLOGY = {
    "name": "loader",
    "nodes": {"a": {"type": "host", "interfaces": {"eth0": {}}},
              "b": {"type": "host", "interfaces": {"eth0": {}}}},
    "links": [["a:eth0", "b:eth0"]],
}
PRELUDE = """
import json, struct
from hitless.dataplane.loader import Dataplane
from hitless.dataplane.forwarder import ENTRY, U32
KEY = bytes.fromhex("02aa00000001") + bytes(2)
"""


@pytest.fixture
def lab():
    with Lab.from_dict(TOPOLOGY, prefix="tldr").running() as lab:
        yield lab


def in_node(lab, code: str) -> dict:
    out = lab.run("a", [sys.executable, "-c", PRELUDE + textwrap.dedent(code)], timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


def ensure(lab, mode="auto", cflags=()):
    return in_node(lab, f"""
        dp = Dataplane({lab.agent_node_id('a')!r}, xdp_mode={mode!r})
        p = dp.ensure_program("l2fwd", ["eth0"], cflags={list(cflags)!r})
        entry = p.map("l2fwd_table").lookup(KEY)
        print(json.dumps({{"id": p.prog_id, "adopted": p.adopted, "modes": p.modes, "pin": p.pin_path,
                           "entry": entry.hex() if entry else None}}))
    """)


def attached(lab):
    link = json.loads(lab.run("a", ["ip", "-j", "-d", "link", "show", "dev", "eth0"]).stdout)[0]
    return link.get("xdp", {}).get("prog", {}).get("id")


def test_adopt_then_rebuild_keeps_maps(lab):
    first = ensure(lab)
    assert first["adopted"] is False and first["modes"] == {"eth0": "native"}
    assert attached(lab) == first["id"]
    in_node(lab, f"""
        dp = Dataplane({lab.agent_node_id('a')!r})
        p = dp.ensure_program("l2fwd", ["eth0"])
        p.map("l2fwd_table").update(KEY, ENTRY.pack(bytes.fromhex("020000000002"), 0, 1, 0))
        print("{{}}")
    """)

    second = ensure(lab)
    assert second["adopted"] is True and second["id"] == first["id"]
    assert second["entry"] is not None  # nothing flushed

    rebuilt = ensure(lab, cflags=["-DHL_REBUILD_MARKER=1"])
    assert rebuilt["adopted"] is False and rebuilt["id"] != first["id"]
    assert attached(lab) == rebuilt["id"]
    assert rebuilt["entry"] == second["entry"]  # the pinned map was re-used by the new build
    pins = os.listdir(os.path.dirname(rebuilt["pin"]))
    assert [p for p in pins if p.startswith("prog_l2fwd_")] == [os.path.basename(rebuilt["pin"])]


def test_generic_mode_is_honoured(lab):
    res = ensure(lab, mode="generic")
    assert res["modes"] == {"eth0": "generic"}
    link = json.loads(lab.run("a", ["ip", "-j", "-d", "link", "show", "dev", "eth0"]).stdout)[0]
    assert link["xdp"]["mode"] == 2  # XDP_ATTACHED_SKB


def test_remove_all_detaches_and_unpins(lab):
    res = ensure(lab)
    pin_dir = os.path.dirname(res["pin"])
    assert os.path.isdir(pin_dir)
    in_node(lab, f"""
        dp = Dataplane({lab.agent_node_id('a')!r})
        dp.ensure_program("l2fwd", ["eth0"])
        dp.remove_all()
        print("{{}}")
    """)
    assert attached(lab) is None
    assert not os.path.exists(pin_dir)

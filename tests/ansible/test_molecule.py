"""The molecule scenario of the agent role runs its whole sequence on a lab of its own:
create, converge, idempotence, side_effect (SIGKILL every agent), verify (testinfra), destroy."""
from __future__ import annotations

import re
import secrets

import pytest

from ansiblerun import REPO, VENV_BIN, ansible_env, explain, run
from hitless.lab import cleanup
from hitless.lab.lab import Lab

pytestmark = [pytest.mark.lab, pytest.mark.container]


def test_hitless_agent_scenario_passes_every_step():
    prefix = "tm" + secrets.token_hex(3)
    env = ansible_env(MOLECULE_LAB_PREFIX=prefix, NO_COLOR="1")
    env.pop("ANSIBLE_CONFIG")  # molecule writes its own
    try:
        cp = run([str(VENV_BIN / "molecule"), "test", "-s", "hitless_agent"], env=env, timeout=1500)
    finally:
        cleanup.teardown(prefix, sorted(Lab.load("default", prefix=prefix).nodes))
    out = re.sub(r"\x1b\[[0-9;]*m", "", cp.stdout + cp.stderr)
    assert cp.returncode == 0, explain(cp, 120)
    for step in ("create", "converge", "idempotence", "side_effect", "verify", "destroy"):
        assert re.search(rf"{step}: Executed: Successful", out), f"{step} did not run"
    # 4 testinfra tests on each of the 4 agent hosts.
    assert re.search(r"\b16 passed\b", out), explain(cp, 120)

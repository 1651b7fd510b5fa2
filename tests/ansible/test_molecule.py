"""Each role's molecule scenario runs its whole sequence on a lab of its own: create,
converge, idempotence, side_effect (fault injection), verify (testinfra), destroy.
hitless_agent's side effect SIGKILLs every agent; hitless_bcc's unmounts bpffs."""
from __future__ import annotations

import re
import secrets

import pytest

from ansiblerun import REPO, VENV_BIN, ansible_env, explain, run
from hitless.lab import cleanup
from hitless.lab.lab import Lab

pytestmark = [pytest.mark.lab, pytest.mark.container]


# scenario -> testinfra tests it runs (tests per host x 4 agent hosts)
SCENARIOS = {"hitless_agent": 16, "hitless_bcc": 12}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_passes_every_step(scenario, tmp_path):
    prefix = "tm" + secrets.token_hex(3)
    # Its own lab prefix and working directory: a parallel run of the same scenario never collides.
    env = ansible_env(MOLECULE_LAB_PREFIX=prefix, MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "molecule"),
                      NO_COLOR="1")
    env.pop("ANSIBLE_CONFIG")  # molecule writes its own
    try:
        cp = run([str(VENV_BIN / "molecule"), "test", "-s", scenario], env=env, timeout=1500)
    finally:
        cleanup.teardown(prefix, sorted(Lab.load("default", prefix=prefix).nodes))
    out = re.sub(r"\x1b\[[0-9;]*m", "", cp.stdout + cp.stderr)
    assert cp.returncode == 0, explain(cp, 120)
    for step in ("create", "converge", "idempotence", "side_effect", "verify", "destroy"):
        assert re.search(rf"{step}: Executed: Successful", out), f"{step} did not run"
    assert re.search(rf"\b{SCENARIOS[scenario]} passed\b", out), explain(cp, 120)

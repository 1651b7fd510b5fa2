"""testinfra checks of the hitless_agent scenario, after the side effect killed every agent."""
from __future__ import annotations

import json


def status(host) -> dict:
    return json.loads(host.check_output("hitless show status --json"))


def test_agent_runs_under_the_launcher_as_its_lab_node(host):
    assert host.run("hitless-agentctl status").rc == 0
    # A container's hostname is its namespace, {prefix}-{node}: the agent's node name.
    assert status(host)["node"] == host.check_output("hostname")


def test_installed_as_a_bank_that_sees_debian_bcc(host):
    current = host.file("/opt/hitless/current")
    assert current.is_symlink
    bank = current.linked_to
    assert host.file(f"{bank}/.hitless-build").content_string.strip() == bank.rsplit("/", 1)[1]
    assert host.file("/usr/local/bin/hitless").linked_to == f"{bank}/bin/hitless"
    assert host.run(f"{bank}/bin/python -c 'import bcc, hitless'").rc == 0


def test_configuration_is_private_and_valid(host):
    cfg = host.file("/etc/hitless/agent.yml")
    assert cfg.user == "root" and cfg.mode == 0o640
    assert host.run("hitless validate /etc/hitless/agent.yml").rc == 0


def test_killed_agent_came_back_and_adopted_its_data_plane(host):
    before = json.loads(host.file("/run/hitless/before-kill.json").content_string)
    after = status(host)
    assert after["pid"] != before["pid"]
    for name, prog in before["dataplane"]["programs"].items():
        now = after["dataplane"]["programs"][name]
        assert now["adopted"] is True
        assert now["prog_id"] == prog["prog_id"]
        assert now["interfaces"] == prog["interfaces"]

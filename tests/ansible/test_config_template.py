"""The agent role's configuration template: rendered from inventory variables, checked by the
agent's own `hitless validate` before it replaces the file (no lab needed: runs on localhost)."""
from __future__ import annotations

import json
import os
import subprocess

import yaml

from ansiblerun import REPO, VENV_BIN, ansible_env, explain, playbook
from hitless.config.agent import load_agent_config

PLAY = """
- name: Render the agent configuration
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Write it through the role
      ansible.builtin.include_role:
        name: hitless_agent
        tasks_from: config.yml
"""


def render(tmp_path, **variables):
    bank = tmp_path / "bank"
    (bank / "bin").mkdir(parents=True, exist_ok=True)
    if not (bank / "bin" / "hitless").exists():
        os.symlink(VENV_BIN / "hitless", bank / "bin" / "hitless")
    (tmp_path / "play.yml").write_text(PLAY)
    base = {
        "hitless_agent_bank": str(bank),
        "hitless_agent_config_file": str(tmp_path / "etc" / "agent.yml"),
        "hitless_agent_log_file": str(tmp_path / "log" / "agent.log"),
        "hitless_agent_launcher_output": str(tmp_path / "log" / "agent.out"),
        # Handlers must not touch this machine's agents: a stopped agent is never restarted.
        "hitless_agent_state": "stopped",
        "hitless_agent_service_manager": "launcher",
    }
    (tmp_path / "vars.json").write_text(json.dumps({**base, **variables}))
    env = ansible_env(ANSIBLE_ROLES_PATH=str(REPO / "roles"))
    return playbook([str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'vars.json'}"], env=env, cwd=tmp_path)


def test_renders_common_keys_and_role_sections_that_the_agent_accepts(tmp_path):
    forwarder = {"interfaces": ["p1", "p2"],
                 "rules": [{"dst_mac": "02:00:00:00:00:02", "new_dst_mac": "02:00:00:00:00:03", "egress": "p2"}]}
    cp = render(tmp_path, hitless_agent_node="lab-sw1", hitless_agent_roles=["forwarder"],
                hitless_agent_forwarder=forwarder, hitless_agent_log_level="debug",
                hitless_agent_metrics_listen="127.0.0.1:9301",
                hitless_agent_extra_config={"dataplane": {"xdp_mode": "generic"}})
    assert cp.returncode == 0, explain(cp)
    path = tmp_path / "etc" / "agent.yml"
    data = yaml.safe_load(path.read_text())
    assert data["forwarder"] == forwarder
    assert data["dataplane"] == {"bpffs": "/sys/fs/bpf/hitless", "xdp_mode": "generic"}
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    cfg = load_agent_config(path)
    assert cfg.node == "lab-sw1"
    assert cfg.log.level == "debug" and cfg.log.file == str(tmp_path / "log" / "agent.log")
    assert cfg.control_socket == "/run/hitless/lab-sw1.sock"
    assert cfg.metrics_listen == "127.0.0.1:9301"
    assert set(cfg.roles) == {"forwarder"}
    # Unchanged variables, unchanged file: the second render reports no change.
    again = render(tmp_path, hitless_agent_node="lab-sw1", hitless_agent_roles=["forwarder"],
                   hitless_agent_forwarder=forwarder, hitless_agent_log_level="debug",
                   hitless_agent_metrics_listen="127.0.0.1:9301",
                   hitless_agent_extra_config={"dataplane": {"xdp_mode": "generic"}})
    assert again.returncode == 0 and "changed=0" in again.stdout, explain(again)


def test_a_section_the_agent_rejects_never_replaces_the_file(tmp_path):
    ok = render(tmp_path, hitless_agent_node="lab-sw1")
    assert ok.returncode == 0, explain(ok)
    path = tmp_path / "etc" / "agent.yml"
    before = path.read_text()
    bad = render(tmp_path, hitless_agent_node="lab-sw1", hitless_agent_roles=["forwarder"],
                 hitless_agent_forwarder={"interfaces": []})
    assert bad.returncode != 0
    # The failure is the agent's own message: file, dotted key, reason.
    assert "forwarder.interfaces" in bad.stdout, explain(bad)
    assert path.read_text() == before


def test_a_node_name_the_agent_rejects_fails_the_play(tmp_path):
    cp = render(tmp_path, hitless_agent_node="has space")
    assert cp.returncode != 0
    assert "node" in cp.stdout and not (tmp_path / "etc" / "agent.yml").exists(), explain(cp)


UNIT_PLAY = """
- name: Render the agent's systemd unit
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Render it from the role's template
      ansible.builtin.template:
        src: {src}
        dest: {dest}
        mode: "0644"
"""


def test_systemd_unit_passes_systemd_analyze(tmp_path):
    unit = tmp_path / "hitless-agent.service"
    (tmp_path / "unit.yml").write_text(UNIT_PLAY.format(
        src=REPO / "roles" / "hitless_agent" / "templates" / "hitless-agent.service.j2", dest=unit))
    cp = playbook([str(tmp_path / "unit.yml"), "-e", "hitless_agent_node=lab-sw1",
                   "-e", "hitless_agent_config_file=/etc/hitless/agent.yml"], cwd=tmp_path)
    assert cp.returncode == 0, explain(cp)
    text = unit.read_text()
    assert "ExecStart=/usr/local/bin/hitless agent --config /etc/hitless/agent.yml" in text
    assert "Restart=always" in text and "KillMode=mixed" in text

    def analyze(body: str) -> str:
        # This machine has no /usr/local/bin/hitless; systemd checks that commands exist.
        check = tmp_path / "check" / "hitless-agent.service"
        check.parent.mkdir(exist_ok=True)
        check.write_text(body.replace("/usr/local/bin/hitless", "/bin/true"))
        res = subprocess.run(["systemd-analyze", "verify", str(check)], capture_output=True, text=True, timeout=60)
        return res.stderr.strip()

    assert analyze(text) == ""
    assert "kill mode" in analyze(text.replace("KillMode=mixed", "KillMode=sometimes"))

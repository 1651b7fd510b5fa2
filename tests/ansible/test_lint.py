"""The Ansible content passes ansible-lint's production profile and ansible's syntax check,
and every role keeps its contract (argument specs that cover its defaults)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ansiblerun import REPO, VENV_BIN, explain, playbook, run

ROLES = sorted(p for p in (REPO / "roles").iterdir() if (p / "tasks" / "main.yml").exists())
PLAYBOOKS = [REPO / "site.yml", *sorted((REPO / "playbooks").glob("*.yml"))]


def lint(cwd: Path):
    return run([str(VENV_BIN / "ansible-lint"), "--nocolor"], cwd=cwd, timeout=600)


def test_ansible_lint_production_profile_passes():
    cp = lint(REPO)
    assert cp.returncode == 0, explain(cp)
    assert "Profile 'production' was required, and it passed" in cp.stdout + cp.stderr, explain(cp)


def test_ansible_lint_rejects_a_short_module_name(tmp_path):
    """The lint gate bites: a copy of the content with one non-FQCN task fails it."""
    for name in ("ansible.cfg", ".ansible-lint", "site.yml"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "roles", tmp_path / "roles")
    tasks = tmp_path / "roles" / "hitless_agent" / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text() + "\n- name: Say hello\n  debug:\n    msg: hello\n")
    cp = lint(tmp_path)
    assert cp.returncode != 0
    assert "fqcn" in cp.stdout + cp.stderr, explain(cp)


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_playbook_syntax(path):
    cp = playbook(["--syntax-check", str(path)])
    assert cp.returncode == 0, explain(cp)


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_argument_specs_cover_its_defaults(role):
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    assert set(defaults) <= set(options), f"undeclared: {sorted(set(defaults) - set(options))}"
    assert all(name.startswith(role.name + "_") for name in options)
    assert all(opt.get("description") for opt in options.values())

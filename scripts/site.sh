#!/usr/bin/env bash
# `make site`: the main job. Installs what it needs (scripts/bootstrap.sh), brings up the
# default lab, deploys the agent onto it with `ansible-playbook site.yml`, prints every lab
# agent's status, and verifies forwarding with playbooks/verify.yml (traffic probes at
# 10,000 packets/s, loss budget 0). Exits non-zero unless every agent runs and answers and
# no probe loses a packet. HITLESS_SITE_VERIFY=0 skips the probes.
#
# HITLESS_LAB_PREFIX picks another lab prefix (default hl); extra arguments go to
# ansible-playbook (e.g. `bash scripts/site.sh --check --diff`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh

prefix=${HITLESS_LAB_PREFIX:-hl}
export HITLESS_LAB_PREFIX=$prefix
hitless=.venv/bin/hitless

echo "site: bringing up the default lab (prefix $prefix)"
"$hitless" lab up --topology default --prefix "$prefix"

echo "site: ansible-playbook -i inventory/lab site.yml"
# The venv's bin first: ansible's helpers (ansible-config, ...) are found next to it.
play_rc=0
PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg" \
  .venv/bin/ansible-playbook -i inventory/lab site.yml "$@" || play_rc=$?

echo
echo "site: agent status"
mapfile -t hosts < <(PATH="$PWD/.venv/bin:$PATH" .venv/bin/ansible -i inventory/lab hitless_agents \
                     --list-hosts | awk 'NR > 1 {print $1}')
if ((${#hosts[@]} == 0)); then
  echo "site: inventory/lab has no hitless_agents hosts" >&2
  exit 1
fi
statusdir=$(mktemp -d)
trap 'rm -rf "$statusdir"' EXIT
for h in "${hosts[@]}"; do
  # `hitless show status --json` inside the node: the control socket is root-only and local.
  "$hitless" lab ssh --prefix "$prefix" "$h" -- hitless show status --json \
    >"$statusdir/$h.json" 2>"$statusdir/$h.err" || true
done
status_rc=0
.venv/bin/python - "$statusdir" "${hosts[@]}" <<'PY' || status_rc=$?
"""Prints one line per lab agent and exits 1 when any agent did not answer."""
import json
import sys
from pathlib import Path

statusdir, hosts = Path(sys.argv[1]), sys.argv[2:]


def role_summary(name, st):
    """A role's name plus its state where it reports one (e.g. GLBP group 1 active)."""
    if not isinstance(st, dict):
        return name
    states = [f"g{g.get('group')} {g['state']}" for g in st.get("groups", []) if isinstance(g, dict) and "state" in g]
    if "state" in st:
        states.insert(0, str(st["state"]))
    return f"{name} ({', '.join(states)})" if states else name

print(f"{'HOST':<6} {'NODE':<12} {'STATE':<8} {'PID':>6} {'VERSION':<8} {'UPTIME':>9}  {'ROLES':<26} XDP")
down = []
for h in hosts:
    try:
        st = json.loads((statusdir / f"{h}.json").read_text())
    except (OSError, ValueError):
        err = (statusdir / f"{h}.err").read_text().strip().splitlines()
        print(f"{h:<6} {'-':<12} {'DOWN':<8} {'-':>6} {'-':<8} {'-':>9}  {'-':<26} {err[-1] if err else ''}")
        down.append(h)
        continue
    progs = st.get("dataplane", {}).get("programs", {})
    xdp = ", ".join(f"{n} id {p.get('prog_id')} on {len(p.get('interfaces', {}))} ports"
                    + (" (adopted)" if p.get("adopted") else "") for n, p in progs.items()) or "-"
    roles = ", ".join(role_summary(n, r) for n, r in st.get("roles", {}).items()) or "-"
    print(f"{h:<6} {st.get('node', '?'):<12} {'running':<8} {st.get('pid', '?'):>6} {st.get('version', '?'):<8} "
          f"{st.get('uptime_s', 0):>8.1f}s  {roles:<26} {xdp}")
if down:
    print(f"site: {len(down)} of {len(hosts)} agents are not running: {', '.join(down)}", file=sys.stderr)
    sys.exit(1)
print(f"site: all {len(hosts)} lab agents are running")
PY
if ((play_rc != 0)); then
  echo "site: ansible-playbook site.yml failed (exit $play_rc)" >&2
  exit "$play_rc"
fi
if ((status_rc != 0)); then
  exit "$status_rc"
fi
if [[ "${HITLESS_SITE_VERIFY:-1}" != 0 ]]; then
  echo "site: verifying forwarding: ansible-playbook playbooks/verify.yml"
  .venv/bin/ansible-playbook -i inventory/lab playbooks/verify.yml
  echo "site: verify passed (0 packets lost)"
fi

#!/usr/bin/env bash
# Installs everything hitless needs on a fresh Debian 12 machine, as root, idempotently:
# apt packages, the kernel-header link bcc needs, bpffs, and the .venv virtualenv.
# Both `make site` and `make test` call this first, so each does all of its own setup.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

APT_PKGS=(python3-bpfcc linux-headers-amd64 systemd-container debootstrap iproute2 frr
          keepalived tshark tcpdump nftables ethtool socat iputils-ping python3-venv
          python3-dev openssh-client sshpass bpftool procps psmisc)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer for it.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# bcc compiles against /lib/modules/$(uname -r)/build. The running kernel has no
# matching Debian headers, so point it at the newest installed ones (SPEC §7).
kver=$(uname -r)
hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1)
common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -n1)
if [[ -z "$hdr" || -z "$common" ]]; then
  echo "bootstrap: no linux-headers under /usr/src; XDP via bcc is unavailable" >&2
  exit 1
fi
mkdir -p "/lib/modules/$kver"
[[ "$(readlink "/lib/modules/$kver/build" || true)" == "$hdr" ]] || ln -sfn "$hdr" "/lib/modules/$kver/build"
[[ "$(readlink "/lib/modules/$kver/source" || true)" == "$common" ]] || ln -sfn "$common" "/lib/modules/$kver/source"

# Pinned maps live in bpffs.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# The virtualenv: from the system interpreter, so bcc (a Debian package) is importable.
if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import bcc' 2>/dev/null; then
  rm -rf .venv
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=.venv/.hitless-deps
want=$(cat agent/pyproject.toml scripts/requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  # pip.conf on some machines names local mirrors that may be absent; their warnings are noise.
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q -r scripts/requirements-dev.txt 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q -e agent 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import hitless, ansible, molecule, pytest, scapy, hypothesis, bcc"
  echo "$want" > "$stamp"
fi
echo "bootstrap: ready ($ROOT/.venv, headers $(basename "$hdr"))"

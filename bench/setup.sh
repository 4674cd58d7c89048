#!/usr/bin/env bash
# Installs what `npm run bench` needs beyond Node: GNU time (peak RSS), restic and borg to compare with.
# Idempotent; run as root (or with sudo) on Debian/Ubuntu.
set -euo pipefail

missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v restic >/dev/null || missing+=(restic)
command -v borg >/dev/null || missing+=(borgbackup)

if [ ${#missing[@]} -eq 0 ]; then
  echo "bench/setup.sh: nothing to install"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}"

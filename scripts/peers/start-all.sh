#!/usr/bin/env bash
# start-all.sh - install and start every server keepsake's integration tests talk to, on 127.0.0.1
# only: Ceph RGW (S3), OpenSSH (SFTP), and rclone's restic REST server; then write .peers/env.
#
#   bash scripts/peers/start-all.sh && . .peers/env && npm test
#
# Idempotent: running servers are left alone and the env file is rewritten with the same values.
# Needs root (apt-get, a test user, sshd). Server state lives in $KEEPSAKE_PEERS_DIR
# (default /tmp/keepsake-peers), shared by every clone because the ports are fixed.
# Set KEEPSAKE_PEERS_SKIP_APT=1 to skip the package step (offline machines that have them already).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/scripts/peers
export KEEPSAKE_PEERS_DIR=${KEEPSAKE_PEERS_DIR:-/tmp/keepsake-peers}
log() { echo "[peers] $*" >&2; }

need=()
for cmd in radosgw:radosgw ceph-mon:ceph-mon ceph-osd:ceph-osd ceph:ceph-common uuidgen:uuid-runtime curl:curl \
  sshd:openssh-server ssh:openssh-client rclone:rclone restic:restic pgrep:procps; do
  command -v "${cmd%%:*}" >/dev/null || [ -x "/usr/sbin/${cmd%%:*}" ] || need+=("${cmd#*:}")
done
if [ ${#need[@]} -gt 0 ] && [ "${KEEPSAKE_PEERS_SKIP_APT:-0}" != 1 ]; then
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$ROOT/.peers"
env_file=$ROOT/.peers/env
tmp=$(mktemp "$ROOT/.peers/env.XXXXXX")
{
  echo "# Written by scripts/peers/start-all.sh on $(date -u +%FT%TZ); source it: . .peers/env"
  # The gateway has no mgr-dependent feature keepsake uses; skipping ceph-mgr saves ~300 MB of RAM.
  CEPH_S3_NO_MGR=${CEPH_S3_NO_MGR:-1} bash "$HERE/start-s3.sh"
  bash "$HERE/start-sshd.sh"
  bash "$HERE/start-rest.sh"
  echo "export KEEPSAKE_TEST_PEERS_DIR=$KEEPSAKE_PEERS_DIR"
} >"$tmp"
mv "$tmp" "$env_file"
chmod 600 "$env_file"
log "all servers up; environment in $env_file"

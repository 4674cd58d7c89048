#!/usr/bin/env bash
# stop-all.sh - stop the servers start-all.sh started (by their pid files, never by name).
#   --purge   also delete their data, keys and the test repositories
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${KEEPSAKE_PEERS_DIR:-/tmp/keepsake-peers}

stop_pid() { # stop_pid NAME PIDFILE
  [ -s "$2" ] || return 0
  local p
  p=$(cat "$2")
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p"
    for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p"
    echo "stopped $1 (pid $p)"
  fi
  rm -f "$2"
}

stop_pid "rclone serve restic" "$DIR/rest/rest.pid"
stop_pid sshd "$DIR/sshd/sshd.pid"
[ -x "$DIR/ceph/stop.sh" ] && "$DIR/ceph/stop.sh" "${1:-}"
if [ "${1:-}" = --purge ]; then
  rm -rf "$DIR" "$ROOT/.peers"
  echo "purged $DIR and .peers/"
fi

#!/usr/bin/env bash
# start-rest.sh - a restic REST server (`rclone serve restic`) on 127.0.0.1 with a user and password,
# plus an rclone config with a local remote for the `rclone:` driver's tests. Idempotent: a live server
# (pid file + port answering) is left alone; the password is generated once and kept.
#
# Env (all optional):
#   KEEPSAKE_PEERS_DIR   state dir (default /tmp/keepsake-peers); this script uses $KEEPSAKE_PEERS_DIR/rest
#   KEEPSAKE_REST_PORT   port on 127.0.0.1 (default 8722)
# Prints `export KEEPSAKE_TEST_REST_*=` and `KEEPSAKE_TEST_RCLONE_*=` lines on stdout.
set -euo pipefail

DIR=${KEEPSAKE_PEERS_DIR:-/tmp/keepsake-peers}/rest
PORT=${KEEPSAKE_REST_PORT:-8722}
USER_NAME=keepsake

log() { echo "[peers/rest] $*" >&2; }
die() { log "ERROR: $*"; [ -s "$DIR/rest.log" ] && tail -n 8 "$DIR/rest.log" >&2; exit 1; }

command -v rclone >/dev/null || die "rclone missing: apt-get install -y rclone"
mkdir -p "$DIR/repos" "$DIR/rclone-remote"
chmod 700 "$DIR"
[ -s "$DIR/password" ] || (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$DIR/password")
PASS=$(cat "$DIR/password")

# The remote of type local stands for any rclone backend (B2, Drive, OneDrive…): the driver only sees
# rclone's REST answers, whatever is behind them.
cat >"$DIR/rclone.conf" <<CFG
[keepsake-test]
type = local
CFG

up() { curl -s -o /dev/null -u "$USER_NAME:$PASS" "http://127.0.0.1:$PORT/"; }
if [ -s "$DIR/rest.pid" ] && kill -0 "$(cat "$DIR/rest.pid")" 2>/dev/null && up; then
  log "already running on 127.0.0.1:$PORT"
else
  [ -s "$DIR/rest.pid" ] && kill "$(cat "$DIR/rest.pid")" 2>/dev/null || true
  RCLONE_CONFIG="$DIR/rclone.conf" setsid rclone serve restic --addr "127.0.0.1:$PORT" --user "$USER_NAME" --pass "$PASS" \
    "$DIR/repos" >>"$DIR/rest.log" 2>&1 </dev/null &
  echo $! >"$DIR/rest.pid"
  for _ in $(seq 1 40); do up && break; sleep 0.25; done
  up || die "rclone serve restic did not answer on 127.0.0.1:$PORT"
  log "running on 127.0.0.1:$PORT"
fi

cat <<ENV
export KEEPSAKE_TEST_REST_URL=http://$USER_NAME:$PASS@127.0.0.1:$PORT/
export KEEPSAKE_TEST_REST_USER=$USER_NAME
export KEEPSAKE_TEST_REST_PASS=$PASS
export KEEPSAKE_TEST_RCLONE_CONFIG=$DIR/rclone.conf
export KEEPSAKE_TEST_RCLONE_REMOTE=keepsake-test:$DIR/rclone-remote
ENV

#!/usr/bin/env bash
# start-s3.sh - single-node Ceph (Pacific, Debian 12 packages) + RADOS Gateway (S3) on 127.0.0.1, the
# real S3 server keepsake's tests run against (fakes like s3rver hide checksum and range bugs).
#
# No systemd, no Docker, no cephadm: daemons are started by hand, as root, daemonized, with pid files.
# One mon, one mgr, one BlueStore OSD backed by a sparse file, one radosgw (beast) on 127.0.0.1:$CEPH_S3_PORT.
# Idempotent: running it again while the cluster is up just prints the credentials; after a stop it
# restarts the daemons on the existing data; a half-built data dir is wiped and rebuilt.
#
# Env (all optional):
#   CEPH_S3_DIR        data/config/logs dir           (default $KEEPSAKE_PEERS_DIR/ceph, i.e. /tmp/keepsake-peers/ceph;
#                      machine-wide, because the mon and gateway ports are fixed: every clone shares one cluster)
#   CEPH_S3_PORT       radosgw port on 127.0.0.1       (default 7480)
#   CEPH_S3_ACCESS_KEY / CEPH_S3_SECRET_KEY            (fixed test defaults below)
#   CEPH_S3_OSD_SIZE   sparse BlueStore file, bytes    (default 10 GiB; only used at creation)
#   CEPH_S3_OBJECTSTORE bluestore | memstore           (default bluestore; memstore = RAM only, rebuilt after a stop)
#   CEPH_S3_NO_MGR=1   skip ceph-mgr (S3 still works; saves ~300 MB RSS; `ceph -s` then warns)
# Stop with: $CEPH_S3_DIR/stop.sh   (add --purge to delete all data), or scripts/peers/stop-all.sh
# Prints `export KEEPSAKE_TEST_S3_*=...` lines on stdout (start-all.sh appends them to .peers/env).
set -euo pipefail

DIR=${CEPH_S3_DIR:-${KEEPSAKE_PEERS_DIR:-/tmp/keepsake-peers}/ceph}
PORT=${CEPH_S3_PORT:-7480}
AK=${CEPH_S3_ACCESS_KEY:-TESTACCESSKEY0000001}
SK=${CEPH_S3_SECRET_KEY:-testsecretkey000000000000000000000000001}
OSD_SIZE=${CEPH_S3_OSD_SIZE:-10737418240}
STORE=${CEPH_S3_OBJECTSTORE:-bluestore}
S3_UID=backup-test
CONF=$DIR/ceph.conf
CEPH="ceph -c $CONF --connect-timeout 20"

log() { echo "[peers/s3] $*" >&2; }
die() {
  log "ERROR: $*"
  for f in "$DIR"/log/setup.log "$DIR"/log/*.log; do
    if [ -s "$f" ]; then log "--- tail $f"; tail -n 8 "$f" >&2; fi
  done
  exit 1
}

alive() { # alive NAME  -> pid file exists and process alive
  local p="$DIR/run/$1.pid"; [ -s "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null
}
wait_for() { # wait_for SECONDS DESCRIPTION CMD...
  local t=$1 what=$2; shift 2
  for ((i = 0; i < t * 2; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "timed out after ${t}s waiting for $what"
}
s3_up() { curl -fsS -o /dev/null "http://127.0.0.1:$PORT/"; }

print_info() {
  cat <<EOF
export KEEPSAKE_TEST_S3_ENDPOINT=http://127.0.0.1:$PORT
export KEEPSAKE_TEST_S3_REGION=us-east-1
export KEEPSAKE_TEST_S3_ACCESS_KEY=$AK
export KEEPSAKE_TEST_S3_SECRET_KEY=$SK
export KEEPSAKE_TEST_S3_STOP=$DIR/stop.sh
EOF
}

# ---------------------------------------------------------------- 0. packages
if ! command -v radosgw >/dev/null || ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null \
   || ! command -v ceph-mgr >/dev/null || ! command -v uuidgen >/dev/null || ! command -v curl >/dev/null; then
  log "installing Debian packages (ceph pacific 16.2.x)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    ceph-mon ceph-osd ceph-mgr radosgw ceph-common uuid-runtime curl procps >/dev/null
fi

# ---------------------------------------------------------------- 1. already running?
if [ -f "$DIR/.complete" ] && alive mon.a && alive osd.0 && alive client.rgw.a && s3_up; then
  log "already running"
  print_info
  exit 0
fi

# ---------------------------------------------------------------- stop script (written at creation)
write_stop() {
  mkdir -p "$DIR"
  cat >"$DIR/stop.sh" <<EOF
#!/usr/bin/env bash
# Stops the daemons started by scripts/peers/start-s3.sh (by pid file, never by name). --purge deletes $DIR.
DIR=$DIR
for n in client.rgw.a mgr.x osd.0 mon.a; do
  f=\$DIR/run/\$n.pid
  [ -s "\$f" ] || continue
  p=\$(cat "\$f")
  if kill -0 "\$p" 2>/dev/null; then
    kill -TERM "\$p"
    for i in \$(seq 1 60); do kill -0 "\$p" 2>/dev/null || break; sleep 0.25; done
    kill -0 "\$p" 2>/dev/null && kill -KILL "\$p"
    echo "stopped \$n (pid \$p)"
  fi
  rm -f "\$f"
done
if [ "\${1:-}" = "--purge" ]; then rm -rf "\$DIR"; echo "purged \$DIR"; fi
EOF
  chmod +x "$DIR/stop.sh"
}

# ---------------------------------------------------------------- 2. create cluster if needed
if [ ! -f "$DIR/.complete" ]; then
  if [ -d "$DIR" ]; then
    log "incomplete cluster in $DIR: wiping"
    [ -x "$DIR/stop.sh" ] && "$DIR/stop.sh" >/dev/null 2>&1 || true
    rm -rf "$DIR"
  fi
  mkdir -p "$DIR"/{run,log,crash,mon.a,mgr.x,osd.0,rgw.a}
  write_stop
  FSID=$(uuidgen)
  cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $DIR/keyring
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
crash dir = $DIR/crash
osd objectstore = $STORE
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
[mon]
mon data = $DIR/\$name
keyring = $DIR/\$name/keyring
[mgr]
mgr data = $DIR/\$name
keyring = $DIR/\$name/keyring
[osd]
osd data = $DIR/\$name
keyring = $DIR/\$name/keyring
bluestore block create = true
bluestore block size = $OSD_SIZE
bluestore fsck on mkfs = false
bluestore fsck on mount = false
osd memory target = 1073741824
osd op num shards = 2
osd op num threads per shard = 1
memstore device bytes = $OSD_SIZE
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw.a
keyring = $DIR/rgw.a/keyring
rgw thread pool size = 64
EOF

  log "creating keys and monitor"
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  monmaptool --create --fsid "$FSID" --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" >>"$DIR/log/setup.log" 2>&1 || die "ceph-mon --mkfs failed"
  ceph-mon -c "$CONF" -i a >>"$DIR/log/setup.log" 2>&1 || die "ceph-mon failed to start"
  wait_for 60 "monitor quorum" $CEPH mon stat
  $CEPH mon enable-msgr2 >/dev/null 2>&1 || true

  log "creating OSD ($STORE)"
  OSD_UUID=$(uuidgen)
  OSD_ID=$($CEPH osd new "$OSD_UUID")
  [ "$OSD_ID" = 0 ] || die "expected osd id 0, got '$OSD_ID'"
  ceph-authtool --create-keyring "$DIR/osd.0/keyring" --gen-key -n osd.0 >/dev/null
  $CEPH auth add osd.0 osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' -i "$DIR/osd.0/keyring" >/dev/null 2>&1 \
    || die "ceph auth add osd.0 failed"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >>"$DIR/log/setup.log" 2>&1 || die "ceph-osd --mkfs failed"
  $CEPH auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' -o "$DIR/mgr.x/keyring" >/dev/null 2>&1 \
    || die "mgr key failed"
  $CEPH auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' mgr 'allow rw' -o "$DIR/rgw.a/keyring" >/dev/null 2>&1 \
    || die "rgw key failed"
fi

# ---------------------------------------------------------------- 3. start daemons (skips live ones)
alive mon.a || { log "starting mon.a"; ceph-mon -c "$CONF" -i a >>"$DIR/log/setup.log" 2>&1 || die "ceph-mon failed to start"; }
wait_for 60 "monitor quorum" $CEPH mon stat
if [ "${CEPH_S3_NO_MGR:-0}" != 1 ] && ! alive mgr.x; then
  log "starting mgr.x"; ceph-mgr -c "$CONF" -i x >>"$DIR/log/setup.log" 2>&1 || die "ceph-mgr failed to start"
fi
if ! alive osd.0; then
  if [ "$STORE" = memstore ] && [ -f "$DIR/.complete" ]; then
    log "memstore is ephemeral and its OSD stopped: rebuilding the cluster from scratch"
    "$DIR/stop.sh" --purge >/dev/null
    exec "$0" "$@"
  fi
  log "starting osd.0"; ceph-osd -c "$CONF" -i 0 >>"$DIR/log/setup.log" 2>&1 || die "ceph-osd failed to start"
fi
osd_up() { $CEPH osd dump 2>/dev/null | grep -q '^osd.0 up *in'; }
wait_for 120 "osd.0 up+in" osd_up
alive client.rgw.a || { log "starting radosgw"; timeout 120 radosgw -c "$CONF" -n client.rgw.a >>"$DIR/log/setup.log" 2>&1 || die "radosgw failed to start"; }
wait_for 180 "radosgw on 127.0.0.1:$PORT" s3_up

# ---------------------------------------------------------------- 4. S3 user with fixed keys
if ! radosgw-admin -c "$CONF" user info --uid="$S3_UID" >/dev/null 2>&1; then
  log "creating S3 user $S3_UID"
  radosgw-admin -c "$CONF" user create --uid="$S3_UID" --display-name="Backup integration tests" \
    --access-key="$AK" --secret-key="$SK" >/dev/null || die "radosgw-admin user create failed"
fi
touch "$DIR/.complete"
print_info

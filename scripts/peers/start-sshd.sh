#!/usr/bin/env bash
# start-sshd.sh - an OpenSSH server on 127.0.0.1 for keepsake's SFTP tests, run as root, no systemd.
#
# Everything is generated on first run and reused afterwards: a host key, a client key, a known_hosts
# file holding the host key (hashed, as Debian's ssh writes them), and an ssh config with an alias, so
# the tests exercise the same files a user's ~/.ssh holds. Logins go to a dedicated, unprivileged user.
# Idempotent: a live server (pid file + port answering) is left alone.
#
# Env (all optional):
#   KEEPSAKE_PEERS_DIR    state dir (default /tmp/keepsake-peers); this script uses $KEEPSAKE_PEERS_DIR/sshd
#   KEEPSAKE_SSHD_PORT    port on 127.0.0.1 (default 2222)
#   KEEPSAKE_SSHD_USER    login user (default keepsake-test)
# Prints `export KEEPSAKE_TEST_SFTP...=` lines on stdout.
set -euo pipefail

DIR=${KEEPSAKE_PEERS_DIR:-/tmp/keepsake-peers}/sshd
PORT=${KEEPSAKE_SSHD_PORT:-2222}
USER_NAME=${KEEPSAKE_SSHD_USER:-keepsake-test}
ALIAS=keepsake-test-sshd

log() { echo "[peers/sshd] $*" >&2; }
die() { log "ERROR: $*"; [ -s "$DIR/sshd.log" ] && tail -n 8 "$DIR/sshd.log" >&2; exit 1; }

command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || die "OpenSSH server missing: apt-get install -y openssh-server"
mkdir -p "$DIR" /run/sshd
chmod 700 "$DIR"

# ---------------------------------------------------------------- user whose home holds the repositories
if ! id "$USER_NAME" >/dev/null 2>&1; then
  log "creating user $USER_NAME"
  useradd --create-home --shell /bin/sh "$USER_NAME"
fi
usermod -p '*' "$USER_NAME" # a locked account ('!') is refused even for key logins
HOME_DIR=$(getent passwd "$USER_NAME" | cut -d: -f6)
mkdir -p "$HOME_DIR/.ssh" "$HOME_DIR/repos"

# ---------------------------------------------------------------- keys, known_hosts, ssh config
[ -f "$DIR/host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C keepsake-test-host -f "$DIR/host_ed25519_key"
[ -f "$DIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C keepsake-test-client -f "$DIR/id_ed25519"
cp "$DIR/id_ed25519.pub" "$HOME_DIR/.ssh/authorized_keys"
chown -R "$USER_NAME:" "$HOME_DIR/.ssh" "$HOME_DIR/repos"
chmod 700 "$HOME_DIR/.ssh" && chmod 600 "$HOME_DIR/.ssh/authorized_keys"

echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$DIR/host_ed25519_key.pub")" >"$DIR/known_hosts"
ssh-keygen -q -H -f "$DIR/known_hosts" >/dev/null 2>&1 && rm -f "$DIR/known_hosts.old"
chmod 644 "$DIR/known_hosts"

cat >"$DIR/ssh_config" <<CFG
# Written by scripts/peers/start-sshd.sh: use with \`ssh -F $DIR/ssh_config $ALIAS\`.
Host $ALIAS
  HostName 127.0.0.1
  Port $PORT
  User $USER_NAME
  IdentityFile $DIR/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $DIR/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
CFG

cat >"$DIR/sshd_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $DIR/host_ed25519_key
PidFile $DIR/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers $USER_NAME
Subsystem sftp internal-sftp
MaxSessions 32
MaxStartups 64
CFG

print_info() {
  cat <<ENV
export KEEPSAKE_TEST_SFTP=sftp:$ALIAS:$HOME_DIR/repos
export KEEPSAKE_TEST_SFTP_URL=sftp://$USER_NAME@127.0.0.1:$PORT/$HOME_DIR/repos
export KEEPSAKE_TEST_SSH_CONFIG=$DIR/ssh_config
export KEEPSAKE_TEST_SSH_KEY=$DIR/id_ed25519
export KEEPSAKE_TEST_SSH_KNOWN_HOSTS=$DIR/known_hosts
export KEEPSAKE_TEST_SFTP_COMMAND="ssh -F $DIR/ssh_config $ALIAS -s sftp"
ENV
}

# ---------------------------------------------------------------- start unless running
if [ -s "$DIR/sshd.pid" ] && kill -0 "$(cat "$DIR/sshd.pid")" 2>/dev/null; then
  kill -HUP "$(cat "$DIR/sshd.pid")" # re-read the config, in case this script changed it
  log "already running on 127.0.0.1:$PORT"
else
  /usr/sbin/sshd -t -f "$DIR/sshd_config" || die "sshd rejected $DIR/sshd_config"
  /usr/sbin/sshd -f "$DIR/sshd_config" -E "$DIR/sshd.log" || die "sshd failed to start"
fi
for _ in $(seq 1 40); do
  ssh -F "$DIR/ssh_config" "$ALIAS" true 2>/dev/null && break
  sleep 0.25
done
ssh -F "$DIR/ssh_config" "$ALIAS" true || die "cannot log in as $USER_NAME on 127.0.0.1:$PORT"
log "running on 127.0.0.1:$PORT (user $USER_NAME)"
print_info

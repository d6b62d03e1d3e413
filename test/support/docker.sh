#!/usr/bin/env bash
# Make sure a Docker daemon answers on this machine (the lab's data plane needs one).
#
#  - installs docker.io (and the other packages the data-plane lab uses) with apt when missing;
#  - starts `dockerd` in the background (there is no systemd here) with its log in
#    $DOCKWALL_DOCKERD_LOG (default /var/log/dockwall-dockerd.log) when `docker info` fails;
#  - waits (bounded, $DOCKWALL_DOCKERD_WAIT seconds, default 60) until `docker info` works.
#
# Idempotent: a daemon that already answers is left alone, an installed package is not reinstalled.
# Exit code 0 = the daemon answers; non-zero = it does not, with the reason on stderr.
set -euo pipefail

LOG="${DOCKWALL_DOCKERD_LOG:-/var/log/dockwall-dockerd.log}"
WAIT="${DOCKWALL_DOCKERD_WAIT:-60}"

say() { echo "docker.sh: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# Packages: dockerd itself plus what the data-plane lab runs on the host side.
# command -> Debian package
declare -A PKG=(
  [dockerd]=docker.io
  [dnsmasq]=dnsmasq-base
  [tcpdump]=tcpdump
  [ip]=iproute2
  [ping]=iputils-ping
  [nsenter]=util-linux
  [debootstrap]=debootstrap
)
missing=()
for cmd in "${!PKG[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
    missing+=("${PKG[$cmd]}")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # apt lists may be absent on a fresh machine; update once, then install.
  if ! as_root apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    as_root apt-get update -q
    as_root apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

if docker info >/dev/null 2>&1; then
  say "daemon answering ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

# Is a dockerd of ours already starting? Then just wait for it, never start a second one.
running=""
if [ -f /var/run/docker.pid ]; then
  pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
  if [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
    running="$pid"
  fi
fi

if [ -z "$running" ]; then
  DOCKERD="$(command -v dockerd || echo /usr/sbin/dockerd)"
  # containerd ships with docker.io; dockerd starts its own managed containerd when none runs.
  mkdir -p "$(dirname "$LOG")"
  say "starting $DOCKERD (log: $LOG)"
  # setsid + nohup: the daemon must outlive this script and the shell that ran it.
  as_root setsid nohup "$DOCKERD" >>"$LOG" 2>&1 </dev/null &
  disown || true
else
  say "dockerd (pid $running) runs but \`docker info\` fails (still starting?${DOCKER_HOST:+ DOCKER_HOST=$DOCKER_HOST}); waiting"
fi

for ((i = 0; i < WAIT; i++)); do
  if docker info >/dev/null 2>&1; then
    say "daemon answering after ${i}s ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
    exit 0
  fi
  sleep 1
done

say "dockerd did not answer within ${WAIT}s; last lines of $LOG:"
tail -n 30 "$LOG" >&2 || true
exit 1

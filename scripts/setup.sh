#!/usr/bin/env bash
# Install and start what dockwall's lab, tests and demo need, idempotently:
#   Debian packages (Docker engine from docker.io, dnsmasq, iproute2, debootstrap, tcpdump, ...),
#   the Docker daemon, the npm dependencies, the Pulumi engine (built from Go modules when `pulumi`
#   is not installed) and the local debian:bookworm-slim base image (debootstrap, no registry).
# Each step prints what it does; a second run changes nothing and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n[setup] %s\n' "$*"; }
t0=$(date +%s)

PKGS=(docker.io dnsmasq-base debootstrap tcpdump iproute2 iputils-ping openssh-client openssh-server ca-certificates)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if ((${#missing[@]})); then
  step "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  step "Debian packages present"
fi

step "Docker engine"
bash test/support/docker.sh

if [ ! -d node_modules/@pulumi/pulumi ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund
else
  step "npm dependencies present"
fi

step "TypeScript build"
npm run --silent build

step "Pulumi engine"
bash test/support/engine.sh >/dev/null

step "base image debian:bookworm-slim"
bash test/support/base-image.sh

step "ready in $(( $(date +%s) - t0 )) s"

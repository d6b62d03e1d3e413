#!/usr/bin/env bash
# Provide the local image `debian:bookworm-slim` without a container registry.
#
# When the image is absent locally, build a minimal Debian bookworm root file system with
# `debootstrap --variant=minbase` from the Debian mirror this machine's apt uses
# (/etc/apt/sources.list and /etc/apt/sources.list.d/*, one-line or deb822 format), pack it into a
# tarball cached outside the repository ($DOCKWALL_CACHE, default ~/.cache/dockwall), and
# `docker import` it under the tag.
#
# Idempotent: an existing image is kept; an existing cached tarball is imported without running
# debootstrap again. Override the mirror with DOCKWALL_DEBIAN_MIRROR, the tag with
# DOCKWALL_BASE_IMAGE. Needs root (debootstrap) and a running Docker daemon (test/support/docker.sh).
set -euo pipefail

TAG="${DOCKWALL_BASE_IMAGE:-debian:bookworm-slim}"
SUITE=bookworm
CACHE="${DOCKWALL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dockwall}"
TARBALL="$CACHE/debian-$SUITE-minbase-$(dpkg --print-architecture 2>/dev/null || echo amd64).tar"

say() { echo "base-image.sh: $*" >&2; }

if docker image inspect "$TAG" >/dev/null 2>&1; then
  say "$TAG present locally ($(docker image inspect -f '{{.Id}}' "$TAG" | cut -c1-19)); nothing to do"
  exit 0
fi

find_mirror() {
  local f line uris="" suites="" types=""
  # One-line format: deb [opts] URI SUITE COMPONENTS...
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    while read -r line; do
      line="${line%%#*}"
      # shellcheck disable=SC2086
      set -- $line
      [ "${1:-}" = deb ] || continue
      shift
      if [[ "${1:-}" == \[* ]]; then
        while [ $# -gt 0 ] && [[ "$1" != *\] ]]; do shift; done
        shift
      fi
      if [ "${2:-}" = "$SUITE" ]; then echo "$1"; return 0; fi
    done <"$f"
  done
  # deb822 format: stanzas with Types:, URIs:, Suites:, separated by blank lines.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uris="" suites="" types=""
    while IFS= read -r line || [ -n "$line" ]; do
      case "$line" in
        \#*) continue ;;
        Types:*) types="${line#Types:}" ;;
        URIs:*) uris="${line#URIs:}" ;;
        Suites:*) suites="${line#Suites:}" ;;
        "")
          if [[ " $types " == *" deb "* ]] && [[ " $suites " == *" $SUITE "* ]] && [ -n "$uris" ]; then
            # shellcheck disable=SC2086
            set -- $uris; echo "$1"; return 0
          fi
          uris="" suites="" types="" ;;
      esac
    done < <(cat "$f"; echo)
  done
  return 1
}

if [ ! -s "$TARBALL" ]; then
  MIRROR="${DOCKWALL_DEBIAN_MIRROR:-$(find_mirror || true)}"
  if [ -z "$MIRROR" ]; then
    say "no Debian $SUITE mirror found in /etc/apt/sources.list(.d); set DOCKWALL_DEBIAN_MIRROR"
    exit 1
  fi
  command -v debootstrap >/dev/null 2>&1 || {
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap
  }
  mkdir -p "$CACHE"
  ROOT="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  trap 'rm -rf "$ROOT"' EXIT
  say "debootstrap --variant=minbase $SUITE from $MIRROR into $ROOT (takes a few minutes)"
  debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" 2>&1 | while IFS= read -r l; do
    echo "  [debootstrap] $l" >&2
  done
  [ -x "$ROOT/bin/sh" ] || { say "debootstrap failed (no /bin/sh in the root file system)"; exit 1; }
  say "trimming the root file system (apt caches and lists, like the -slim images)"
  rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/*.log \
    "$ROOT"/tmp/* "$ROOT"/var/tmp/*
  # Like Debian's official -slim images: no man pages, docs or translations, now or in later
  # `apt-get install`s (dpkg path excludes); copyright files stay.
  cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
CFG
  find "$ROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/groff/* "$ROOT"/usr/share/info/* \
    "$ROOT"/usr/share/locale/* "$ROOT"/usr/share/lintian/* "$ROOT"/usr/share/linda/*
  # No recommends in images built on top (keeps the dockwall image small).
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$ROOT/etc/apt/apt.conf.d/docker-no-recommends"
  # A container gets its hostname, hosts and resolv.conf from the engine.
  : >"$ROOT/etc/hostname"
  say "packing $TARBALL"
  tar --numeric-owner --xattrs -C "$ROOT" -cf "$TARBALL.part" .
  mv -f "$TARBALL.part" "$TARBALL"
  rm -rf "$ROOT"
  trap - EXIT
else
  say "using cached root file system $TARBALL"
fi

say "docker import $TARBALL as $TAG"
docker import --change 'CMD ["bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -m "debootstrap --variant=minbase $SUITE (dockwall test/support/base-image.sh)" \
  "$TARBALL" "$TAG" >&2
say "$TAG ready ($(docker image inspect -f '{{.Size}}' "$TAG") bytes)"

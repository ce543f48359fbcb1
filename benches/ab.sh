#!/usr/bin/env bash
# Before/after: two builds of our benchmark binary (and the Go client when
# the anchors are built) alternating on one etcd on tmpfs, for one change
# measured alone.
#
#   cargo bench --features tls --no-run   # at the old commit; copy the binary
#   cp "$(ls -t target/release/deps/throughput-* | grep -v '\.d$' | head -1)" /tmp/tp-old
#   ...same at the new commit into /tmp/tp-new...
#   ROUNDS=5 bash benches/ab.sh /tmp/tp-old /tmp/tp-new "-workload lease -clients 16 -conns 4 -total 20000"
#
# Prints every run's line, prefixed with the binary's name.
set -euo pipefail
old=$1 new=$2
shift 2
cd "$(dirname "${BASH_SOURCE[0]}")/.."
go="${ANCHORS:-$(pwd)/../shared/anchors}/bin/go-clientv3"
etcd_bin="${ETCD_BIN:-$(command -v etcd || echo /usr/bin/etcd)}"
dir="$(mktemp -d /dev/shm/etcd-ab.XXXXXX)"
port=$((20000 + RANDOM % 20000))
"$etcd_bin" --name ab --data-dir "$dir/data" \
  --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
  --listen-peer-urls "http://127.0.0.1:$((port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
  --initial-cluster "ab=http://127.0.0.1:$((port + 1))" \
  --logger zap --log-outputs stderr --log-level error >"$dir/etcd.log" 2>&1 &
etcd_pid=$!
trap 'kill $etcd_pid 2>/dev/null; wait $etcd_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
sleep 2
for args in "$@"; do
  for _ in $(seq "${ROUNDS:-5}"); do
    for prog in "$old" "$new" "$go"; do
      [ -x "$prog" ] || continue
      # shellcheck disable=SC2086
      echo "$(basename "$prog") $("$prog" -endpoints "127.0.0.1:$port" $args 2>/dev/null | grep '^client=' || echo FAILED)"
    done
  done
done

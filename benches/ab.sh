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
# shellcheck source=benches/etcd-tmpfs.sh
source benches/etcd-tmpfs.sh
for args in "$@"; do
  for _ in $(seq "${ROUNDS:-5}"); do
    for prog in "$old" "$new" "$go"; do
      [ -x "$prog" ] || continue
      # shellcheck disable=SC2086
      echo "$(basename "$prog") $("$prog" -endpoints "$ep" $args 2>/dev/null | grep '^client=' || echo FAILED)"
    done
  done
done

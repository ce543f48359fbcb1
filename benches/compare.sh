#!/usr/bin/env bash
# Side-by-side benchmark: etcd-blocking, the official Go client and the async
# Rust etcd-client, against ONE etcd server on tmpfs, alternating the
# programs for each workload, then the ratios ours/Go.
#
#   bash benches/compare.sh                 # the default matrix
#   ROUNDS=3 bash benches/compare.sh        # more alternations per workload
#   ETCD_BIN=/usr/bin/etcd bash benches/compare.sh
#   ANCHORS=/tmp/anchors bash benches/compare.sh   # a writable copy of the anchors
#   OUT=benches/results bash benches/compare.sh    # where the CSV and the chart go
#
# Needs ../shared/anchors (built here with its build.sh when bin/ is missing).
# Writes the table of medians as CSV ($OUT/compare.csv) and, with gnuplot
# (installed when missing), a chart of throughput and CPU per operation per
# workload for the three clients ($OUT/compare.png).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
anchors="${ANCHORS:-$(pwd)/../shared/anchors}"
rounds="${ROUNDS:-2}"
out="${OUT:-benches/results}"
mkdir -p "$out"

if [ ! -x "$anchors/bin/go-clientv3" ] || [ ! -x "$anchors/bin/rust-etcd-client" ]; then
  if [ -x "$anchors/build.sh" ]; then
    bash "$anchors/build.sh"
  else
    echo "compare.sh: no ../shared/anchors; only our numbers will be printed" >&2
  fi
fi

cargo bench --features tls --no-run >/dev/null 2>&1 || cargo bench --features tls --no-run
ours="$(ls -t target/release/deps/throughput-* | grep -v '\.d$' | head -1)"

# shellcheck source=benches/etcd-tmpfs.sh
source benches/etcd-tmpfs.sh
echo "# etcd $version on tmpfs at $ep; $(nproc) cores; $rounds rounds, alternating"

run() {
  local prog=$1
  shift
  "$prog" -endpoints "$ep" "$@" 2>/dev/null | grep '^client=' || echo "client=$(basename "$prog") FAILED $*"
}

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }

results="$etcd_dir/results"
: >"$results"
matrix=(
  "-workload put -clients 1 -conns 1 -total 5000"
  "-workload range -clients 1 -conns 1 -total 5000"
  "-workload txn -clients 1 -conns 1 -total 5000"
  "-workload watch -clients 1 -conns 1 -total 5000"
  "-workload lease -clients 1 -conns 1 -total 5000"
  "-workload watch -clients 16 -conns 4 -total 20000"
  "-workload lease -clients 16 -conns 4 -total 20000"
  "-workload put -clients 64 -conns 4 -total 30000"
  "-workload range -clients 64 -conns 4 -total 30000"
  "-workload txn -clients 64 -conns 4 -total 30000"
)
if [ -n "${MATRIX:-}" ]; then
  IFS=';' read -r -a matrix <<<"$MATRIX"
fi
for args in "${matrix[@]}"; do
  for _ in $(seq "$rounds"); do
    # shellcheck disable=SC2086
    for prog in "$ours" "$anchors/bin/go-clientv3" "$anchors/bin/rust-etcd-client"; do
      [ -x "$prog" ] || continue
      line="$(run "$prog" $args)"
      echo "$line"
      echo "$args|$line" >>"$results"
    done
  done
done

echo
echo "# medians over rounds; ratio = etcd-blocking / go-clientv3 (qps: higher is better; cpu: lower is better); ours_csw = our context switches per op"
printf '%-44s %10s %10s %10s %9s %9s %9s %8s %8s %8s\n' workload ours_qps go_qps rs_qps ours_cpu go_cpu rs_cpu qps_x cpu_x ours_csw
csv="$out/compare.csv"
echo "workload,clients,conns,ours_qps,go_qps,rs_qps,ours_cpu_us,go_cpu_us,rs_cpu_us,qps_ratio,cpu_ratio,ours_ctxsw_per_op" >"$csv"
median() { sort -n | awk '{a[NR]=$1} END {if (!NR) print 0; else if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
for args in "${matrix[@]}"; do
  declare -A qps=() cpu=()
  for client in etcd-blocking go-clientv3 rust-etcd-client; do
    lines="$(grep -F -e "$args|client=$client " "$results" | cut -d'|' -f2 || true)"
    qps[$client]="$(while read -r l; do [ -n "$l" ] && field qps "$l"; done <<<"$lines" | median)"
    cpu[$client]="$(while read -r l; do [ -n "$l" ] && field client_cpu_us_per_op "$l"; done <<<"$lines" | median)"
  done
  lines="$(grep -F -e "$args|client=etcd-blocking " "$results" | cut -d'|' -f2 || true)"
  csw="$(while read -r l; do [ -n "$l" ] && field ctxsw_per_op "$l"; done <<<"$lines" | median)"
  qx="$(awk -v a="${qps[etcd-blocking]}" -v b="${qps[go-clientv3]}" 'BEGIN{if (b>0) printf "%.2f", a/b; else print "-"}')"
  cx="$(awk -v a="${cpu[etcd-blocking]}" -v b="${cpu[go-clientv3]}" 'BEGIN{if (b>0) printf "%.2f", a/b; else print "-"}')"
  printf '%-44s %10s %10s %10s %9s %9s %9s %8s %8s %8s\n' "$args" "${qps[etcd-blocking]}" "${qps[go-clientv3]}" \
    "${qps[rust-etcd-client]}" "${cpu[etcd-blocking]}" "${cpu[go-clientv3]}" "${cpu[rust-etcd-client]}" "$qx" "$cx" "$csw"
  read -r _ workload _ clients _ conns _ <<<"$args"
  echo "$workload,$clients,$conns,${qps[etcd-blocking]},${qps[go-clientv3]},${qps[rust-etcd-client]},${cpu[etcd-blocking]},${cpu[go-clientv3]},${cpu[rust-etcd-client]},$qx,$cx,$csw" >>"$csv"
  unset qps cpu
done
echo "# table: $csv"

# The chart: one group of bars per workload, throughput above and CPU per
# operation below, one colour per client.
if ! command -v gnuplot >/dev/null; then
  (apt-get install -y -qq gnuplot-nox || (apt-get update -qq && apt-get install -y -qq gnuplot-nox)) >/dev/null 2>&1 || true
fi
if command -v gnuplot >/dev/null; then
  gnuplot <<PLOT
set terminal pngcairo size 1400,900 font "sans,10"
set output "$out/compare.png"
set datafile separator ","
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set grid ytics
set xtics rotate by -30
set multiplot layout 2,1 title "etcd $version, $(nproc) cores, medians of $rounds rounds: etcd-blocking, the Go client, etcd-client"
set ylabel "operations per second"
plot "$csv" every ::1 using 4:xtic(sprintf("%s %s/%s", strcol(1), strcol(2), strcol(3))) title "etcd-blocking" lc rgb "#1b9e77", \\
     "" every ::1 using 5 title "Go clientv3" lc rgb "#d95f02", \\
     "" every ::1 using 6 title "etcd-client (async Rust)" lc rgb "#7570b3"
set ylabel "client CPU per operation (us)"
plot "$csv" every ::1 using 7:xtic(sprintf("%s %s/%s", strcol(1), strcol(2), strcol(3))) title "etcd-blocking" lc rgb "#1b9e77", \\
     "" every ::1 using 8 title "Go clientv3" lc rgb "#d95f02", \\
     "" every ::1 using 9 title "etcd-client (async Rust)" lc rgb "#7570b3"
unset multiplot
PLOT
  echo "# chart: $out/compare.png"
fi

#!/usr/bin/env bash
# Side-by-side benchmark against ONE etcd server on tmpfs, alternating the
# programs for each workload: etcd-blocking, the official Go client, the
# async Rust etcd-client on its own tasks, and the same etcd-client driven
# from OS threads through `block_on` (`-blocking`: what a program without
# async code uses today). Then the ratios ours/Go and ours/blocking.
#
#   bash benches/compare.sh                 # the default matrix
#   ROUNDS=3 bash benches/compare.sh        # more alternations per workload
#   ETCD_BIN=/usr/bin/etcd bash benches/compare.sh
#   ANCHORS=/tmp/anchors bash benches/compare.sh   # anchors elsewhere (their bin/ or build.sh)
#   OUT=benches/results bash benches/compare.sh    # where the CSV and the chart go
#
# Needs ../shared/anchors: the programs in its bin/, or in the folder its
# build.sh prints last (/tmp/anchors-bin where ../shared is read-only),
# built here when missing. Writes the table of medians as CSV
# ($OUT/compare.csv) and, with gnuplot (installed when missing), a chart of
# throughput and CPU per operation per workload for the four clients
# ($OUT/compare.png).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
anchors="${ANCHORS:-$(pwd)/../shared/anchors}"
rounds="${ROUNDS:-2}"
out="${OUT:-benches/results}"
mkdir -p "$out"

have_anchors() { [ -x "$1/go-clientv3" ] && [ -x "$1/rust-etcd-client" ]; }
bin="$anchors/bin"
have_anchors "$bin" || bin=/tmp/anchors-bin
if ! have_anchors "$bin"; then
  if [ -f "$anchors/build.sh" ]; then
    # build.sh names the folder it wrote to on its last line.
    bin="$(bash "$anchors/build.sh" | tail -n1)"
  else
    echo "compare.sh: no ../shared/anchors; only our numbers will be printed" >&2
  fi
fi
go_prog="$bin/go-clientv3"
rs_prog="$bin/rust-etcd-client"

cargo bench --features tls --no-run >/dev/null 2>&1 || cargo bench --features tls --no-run
ours="$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/throughput-* | grep -v '\.d$' | head -1)"

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
    # The fourth program is etcd-client again, on OS threads (-blocking).
    for prog in "$ours" "$go_prog" "$rs_prog" "$rs_prog -blocking"; do
      [ -x "${prog%% *}" ] || continue
      line="$(run $prog $args)"
      echo "$line"
      echo "$args|$line" >>"$results"
    done
  done
done

echo
echo "# medians over rounds; go_x = etcd-blocking / go-clientv3, blk_x = etcd-blocking / rust-etcd-client-blocking (qps: higher is better; cpu: lower is better); csw = our context switches per op"
fmt='%-44s %8s %8s %8s %8s %7s %7s %7s %7s %6s %6s %6s %6s %6s\n'
# shellcheck disable=SC2059
printf "$fmt" workload ours_qps go_qps rs_qps blk_qps ours_us go_us rs_us blk_us qps_go cpu_go qps_bk cpu_bk csw
csv="$out/compare.csv"
echo "workload,clients,conns,ours_qps,go_qps,rs_qps,rs_blocking_qps,ours_cpu_us,go_cpu_us,rs_cpu_us,rs_blocking_cpu_us,qps_ratio_go,cpu_ratio_go,qps_ratio_blocking,cpu_ratio_blocking,ours_ctxsw_per_op" >"$csv"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b>0) printf "%.2f", a/b; else print "-"}'; }
median() { sort -n | awk '{a[NR]=$1} END {if (!NR) print 0; else if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
for args in "${matrix[@]}"; do
  declare -A qps=() cpu=()
  for client in etcd-blocking go-clientv3 rust-etcd-client rust-etcd-client-blocking; do
    lines="$(grep -F -e "$args|client=$client " "$results" | cut -d'|' -f2 || true)"
    qps[$client]="$(while read -r l; do [ -n "$l" ] && field qps "$l"; done <<<"$lines" | median)"
    cpu[$client]="$(while read -r l; do [ -n "$l" ] && field client_cpu_us_per_op "$l"; done <<<"$lines" | median)"
  done
  lines="$(grep -F -e "$args|client=etcd-blocking " "$results" | cut -d'|' -f2 || true)"
  csw="$(while read -r l; do [ -n "$l" ] && field ctxsw_per_op "$l"; done <<<"$lines" | median)"
  ours_q="${qps[etcd-blocking]}" ours_c="${cpu[etcd-blocking]}"
  go_q="${qps[go-clientv3]}" go_c="${cpu[go-clientv3]}"
  rs_q="${qps[rust-etcd-client]}" rs_c="${cpu[rust-etcd-client]}"
  bk_q="${qps[rust-etcd-client-blocking]}" bk_c="${cpu[rust-etcd-client-blocking]}"
  qx="$(ratio "$ours_q" "$go_q")" cx="$(ratio "$ours_c" "$go_c")"
  qb="$(ratio "$ours_q" "$bk_q")" cb="$(ratio "$ours_c" "$bk_c")"
  # shellcheck disable=SC2059
  printf "$fmt" "$args" "$ours_q" "$go_q" "$rs_q" "$bk_q" "$ours_c" "$go_c" "$rs_c" "$bk_c" "$qx" "$cx" "$qb" "$cb" "$csw"
  read -r _ workload _ clients _ conns _ <<<"$args"
  echo "$workload,$clients,$conns,$ours_q,$go_q,$rs_q,$bk_q,$ours_c,$go_c,$rs_c,$bk_c,$qx,$cx,$qb,$cb,$csw" >>"$csv"
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
set terminal pngcairo size 1400,900 font "sans,10" noenhanced
set output "$out/compare.png"
set datafile separator ","
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set grid ytics
set xtics rotate by -30
set multiplot layout 2,1 title "etcd $version, $(nproc) cores, medians of $rounds rounds: etcd-blocking, the Go client, etcd-client (tasks, and OS threads with block_on)"
set ylabel "operations per second"
plot "$csv" every ::1 using 4:xtic(sprintf("%s %s/%s", strcol(1), strcol(2), strcol(3))) title "etcd-blocking" lc rgb "#1b9e77", \\
     "" every ::1 using 5 title "Go clientv3" lc rgb "#d95f02", \\
     "" every ::1 using 6 title "etcd-client (async Rust)" lc rgb "#7570b3", \\
     "" every ::1 using 7 title "etcd-client + block_on (OS threads)" lc rgb "#e7298a"
set ylabel "client CPU per operation (us)"
plot "$csv" every ::1 using 8:xtic(sprintf("%s %s/%s", strcol(1), strcol(2), strcol(3))) title "etcd-blocking" lc rgb "#1b9e77", \\
     "" every ::1 using 9 title "Go clientv3" lc rgb "#d95f02", \\
     "" every ::1 using 10 title "etcd-client (async Rust)" lc rgb "#7570b3", \\
     "" every ::1 using 11 title "etcd-client + block_on (OS threads)" lc rgb "#e7298a"
unset multiplot
PLOT
  echo "# chart: $out/compare.png"
fi

# Sourced by compare.sh and ab.sh: starts one etcd (ETCD_BIN, else the one
# on PATH) on tmpfs and a free-looking loopback port, waits until it
# answers, and removes it when the sourcing script exits. Sets `ep`
# (127.0.0.1:port), `etcd_bin` and `version`.
etcd_bin="${ETCD_BIN:-$(command -v etcd || echo /usr/bin/etcd)}"
etcd_dir="$(mktemp -d /dev/shm/etcd-bench.XXXXXX)"
etcd_port=$((20000 + RANDOM % 20000))
"$etcd_bin" --name bench --data-dir "$etcd_dir/data" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
  --initial-cluster "bench=http://127.0.0.1:$((etcd_port + 1))" \
  --logger zap --log-outputs stderr --log-level error >"$etcd_dir/etcd.log" 2>&1 &
etcd_pid=$!
trap 'kill $etcd_pid 2>/dev/null; wait $etcd_pid 2>/dev/null || true; rm -rf "$etcd_dir"' EXIT
ep="127.0.0.1:$etcd_port"
for _ in $(seq 100); do
  curl -fs "http://$ep/health" >/dev/null 2>&1 && break
  (exec 3<>"/dev/tcp/127.0.0.1/$etcd_port") 2>/dev/null && break
  sleep 0.1
done
sleep 0.5
version="$("$etcd_bin" --version | sed -n 's/^etcd Version: //p')"

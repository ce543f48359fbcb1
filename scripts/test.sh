#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds everything once
# with --features tls,v2,discovery-srv,metrics, runs `cargo test` against etcd 3.4.23 and against etcd
# 3.5.30, then clippy (-D warnings), rustdoc (-D warnings) and rustfmt.
# Every check runs even if an earlier one failed; the exit status is non-zero
# if any failed.
#
# Environment: RUST_TEST_THREADS (default 4: tests mostly wait on etcd),
# ETCD34_BIN / ETCD35_BIN to test other binaries. Extra arguments are passed
# to both `cargo test` runs (e.g. `scripts/test.sh -- --nocapture`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

# One feature set and one profile for every cargo command below, so the
# ~10 minute gRPC C++ build (grpcio-sys) happens exactly once.
# shellcheck source=scripts/features.sh
source scripts/features.sh
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

header() {
  echo
  echo "=================================================================="
  echo "== $*"
  echo "=================================================================="
}

failed=()
total_passed=0
total_failed=0
total_ignored=0

header "installing dependencies (scripts/install-deps.sh)"
bash scripts/install-deps.sh
# shellcheck source=scripts/etcd-bins.sh
source scripts/etcd-bins.sh
for var in ETCD34_BIN ETCD35_BIN; do
  if [ -z "${!var}" ] || [ ! -x "${!var}" ]; then
    echo "test.sh: $var (${!var:-unset}) is not an executable etcd" >&2
    exit 1
  fi
done

if cargo fmt --version >/dev/null 2>&1; then
  header "cargo fmt --check"
  cargo fmt --all -- --check || failed+=("cargo fmt --check")
else
  echo "test.sh: rustfmt not installed, skipping cargo fmt --check"
fi

header "cargo build --all-targets ${FEATURES[*]} (the first build compiles gRPC's C++: ~10 min on 2 cores)"
cargo build --all-targets "${FEATURES[@]}"

log_dir=target/test-logs
mkdir -p "$log_dir"

run_tests() {
  local bin=$1
  shift
  local version
  version="$("$bin" --version | sed -n 's/^etcd Version: //p')"
  header "cargo test ${FEATURES[*]} against etcd $version ($bin), RUST_TEST_THREADS=$RUST_TEST_THREADS"
  local log="$log_dir/etcd-$version.log"
  local status=0
  ETCD_BIN="$bin" cargo test --no-fail-fast "${FEATURES[@]}" "$@" 2>&1 | tee "$log" || status=$?
  # Add up libtest's summary lines: "test result: ok. 12 passed; 0 failed; 1 ignored; ..."
  local p f i
  read -r p f i < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$log" |
    awk '{p+=$1; f+=$2; i+=$3} END {print p+0, f+0, i+0}')
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  total_ignored=$((total_ignored + i))
  echo "etcd-$version: $p passed, $f failed, $i skipped"
  if [ "$status" -ne 0 ]; then
    failed+=("cargo test with etcd $version (exit $status)")
  fi
}

run_tests "$ETCD34_BIN" "$@"
run_tests "$ETCD35_BIN" "$@"

header "cargo clippy --all-targets ${FEATURES[*]} -- -D warnings"
cargo clippy --all-targets "${FEATURES[@]}" -- -D warnings || failed+=("cargo clippy")

header "cargo doc --no-deps ${FEATURES[*]} (RUSTDOCFLAGS=-D warnings)"
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --no-deps "${FEATURES[@]}" || failed+=("cargo doc")

header "summary"
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
else
  echo "all checks passed (fmt, build, tests on etcd 3.4 and 3.5, clippy, doc)"
fi
# Plain closing line over both test runs.
echo "total: $total_passed passed, $total_failed failed, $total_ignored skipped"
[ "${#failed[@]}" -eq 0 ]

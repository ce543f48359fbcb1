#!/usr/bin/env bash
# The quickstart: installs what the example needs (build tools, OpenSSL
# headers, etcd 3.4 from Debian) and runs examples/quickstart.rs, which
# starts a throwaway etcd unless ETCD_ENDPOINTS is set. Arguments go to the
# example.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi

bash scripts/install-deps.sh --quickstart
# Same features and profile as scripts/test.sh, so the two share one build.
# shellcheck source=scripts/features.sh
source scripts/features.sh
exec cargo run "${FEATURES[@]}" --example quickstart -- "$@"

#!/usr/bin/env bash
# Gateway overhead benchmark (`make bench`): release build of `sluice`, then bench/bench.py starts the
# Bedrock simulator and `sluice serve` on free local ports and measures added TTFB, added time between
# events, streamed requests/s at concurrency 64 and peak RSS. Results: stdout and bench/results.md.
# Extra arguments go to bench/bench.py (see `.venv/bin/python bench/bench.py --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || bash scripts/install-deps.sh
.venv/bin/python -c 'import httpx2' 2>/dev/null \
  || { echo "bench: .venv lacks httpx2 (comes with anthropic): run bash scripts/install-deps.sh" >&2; exit 1; }

# wrk is the load generator for step 3: a compiled client does not become the bottleneck the way a
# Python one does on a small machine. Without root or apt, bench.py falls back to Python asyncio.
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing wrk (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
  else
    echo "bench: wrk not found (apt-get install -y wrk); using the Python load generator instead" >&2
  fi
fi

cargo build --release -p sluice
exec .venv/bin/python bench/bench.py --sluice "${CARGO_TARGET_DIR:-target}/release/sluice" "$@"

#!/usr/bin/env bash
# The size of each Lambda function as deployed: the arm64 release binary (`bootstrap`) and its zip, built by
# cargo-lambda exactly as `make build` builds them. Prints a Markdown table. Usage: scripts/function-sizes.sh
# [CARGO_TARGET_DIR]; `make sizes` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
target="${1:-${CARGO_TARGET_DIR:-target}}"
functions=(sluice-gateway sluice-admin sluice-spend sluice-notify sluice-export)

args=()
for fn in "${functions[@]}"; do args+=(-p "$fn"); done
CARGO_TARGET_DIR="$target" cargo lambda build --release --arm64 --output-format zip "${args[@]}" >&2

python3 - "$target" "${functions[@]}" <<'PY'
import sys, zipfile, os
target, functions = sys.argv[1], sys.argv[2:]
print("| function | bootstrap (bytes) | zip (bytes) |")
print("|---|---:|---:|")
for fn in functions:
    path = os.path.join(target, "lambda", fn, "bootstrap.zip")
    with zipfile.ZipFile(path) as z:
        binary = z.getinfo("bootstrap").file_size
    print(f"| {fn} | {binary:,} | {os.path.getsize(path):,} |")
PY

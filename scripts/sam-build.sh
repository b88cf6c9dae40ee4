#!/usr/bin/env bash
# `sam build` without Docker: SAM calls cargo-lambda (from .venv, with zig) to cross-compile the
# functions for Graviton, then we check that each artifact really is an aarch64 Linux executable.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0

for tool in sam cargo-lambda python; do
  if ! command -v "$tool" >/dev/null; then
    echo "sam-build: '$tool' not found in .venv; run scripts/install-deps.sh (or 'make deps')" >&2
    exit 1
  fi
done

sam build --beta-features --template-file template.yaml "$@"

for fn in GatewayFunction AdminFunction SpendFunction NotifyFunction ExportFunction; do
bootstrap=.aws-sam/build/$fn/bootstrap
python - "$bootstrap" <<'PY'
import struct, sys
path = sys.argv[1]
try:
    with open(path, "rb") as f:
        header = f.read(20)
except FileNotFoundError:
    sys.exit(f"sam-build: {path} was not produced")
# ELF identification: magic, class (2 = 64-bit), data (1 = little-endian); e_machine at offset 18.
if len(header) < 20 or header[:4] != b"\x7fELF":
    sys.exit(f"sam-build: {path} is not an ELF file")
if header[4] != 2 or header[5] != 1:
    sys.exit(f"sam-build: {path} is not a 64-bit little-endian ELF")
(machine,) = struct.unpack_from("<H", header, 18)
EM_AARCH64 = 183
if machine != EM_AARCH64:
    sys.exit(f"sam-build: {path} is built for ELF machine {machine}, expected aarch64 ({EM_AARCH64})")
print(f"sam-build: {path} is an aarch64 ELF executable")
PY
done

#!/usr/bin/env bash
# Offline checks of the SAM stack and the sample events: lint the SAM template, run SAM's own
# validation, then translate to CloudFormation and lint that too (it exposes pass-through values,
# such as the Function URL's InvokeMode, that linting the SAM template cannot see).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0

for tool in cfn-lint sam python; do
  if ! command -v "$tool" >/dev/null; then
    echo "check-template: '$tool' not found in .venv; run scripts/install-deps.sh (or 'make deps')" >&2
    exit 1
  fi
done

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "== cfn-lint template.yaml infra/*.yaml"
cfn-lint template.yaml infra/*.yaml

echo "== sam validate --lint"
sam validate --lint --region us-east-1 --template-file template.yaml

echo "== SAM -> CloudFormation, then cfn-lint"
python scripts/sam-translate.py template.yaml "$out/translated.json"
# The nested stacks' local paths resolve beside the translation; W3002 says such paths need `sam package`/`deploy`
# (which uploads them), as intended.
cp -r infra "$out/infra"
cfn-lint --ignore-checks W3002 -- "$out/translated.json"
for nested in infra/*.yaml; do
  echo "== sam validate --lint $nested"
  sam validate --lint --region us-east-1 --template-file "$nested"
done

echo "== events/"
python scripts/check-events.py events

echo "check-template: OK"

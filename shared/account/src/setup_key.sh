#!/usr/bin/env bash
# Configures Claude Code to use Sluice at __GATEWAY_URL__ with a virtual key (no identity provider is configured).
# Usage: SLUICE_API_KEY=sk-sluice-... bash setup.sh   (ask your administrator for a key: `sluice keys create`),
# or the one-time link of a setup token, which carries the key: bash <(curl -fsS '<url>/auth/setup?token=st_...')
set -euo pipefail
PRESET_KEY="__PRESET_KEY__"
if [ -n "$PRESET_KEY" ]; then
  export SLUICE_API_KEY="$PRESET_KEY"
fi
SLUICE_URL="__SLUICE_URL__"
GATEWAY_URL="__GATEWAY_URL__"
SETTINGS_DIR="__SETTINGS_DIR__"
if [ -z "${SLUICE_API_KEY:-}" ]; then
  echo "Set SLUICE_API_KEY to the virtual key your administrator gave you, then run this script again." >&2
  exit 1
fi
mkdir -p "$SETTINGS_DIR"
SLUICE_POLICY_SETTINGS=$(curl -fsS -H "x-api-key: $SLUICE_API_KEY" "$SLUICE_URL/auth/claude-settings" 2>/dev/null || true)
export SLUICE_POLICY_SETTINGS
python3 - "$SETTINGS_DIR/settings.json" "$GATEWAY_URL" <<'PY'
import json, os, sys
path, url = sys.argv[1:3]
settings = {}
if os.path.exists(path):
    with open(path) as f:
        settings = json.load(f)
env = settings.setdefault("env", {})
for k in ["ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK", "ANTHROPIC_BEDROCK_BASE_URL", "CLAUDE_CODE_SKIP_BEDROCK_AUTH"]:
    env.pop(k, None)
settings.pop("apiKeyHelper", None)
# Web search is turned off for this organisation: Claude Code should not offer it.
if "__DENY_WEBSEARCH__" == "1":
    deny = settings.setdefault("permissions", {}).setdefault("deny", [])
    if "WebSearch" not in deny:
        deny.append("WebSearch")
env["ANTHROPIC_BASE_URL"] = url
env["ANTHROPIC_API_KEY"] = os.environ["SLUICE_API_KEY"]
# The gateway's policy for this person: tools Claude Code should not offer, models it may pick (Sluice enforces
# both either way; this only lets Claude Code show them up front).
policy = os.environ.get("SLUICE_POLICY_SETTINGS", "")
try:
    policy = json.loads(policy) if policy else {}
except ValueError:
    policy = {}
if isinstance(policy, dict):
    denied = policy.get("permissions", {}).get("deny", [])
    if denied:
        deny = settings.setdefault("permissions", {}).setdefault("deny", [])
        deny.extend(d for d in denied if isinstance(d, str) and d not in deny)
    if isinstance(policy.get("availableModels"), list):
        settings["availableModels"] = policy["availableModels"]
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(settings, f, indent=2)
    f.write("\n")
os.chmod(tmp, 0o600)
os.replace(tmp, path)
PY
echo "Claude Code now uses Sluice at $GATEWAY_URL with your key."

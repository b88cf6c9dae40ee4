#!/usr/bin/env bash
# Configures Claude Code to use Sluice at __SLUICE_URL__ with browser sign-in (single sign-on).
set -euo pipefail
SLUICE_URL="__SLUICE_URL__"
GATEWAY_URL="__GATEWAY_URL__"
SETTINGS_DIR="__SETTINGS_DIR__"
mkdir -p "$SETTINGS_DIR"
HELPER="$SETTINGS_DIR/sluice-token.sh"
curl -fsS "$SLUICE_URL/auth/setup/token-script" -o "$HELPER"
chmod 700 "$HELPER"
SETTINGS="$SETTINGS_DIR/settings.json"
python3 - "$SETTINGS" "$HELPER" "$SLUICE_URL" "__HELPER_TTL_MS__" "$GATEWAY_URL" <<'PY'
import json, os, sys
path, helper, url, ttl, gateway = sys.argv[1:6]
settings = {}
if os.path.exists(path):
    with open(path) as f:
        settings = json.load(f)
env = settings.setdefault("env", {})
# Settings that would send Claude Code somewhere else or bypass Sluice's sign-in.
for k in ["ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY", "CLAUDE_CODE_USE_BEDROCK", "ANTHROPIC_BEDROCK_BASE_URL",
          "CLAUDE_CODE_SKIP_BEDROCK_AUTH", "DISABLE_PROMPT_CACHING"]:
    env.pop(k, None)
env["ANTHROPIC_BASE_URL"] = gateway
env["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"] = ttl
env["CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY"] = "1"
settings["apiKeyHelper"] = "bash " + helper + " " + url
# Web search is turned off for this organisation: Claude Code should not offer it.
if "__DENY_WEBSEARCH__" == "1":
    deny = settings.setdefault("permissions", {}).setdefault("deny", [])
    if "WebSearch" not in deny:
        deny.append("WebSearch")
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(settings, f, indent=2)
    f.write("\n")
os.replace(tmp, path)
PY
echo "Claude Code now uses Sluice at $GATEWAY_URL; the first request opens your browser to sign in at $SLUICE_URL."
for v in ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN CLAUDE_CODE_USE_BEDROCK ANTHROPIC_BASE_URL; do
  if [ -n "${!v:-}" ]; then echo "Note: $v is set in your shell and overrides these settings; unset it." >&2; fi
done

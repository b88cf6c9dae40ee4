#!/usr/bin/env bash
# Claude Code apiKeyHelper for Sluice: prints a session token, signing in through the browser when needed.
# Usage: bash sluice-token.sh [SLUICE_URL]
set -euo pipefail
SLUICE_URL="${1:-${SLUICE_URL:-__SLUICE_URL__}}"
CACHE_DIR="${HOME}/.claude/tokens"
mkdir -p "$CACHE_DIR"
chmod 700 "$CACHE_DIR"
CACHE="$CACHE_DIR/sluice.$(printf '%s' "$SLUICE_URL" | tr -c 'A-Za-z0-9' '-')"

# A cached token is reused while it has more than a minute left.
if [ -f "$CACHE" ]; then
  token=$(cat "$CACHE")
  exp=$(python3 -c 'import base64,json,sys
p=sys.argv[1].split(".")[1]; p+="="*(-len(p)%4)
print(json.loads(base64.urlsafe_b64decode(p)).get("exp",0))' "$token" 2>/dev/null || echo 0)
  if [ "$exp" -gt $(( $(date +%s) + 60 )) ]; then
    printf '%s\n' "$token"
    exit 0
  fi
fi

session=$(python3 -c 'import uuid; print(uuid.uuid4())')
url="$SLUICE_URL/auth/cli/login?session=$session"
echo "Sluice: sign in at $url" >&2
for opener in xdg-open open wslview; do
  if command -v "$opener" >/dev/null 2>&1; then "$opener" "$url" >/dev/null 2>&1 || true; break; fi
done

# Poll for up to two minutes.
for _ in $(seq 1 60); do
  sleep 2
  answer=$(curl -fsS "$SLUICE_URL/auth/cli/poll?session=$session" || true)
  status=$(printf '%s' "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",""))' 2>/dev/null || true)
  case "$status" in
    complete)
      token=$(printf '%s' "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
      umask 077
      printf '%s' "$token" > "$CACHE"
      printf '%s\n' "$token"
      exit 0 ;;
    expired|not_found) echo "Sluice: sign-in $status; run Claude Code again." >&2; exit 1 ;;
  esac
done
echo "Sluice: sign-in timed out." >&2
exit 1

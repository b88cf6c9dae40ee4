#!/usr/bin/env bash
# Claude Code apiKeyHelper for Sluice: prints a session token, signing in through the browser when needed.
# Usage: bash sluice-token.sh [SLUICE_URL]
# The browser hands a one-time code to a listener on 127.0.0.1 that only this script runs, and the code redeems
# the token only together with this script's PKCE verifier (RFC 8252, RFC 7636): a sign-in link someone else
# started gives them nothing.
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

work=$(mktemp -d)
listener=""
cleanup() { [ -n "$listener" ] && kill "$listener" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

session=$(python3 -c 'import uuid; print(uuid.uuid4())')
verifier=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
challenge=$(python3 -c 'import base64,hashlib,sys
print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$verifier")

# The loopback listener: takes one /callback carrying this sign-in's state, writes its code, and stops
# (after two minutes at the latest).
python3 - "$session" "$work" <<'PY' &
import http.server, os, sys, threading, urllib.parse
session, work = sys.argv[1], sys.argv[2]
def publish(name, value):
    with open(os.path.join(work, name + ".tmp"), "w") as f:
        f.write(value)
    os.rename(os.path.join(work, name + ".tmp"), os.path.join(work, name))
class Callback(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path != "/callback" or q.get("state") != [session] or not q.get("code"):
            self.send_error(404)
            return
        publish("code", q["code"][0])
        body = b"<!doctype html><meta charset=utf-8><title>Sluice sign-in</title><p>Signed in. You can close this tab and return to Claude Code.</p>"
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        threading.Thread(target=self.server.shutdown).start()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Callback)
publish("port", str(server.server_address[1]))
threading.Timer(120, server.shutdown).start()
server.serve_forever()
PY
listener=$!

for _ in $(seq 1 100); do [ -f "$work/port" ] && break; sleep 0.05; done
[ -f "$work/port" ] || { echo "Sluice: could not listen on 127.0.0.1 for the sign-in." >&2; exit 1; }
url="$SLUICE_URL/auth/cli/login?session=$session&port=$(cat "$work/port")&code_challenge=$challenge"
echo "Sluice: sign in at $url" >&2
for opener in xdg-open open wslview; do
  if command -v "$opener" >/dev/null 2>&1; then "$opener" "$url" >/dev/null 2>&1 || true; break; fi
done

# Wait for the browser (two minutes), then redeem the code with the verifier.
for _ in $(seq 1 240); do [ -f "$work/code" ] && break; sleep 0.5; done
[ -f "$work/code" ] || { echo "Sluice: sign-in timed out." >&2; exit 1; }
body=$(python3 -c 'import json,sys; print(json.dumps({"session": sys.argv[1], "code": sys.argv[2], "code_verifier": sys.argv[3]}))' \
  "$session" "$(cat "$work/code")" "$verifier")
answer=$(curl -fsS -X POST -H 'content-type: application/json' --data-binary @- "$SLUICE_URL/auth/cli/token" <<<"$body") || {
  echo "Sluice: sign-in refused; run Claude Code again." >&2; exit 1; }
token=$(printf '%s' "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
umask 077
printf '%s' "$token" > "$CACHE"
# After a sign-in: tell Claude Code what the gateway's policy for this person is (settings.json beside this
# script; never fails the sign-in).
case "$0" in */*) SETTINGS="${0%/*}/settings.json" ;; *) SETTINGS="settings.json" ;; esac
if [ -f "$SETTINGS" ]; then
  SLUICE_POLICY_SETTINGS=$(curl -fsS -H "authorization: Bearer $token" "$SLUICE_URL/auth/claude-settings" 2>/dev/null || true)
  export SLUICE_POLICY_SETTINGS
  python3 - "$SETTINGS" >/dev/null 2>&1 <<'PY' || true
import json, os, sys
path = sys.argv[1]
with open(path) as f:
    settings = json.load(f)
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
os.replace(tmp, path)
PY
fi
printf '%s\n' "$token"

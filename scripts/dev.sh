#!/usr/bin/env bash
# `make dev`: try Sluice locally with no AWS account.
#   - builds `sluice` (debug),
#   - starts the Bedrock simulator on 127.0.0.1:8090 in the background (stopped again when this exits),
#   - creates a key in .data/ the first time (secret kept in .data/dev-key, mode 600),
#   - runs `sluice serve` on 127.0.0.1:8080 in the foreground (Ctrl-C stops everything).
# SLUICE_UPSTREAM=bedrock: no simulator; the real Bedrock with the AWS credentials and region of the
# environment (AWS_PROFILE / AWS_ACCESS_KEY_ID..., AWS_REGION).
# Addresses: SLUICE_LISTEN (default 127.0.0.1:8080), SIM_LISTEN (default 127.0.0.1:8090).
set -euo pipefail
cd "$(dirname "$0")/.."

UPSTREAM="${SLUICE_UPSTREAM:-sim}"
LISTEN="${SLUICE_LISTEN:-127.0.0.1:8080}"
SIM_LISTEN="${SIM_LISTEN:-127.0.0.1:8090}"
DATA_DIR=.data
SLUICE="${CARGO_TARGET_DIR:-target}/debug/sluice"

case "$UPSTREAM" in
  sim | bedrock) ;;
  *) echo "dev: SLUICE_UPSTREAM must be 'sim' (default) or 'bedrock', not '$UPSTREAM'" >&2; exit 2 ;;
esac

cargo build -p sluice
mkdir -p "$DATA_DIR"

sim_pid=""
serve_pid=""
stop_children() {
  local pid
  for pid in $serve_pid $sim_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$UPSTREAM" = sim ]; then
  sim_log="$DATA_DIR/bedrock-sim.log"
  "$SLUICE" bedrock-sim --listen "$SIM_LISTEN" >"$sim_log" 2>&1 &
  sim_pid=$!
  # Wait until it has bound its port (it logs the address), or report why it did not.
  for _ in $(seq 1 100); do
    grep -q "listening" "$sim_log" && break
    kill -0 "$sim_pid" 2>/dev/null || { echo "dev: the Bedrock simulator did not start:" >&2; cat "$sim_log" >&2; exit 1; }
    sleep 0.1
  done
  grep -q "listening" "$sim_log" || { echo "dev: the Bedrock simulator did not start in 10 s; see $sim_log" >&2; exit 1; }
  echo "dev: Bedrock simulator on http://$SIM_LISTEN (pid $sim_pid, log $sim_log)"
  # Fake credentials: the simulator does not check SigV4, and no real AWS setting should be used by mistake.
  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME="http://$SIM_LISTEN"
else
  echo "dev: upstream is the real Amazon Bedrock (region ${AWS_REGION:-${AWS_DEFAULT_REGION:-from your AWS config}})"
fi

if [ ! -s "$DATA_DIR/dev-key" ]; then
  # umask first, so the secret is never readable by others, not even for a moment.
  (
    umask 077
    "$SLUICE" keys create --name dev --data-dir "$DATA_DIR" | tail -n 1 >"$DATA_DIR/dev-key.tmp"
    mv "$DATA_DIR/dev-key.tmp" "$DATA_DIR/dev-key"
  )
  echo "dev: created a key named 'dev'; its secret is in $DATA_DIR/dev-key"
fi
chmod 600 "$DATA_DIR/dev-key"

cat <<MSG

Point Claude Code at Sluice (in another terminal, from this folder):

  ANTHROPIC_BASE_URL=http://$LISTEN ANTHROPIC_API_KEY=\$(cat $DATA_DIR/dev-key) claude

Other keys: $SLUICE keys create --name NAME --data-dir $DATA_DIR
Ctrl-C stops Sluice$([ -n "$sim_pid" ] && echo " and the simulator").

MSG

# Started in the background and waited for, so that a signal to this script (Ctrl-C, kill) runs the
# traps at once and stops both processes; output still goes to this terminal.
"$SLUICE" serve --listen "$LISTEN" --data-dir "$DATA_DIR" &
serve_pid=$!
wait "$serve_pid"

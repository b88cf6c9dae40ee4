#!/usr/bin/env bash
# Install what the tests, template checks and builds need, into the repository only:
#   .venv/          Python tools from requirements-dev.txt (moto, pytest, cargo-lambda + zig, SAM CLI, cfn-lint, anthropic)
#   node_modules/   npm tools from package.json / package-lock.json (the real Claude Code CLI, playwright-core)
#   .venv/bin/ccag  CCAG's own admin CLI (crate ccag-cli), which Sluice's admin API must serve unchanged
#   .venv/bin/cargo-deny  the dependency policy checker of `make deny` (deny.toml)
# plus Debian packages when something basic is missing. Idempotent: each part is skipped while the
# file that describes it is unchanged (a hash stamp), so `make test` can call this every time.
# Works unattended (CI=true, no stdin) on a fresh Debian with Rust, Python 3.11, Node 20 and gcc.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PYTHON="${PYTHON:-python3}"

log() { echo "install-deps: $*"; }
die() { echo "install-deps: $*" >&2; exit 1; }

sha() { cat "$@" | sha256sum | cut -d' ' -f1; }

# --- Debian packages -------------------------------------------------------------------------
apt_updated=0
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to apt-get install $*"
    sudo="sudo -n"
  fi
  command -v apt-get >/dev/null || die "missing $*, and this is not a Debian-like system: install them by hand"
  if [ "$apt_updated" -eq 0 ]; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.11 (apt-get install python3)"
command -v node >/dev/null || die "node not found: install Node.js 20"
command -v npm >/dev/null || apt_install npm
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) 1.95"
# The sign-in setup scripts Sluice serves use curl; their end-to-end test runs them.
command -v curl >/dev/null || apt_install curl ca-certificates
# The portal tests (tests/portal) drive Debian's Chromium through playwright-core.
[ -x /usr/bin/chromium ] || apt_install chromium
# The end-to-end test of Claude Code's own /login drives its terminal UI in tmux.
command -v tmux >/dev/null || apt_install tmux
# Debian splits venv/ensurepip out of python3; without it `python3 -m venv` fails half-way.
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  pyver="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  apt_install "python${pyver}-venv"
fi

# --- Python venv -----------------------------------------------------------------------------
py_stamp="$(sha requirements-dev.txt <("$PYTHON" -VV))"
if [ -x .venv/bin/python ] && [ "$(cat .venv/.sluice-stamp 2>/dev/null)" = "$py_stamp" ]; then
  log ".venv up to date"
else
  # A venv made by another interpreter (or a half-made one) is rebuilt rather than patched.
  if [ -d .venv ] && ! .venv/bin/python -c 'import sys' 2>/dev/null; then
    rm -rf .venv
  fi
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  log "pip install -r requirements-dev.txt (into .venv)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r requirements-dev.txt
  .venv/bin/python -m pip check
  echo "$py_stamp" > .venv/.sluice-stamp
fi
for tool in moto_server pytest cargo-lambda sam cfn-lint; do
  [ -x ".venv/bin/$tool" ] || die ".venv/bin/$tool missing after install (see requirements-dev.txt)"
done

# --- npm packages ----------------------------------------------------------------------------
npm_flags=(--no-audit --no-fund --loglevel=error)
if [ -f package-lock.json ]; then
  js_stamp="$(sha package.json package-lock.json)"
else
  js_stamp="$(sha package.json)"
fi
if [ -d node_modules ] && [ "$(cat node_modules/.sluice-stamp 2>/dev/null)" = "$js_stamp" ]; then
  log "node_modules up to date"
else
  if [ -f package-lock.json ]; then
    log "npm ci"
    npm ci "${npm_flags[@]}"
  else
    log "npm install (no lockfile yet)"
    npm install "${npm_flags[@]}"
  fi
  echo "$js_stamp" > node_modules/.sluice-stamp
fi

# Claude Code's real program is a native binary in a per-platform optional dependency; npm skips
# optional dependencies silently on failure, so check it and install it explicitly if it is absent.
if ! node_modules/.bin/claude --version >/dev/null 2>&1; then
  platform="$(node -p 'process.platform + "-" + process.arch')"
  cc_version="$(node -p 'require("./package.json").dependencies["@anthropic-ai/claude-code"]')"
  log "Claude Code native binary missing; installing @anthropic-ai/claude-code-${platform}@${cc_version}"
  npm install --no-save "${npm_flags[@]}" "@anthropic-ai/claude-code-${platform}@${cc_version}"
  # Its postinstall links the native binary into place; run it again now that the binary exists.
  (cd node_modules/@anthropic-ai/claude-code && node install.cjs)
  node_modules/.bin/claude --version >/dev/null 2>&1 \
    || die "node_modules/.bin/claude does not run; see npm output above"
fi

# --- Rust tools from crates.io ---------------------------------------------------------------
# Each compiles from source (a few minutes), so it is skipped while the installed binary reports the pinned
# version. Usage: cargo_install_pinned <crate> <binary> <version>; the binary lands in .venv/bin.
cargo_install_pinned() {
  local crate="$1" bin="$2" version="$3"
  if [ "$(".venv/bin/$bin" --version 2>/dev/null)" = "$bin $version" ]; then
    log "$bin $version up to date"
    return
  fi
  log "cargo install $crate $version (into .venv/bin; a few minutes)"
  cargo install "$crate" --version "$version" --locked --root "$ROOT/.venv"
  [ "$(".venv/bin/$bin" --version 2>/dev/null)" = "$bin $version" ] \
    || die ".venv/bin/$bin does not report version $version after cargo install"
}

# The compatibility end-to-end test drives Sluice with CCAG's real CLI, pinned (about four minutes).
CCAG_VERSION="1.9.8"
cargo_install_pinned ccag-cli ccag "$CCAG_VERSION"
# `make deny` checks banned crates, licenses and sources with it (deny.toml); about three and a half minutes
# on two cores.
DENY_VERSION="0.20.2"
cargo_install_pinned cargo-deny cargo-deny "$DENY_VERSION"

log "ok ($(.venv/bin/python -V), ccag ${CCAG_VERSION}, cargo-deny ${DENY_VERSION}, claude $(node_modules/.bin/claude --version 2>/dev/null | cut -d' ' -f1))"

#!/usr/bin/env bash
# Installs everything Shiplog needs to build, run and test on a fresh Debian
# machine that has only the Rust toolchain and Node.js. Idempotent: each step
# is skipped when its tool is already there, so a second run takes seconds.
#
#   scripts/setup.sh          build/run prerequisites (wasm target, cargo-leptos,
#                             wasm-bindgen, npm packages incl. wasm-opt)
#   scripts/setup.sh --test   also Chromium, PostgreSQL, an SMTP server, Playwright,
#                             schemathesis
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130
CARGO_LEPTOS_VERSION=0.3.11
SCHEMATHESIS_VERSION=4.32.5
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# --- Rust side -------------------------------------------------------------
if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes)"
  # Not --locked: the locked set asks for a webpki-roots the registry here lacks.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --quiet
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes, once)"
  # The published lock needs cargo-util-schemas 0.14.2 (rustc 1.96); pin 0.14.1.
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --quiet 2>/dev/null || true
  src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cargo-leptos-"$CARGO_LEPTOS_VERSION" 2>/dev/null | head -1)
  [ -n "$src" ] || { log "cargo-leptos source not found after cargo install"; exit 1; }
  work=$(mktemp -d)
  cp -r "$src" "$work/cargo-leptos"
  (cd "$work/cargo-leptos" && cargo update -p cargo-util-schemas --precise 0.14.1 --quiet && cargo install --path . --locked --quiet)
  rm -rf "$work"
fi

# --- Node side (wasm-opt comes from npm's binaryen, never Debian's) ----------
if [ ! -x node_modules/.bin/wasm-opt ] || [ package.json -nt node_modules/.package-lock.json ]; then
  log "npm install (root: binaryen for wasm-opt)"
  npm install --no-audit --no-fund --silent
fi

if [ "$want_test" -eq 1 ]; then
  apt_install chromium postgresql wrk nginx-light python3-venv
  if [ ! -x .venv-tools/bin/aiosmtpd ]; then
    log "pip install aiosmtpd (the test SMTP server)"
    python3 -m venv .venv-tools
    .venv-tools/bin/pip install --quiet aiosmtpd
  fi
  # The API fuzzer (scripts/schemathesis.sh); its 4.x command line differs from 3.x.
  if ! .venv-tools/bin/schemathesis --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
    log "pip install schemathesis $SCHEMATHESIS_VERSION (the API fuzzer)"
    .venv-tools/bin/pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
  fi
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package.json -nt end2end/node_modules/.package-lock.json ]; then
    log "npm install (end2end: Playwright, without its browser download)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent)
  fi
fi
log "setup done"

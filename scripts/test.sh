#!/usr/bin/env bash
# Runs every check and test Shiplog has, as CI does:
#   formatting, clippy (server and wasm builds, -D warnings), unit and
#   integration tests on SQLite and PostgreSQL (with a real SMTP server),
#   then the release build, the Playwright suite in Chromium and schemathesis
#   against the API's OpenAPI document (scripts/schemathesis.sh).
# It installs what is missing first (scripts/setup.sh --test) and starts its
# own PostgreSQL cluster and SMTP server, stopping the SMTP server at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\n\033[1;32m==> %s\033[0m\n' "$*" >&2; }

scripts/setup.sh --test

# --- PostgreSQL (Debian's server; tests create one database each) ----------
log "PostgreSQL"
PG_PORT=${SHIPLOG_TEST_PG_PORT:-5432}
cluster=$(pg_lsclusters --no-header 2>/dev/null | awk 'NR==1 {print $1" "$2}')
if [ -z "$cluster" ]; then
  ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
  pg_createcluster "$ver" main --port "$PG_PORT" >/dev/null
  cluster="$ver main"
fi
read -r pg_ver pg_name <<<"$cluster"
PG_PORT=$(pg_lsclusters --no-header | awk -v v="$pg_ver" -v n="$pg_name" '$1==v && $2==n {print $3}')
pg_ctlcluster "$pg_ver" "$pg_name" start 2>/dev/null || true
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
  sleep 0.2
done
pg_isready -h 127.0.0.1 -p "$PG_PORT"
runuser -u postgres -- psql -q -p "$PG_PORT" -c "ALTER USER postgres PASSWORD 'shiplog-test'" >/dev/null
# Databases left by earlier runs (--force: a process an aborted run left behind may still hold one).
runuser -u postgres -- psql -At -p "$PG_PORT" -c "SELECT datname FROM pg_database WHERE datname LIKE 'shiplog_test_%'" \
  | while read -r db; do runuser -u postgres -- dropdb -p "$PG_PORT" --if-exists --force "$db"; done
export SHIPLOG_TEST_PG_URL="postgres://postgres:shiplog-test@127.0.0.1:$PG_PORT/postgres"
export SHIPLOG_REQUIRE_PG=1

# --- SMTP (aiosmtpd from PyPI, storing messages in a Maildir) ----------------
log "SMTP server"
SMTP_PORT=${SHIPLOG_TEST_SMTP_PORT:-$(.venv-tools/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
# aiosmtpd's Mailbox creates the Maildir (new/, cur/, tmp/) only when the folder is new.
maildir="$(mktemp -d /tmp/shiplog-smtp.XXXXXX)/maildir"
# scripts/smtp_test_server.py: a Maildir, and some addresses refused (5xx, 4xx) as real servers do.
PYTHONPATH=scripts .venv-tools/bin/python -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c smtp_test_server.Handler "$maildir" &
smtp_pid=$!
trap 'kill $smtp_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null && break
  sleep 0.2
done
kill -0 "$smtp_pid" || { echo "the test SMTP server did not start" >&2; exit 1; }
export SHIPLOG_TEST_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
export SHIPLOG_TEST_MAILDIR="$maildir"
export SHIPLOG_REQUIRE_SMTP=1

# --- Static checks -------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check
log "clippy (server)"
cargo clippy --features ssr --all-targets -- -D warnings
log "clippy (wasm)"
cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

# --- Unit and integration tests, SQLite and PostgreSQL ------------------------
log "cargo test (SQLite and PostgreSQL)"
cargo test --features ssr

# --- Browser tests against the release build -----------------------------------
log "cargo leptos build --release"
cargo leptos build --release
target_dir=$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
export SHIPLOG_BIN="$target_dir/release/shiplog"
export LEPTOS_SITE_ROOT="$root/target/site"
log "Playwright (Chromium)"
(cd end2end && npx playwright test)
log "schemathesis (the API against its OpenAPI document, one token per role)"
scripts/schemathesis.sh
log "all checks passed"

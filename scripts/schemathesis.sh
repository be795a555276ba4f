#!/usr/bin/env bash
# Fuzzes the JSON API against its own OpenAPI document with schemathesis
# (from PyPI, in .venv-tools/; scripts/setup.sh --test installs it).
#
# Starts the release binary on a fresh SQLite database filled by
# `shiplog demo`, creates one API token per role and runs schemathesis once
# per role (reads and writes, valid and invalid input) with a fixed seed.
# It fails on any 5xx, any status code the document does not list for that
# operation, any body outside the documented schema and any undocumented
# Content-Type. It never skips: no binary, no schemathesis or a server that
# does not start is a failure.
#
#   cargo leptos build --release && scripts/schemathesis.sh
#
# Environment:
#   SHIPLOG_BIN                     binary (default: target/release/shiplog)
#   LEPTOS_SITE_ROOT                site root (default: target/site)
#   SHIPLOG_SCHEMATHESIS_ROLES      roles to run as (default: "viewer engineer pm admin")
#   SHIPLOG_SCHEMATHESIS_SEED       seed (default: 20261128); a run is reproduced by the same seed
#   SHIPLOG_SCHEMATHESIS_EXAMPLES   test cases per operation and phase (default: 25)
#   SHIPLOG_SCHEMATHESIS_OPERATION  only operations whose path matches this regex
#   SHIPLOG_SCHEMATHESIS_ARGS       more `schemathesis run` options (e.g. --continue-on-failure)
#   SHIPLOG_SCHEMATHESIS_LOG        the server's RUST_LOG (default: warn)
#   SHIPLOG_SCHEMATHESIS_KEEP       set: keep the database, server log and reports after a pass too
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

BIN=${SHIPLOG_BIN:-$root/target/release/shiplog}
SITE_ROOT=${LEPTOS_SITE_ROOT:-$root/target/site}
ROLES=${SHIPLOG_SCHEMATHESIS_ROLES:-viewer engineer pm admin}
SEED=${SHIPLOG_SCHEMATHESIS_SEED:-20261128}
EXAMPLES=${SHIPLOG_SCHEMATHESIS_EXAMPLES:-25}
OPERATION=${SHIPLOG_SCHEMATHESIS_OPERATION:-}
read -r -a EXTRA <<<"${SHIPLOG_SCHEMATHESIS_ARGS:-}"
ST="$root/.venv-tools/bin/schemathesis"
PY="$root/.venv-tools/bin/python"
CHECKS=not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance

log() { printf '\n\033[1;32m==> %s\033[0m\n' "$*" >&2; }
die() { echo "schemathesis.sh: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "no Shiplog binary at $BIN (build it: cargo leptos build --release, or set SHIPLOG_BIN)"
[ -d "$SITE_ROOT" ] || die "no site root at $SITE_ROOT (cargo leptos build --release makes it)"
[ -x "$ST" ] || die "schemathesis is not installed in .venv-tools (run scripts/setup.sh --test)"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

work=$(mktemp -d /tmp/shiplog-schemathesis.XXXXXX)
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  [ -z "$server_pid" ] || wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() {
  local rc=$?
  stop_server
  if [ "$rc" -eq 0 ] && [ -z "${SHIPLOG_SCHEMATHESIS_KEEP:-}" ]; then
    rm -rf "$work"
  else
    echo "schemathesis.sh: database, server log and reports kept in $work" >&2
  fi
}
trap cleanup EXIT

port=$(free_port)
base="http://127.0.0.1:$port"
# Webhooks the fuzzer registers may name any address: every outgoing HTTP
# request of the server goes to a proxy on a local port nobody listens on
# (set for the server only; curl and schemathesis talk to it directly).
dead_proxy="http://127.0.0.1:$(free_port)"
export DATABASE_URL="sqlite://$work/shiplog.db"
export SHIPLOG_LISTEN="127.0.0.1:$port" SHIPLOG_PUBLIC_URL="$base"
export SHIPLOG_MAIL_DIR="$work/mail" SMTP_URL=""
export LEPTOS_SITE_ROOT="$SITE_ROOT" LEPTOS_OUTPUT_NAME=shiplog
export RUST_LOG=warn
# curl and schemathesis reach the server directly, whatever proxy is set.
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
mkdir -p "$work/mail"

log "demo data and one token per role"
"$BIN" demo --entries 60 --releases 3 >"$work/demo.log"
declare -A tokens
for role in $ROLES; do
  tokens[$role]=$("$BIN" token create --name "schemathesis $role" --role "$role" 2>/dev/null | grep -o 'shp_[0-9a-f]*' | tail -1)
  [[ "${tokens[$role]}" == shp_* ]] || die "shiplog token create --role $role printed no token"
done

log "Shiplog on $base"
env HTTP_PROXY="$dead_proxy" HTTPS_PROXY="$dead_proxy" ALL_PROXY="$dead_proxy" NO_PROXY="" \
  http_proxy="$dead_proxy" https_proxy="$dead_proxy" all_proxy="$dead_proxy" no_proxy="" \
  RUST_LOG="${SHIPLOG_SCHEMATHESIS_LOG:-warn}" "$BIN" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 150); do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; die "the server exited during start-up"; }
  curl --noproxy "*" -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
  sleep 0.2
done
curl --noproxy "*" -fsS -o "$work/openapi.json" "$base/api/v1/openapi.json" \
  || { cat "$work/server.log" >&2; die "the server did not answer /api/v1/openapi.json within 30 s"; }

filter=()
[ -z "$OPERATION" ] || filter=(--include-path-regex "$OPERATION")
failed=()
start=$SECONDS
for role in $ROLES; do
  log "schemathesis as $role (seed $SEED, $EXAMPLES examples per operation)"
  # One worker: the requests of a run come in one order, so the seed reproduces it.
  # scripts/schemathesis.toml: no cache, and the demo's ids and names as likely values.
  if ! (cd "$work" && "$ST" --config-file "$root/scripts/schemathesis.toml" run "$work/openapi.json" --url "$base" \
    -H "Authorization: Bearer ${tokens[$role]}" \
    --checks "$CHECKS" --mode all --max-examples "$EXAMPLES" --seed "$SEED" \
    --generation-database none --workers 1 --request-timeout 10 \
    --no-color --warnings off \
    --report junit --report-junit-path "$work/junit-$role.xml" \
    "${filter[@]}" "${EXTRA[@]}"); then
    failed+=("$role")
  fi
  kill -0 "$server_pid" 2>/dev/null || { tail -50 "$work/server.log" >&2; die "the server died during the $role run"; }
done
log "schemathesis took $((SECONDS - start)) s"

# A handler's internal error is a bug even if no check saw its answer.
if grep -q 'internal error' "$work/server.log"; then
  echo "The server logged internal errors (the last 30):" >&2
  grep 'internal error' "$work/server.log" | sed 's/\x1b\[[0-9;]*m//g' | tail -30 >&2
  failed+=("(server log)")
fi
if [ ${#failed[@]} -gt 0 ]; then
  cat >&2 <<EOF

schemathesis found failures as: ${failed[*]} (each is printed above with its operation and a curl line).
Reproduce one role and one operation with:
  SHIPLOG_SCHEMATHESIS_ROLES=<role> SHIPLOG_SCHEMATHESIS_SEED=$SEED SHIPLOG_SCHEMATHESIS_EXAMPLES=$EXAMPLES \\
  SHIPLOG_SCHEMATHESIS_OPERATION='^/api/v1/<path>\$' scripts/schemathesis.sh
(the curl lines need a token of that role in place of [Filtered]: shiplog token create --role <role>).
EOF
  exit 1
fi
echo "schemathesis: no failures as ${ROLES// /, }"

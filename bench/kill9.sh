#!/usr/bin/env bash
# Nothing acknowledged is lost under `kill -9`. Writers POST deploys to
# production without pause (each with a unique version and 3 entries) while
# the server is killed with SIGKILL after a random 2-5 s, restarted on the
# same database, and so on for several rounds; one more round ends in SIGTERM
# (the drain: the server must exit 0 within 10 s, and each request is counted
# as answered, refused, or failed mid-flight). Then every deploy answered 201
# is read back through the API, with its entries, and on SQLite the file gets
# PRAGMA integrity_check. On PostgreSQL too when SHIPLOG_BENCH_PG_URL is set.
#
# Prints figures, never pass/fail on speed. But it is a correctness check:
# the exit status is 2 when an acknowledged deploy is missing or lacks its
# entries, the integrity check fails, any answer is 5xx, or the server does
# not exit 0 after SIGTERM (then the work directory, and the PostgreSQL
# database, are kept for a look). Exit 1: the run itself could not be done.
# It builds nothing: it runs the release binary that is already there.
#
# Settings (environment):
#   SHIPLOG_BIN                   binary to run (default: target/release/shiplog)
#   SHIPLOG_BENCH_PG_URL          PostgreSQL server URL whose user may create and drop
#                                 databases, e.g. postgres://postgres:pw@127.0.0.1:5432/postgres
#   SHIPLOG_BENCH_PG_DB           database created (dropped first) for the run (default: shiplog_kill9)
#   SHIPLOG_BENCH_PORT            port on 127.0.0.1 for the server (default: 3740)
#   SHIPLOG_BENCH_ROUNDS          kill -9 rounds per backend (default: 5)
#   SHIPLOG_BENCH_WRITERS         writer threads (default: 8)
#   SHIPLOG_BENCH_ENTRIES         entries per deploy (default: 3)
#   SHIPLOG_BENCH_KILL_MIN        shortest time before a kill, seconds (default: 2)
#   SHIPLOG_BENCH_KILL_MAX        longest time before a kill, seconds (default: 5)
#   SHIPLOG_BENCH_DRAIN           1: a SIGTERM round after the kills (default: 1); 0: none
#   SHIPLOG_BENCH_DRAIN_TIMEOUT   seconds the server has to exit after SIGTERM (default: 10)
#   SHIPLOG_BENCH_FULL_CHECK      deploys read whole (entries, titles) per round: the last
#                                 ones acknowledged before the kill (default: 20)
#   SHIPLOG_BENCH_SEED            seed of the kill times (default: random; printed)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BIN="${SHIPLOG_BIN:-$ROOT/target/release/shiplog}"
SITE_ROOT="${LEPTOS_SITE_ROOT:-$ROOT/target/site}"
PORT="${SHIPLOG_BENCH_PORT:-3740}"
ROUNDS="${SHIPLOG_BENCH_ROUNDS:-5}"
WRITERS="${SHIPLOG_BENCH_WRITERS:-8}"
ENTRIES="${SHIPLOG_BENCH_ENTRIES:-3}"
KILL_MIN="${SHIPLOG_BENCH_KILL_MIN:-2}"
KILL_MAX="${SHIPLOG_BENCH_KILL_MAX:-5}"
DRAIN="${SHIPLOG_BENCH_DRAIN:-1}"
DRAIN_TIMEOUT="${SHIPLOG_BENCH_DRAIN_TIMEOUT:-10}"
FULL_CHECK="${SHIPLOG_BENCH_FULL_CHECK:-20}"
SEED="${SHIPLOG_BENCH_SEED:-}"
PG_URL="${SHIPLOG_BENCH_PG_URL:-}"
PG_DB="${SHIPLOG_BENCH_PG_DB:-shiplog_kill9}"
HELPER=(python3 "$BENCH_DIR/helper.py")
KILL9=(python3 "$BENCH_DIR/kill9.py")

die() { echo "kill9: $*" >&2; exit 1; }

# ---- preconditions -----------------------------------------------------------
if [[ ! -x "$BIN" ]]; then
  die "no Shiplog binary at $BIN.
  Build it first with:  cargo leptos build --release
  (or point SHIPLOG_BIN at an existing binary). This script does not build anything."
fi
[[ -d "$SITE_ROOT" ]] || die "no site root at $SITE_ROOT (cargo leptos build --release creates target/site)."
command -v python3 >/dev/null || die "python3 is required (standard library only)."
python3 -c 'import sqlite3' 2>/dev/null || die "python3 lacks its sqlite3 module (Debian: apt-get install libpython3-stdlib)."
[[ -r /proc/self/exe ]] || die "/proc is needed (the script checks which program a pid runs before it signals it)."
for v in PORT ROUNDS WRITERS ENTRIES DRAIN DRAIN_TIMEOUT FULL_CHECK; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')."
done
for v in KILL_MIN KILL_MAX; do
  [[ "${!v}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$v must be a number of seconds (got '${!v}')."
done
[[ -z "$SEED" || "$SEED" =~ ^[0-9]+$ ]] || die "SHIPLOG_BENCH_SEED must be a whole number (got '$SEED')."
(( ROUNDS >= 1 )) || die "SHIPLOG_BENCH_ROUNDS must be at least 1."
(( WRITERS >= 1 && WRITERS <= 256 )) || die "SHIPLOG_BENCH_WRITERS must be 1 to 256."
(( ENTRIES >= 1 && ENTRIES <= 100 )) || die "SHIPLOG_BENCH_ENTRIES must be 1 to 100."
(( DRAIN_TIMEOUT >= 1 )) || die "SHIPLOG_BENCH_DRAIN_TIMEOUT must be at least 1."
[[ "$DRAIN" == 0 || "$DRAIN" == 1 ]] || die "SHIPLOG_BENCH_DRAIN must be 0 or 1."
awk -v a="$KILL_MIN" -v b="$KILL_MAX" 'BEGIN { exit !(a > 0 && a <= b) }' \
  || die "need 0 < SHIPLOG_BENCH_KILL_MIN ($KILL_MIN) <= SHIPLOG_BENCH_KILL_MAX ($KILL_MAX)."
[[ "$PORT" != 3456 ]] || die "port 3456 is used by the end-to-end tests; pick another SHIPLOG_BENCH_PORT."
[[ "$PG_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "SHIPLOG_BENCH_PG_DB must be a plain lowercase identifier."
if [[ -n "$PG_URL" ]] && ! command -v psql >/dev/null; then
  die "psql is needed to create the PostgreSQL database (sudo apt-get install postgresql-client),
  or unset SHIPLOG_BENCH_PG_URL to check SQLite only."
fi
"${HELPER[@]}" port-free --port "$PORT" || die "127.0.0.1:$PORT is already in use; set SHIPLOG_BENCH_PORT to a free port."

WORK="$(mktemp -d -t shiplog-kill9-XXXXXX)"
PG_CREATED=""
KEEP=""

# kill9.py starts and signals the server itself and stops it when it ends;
# this is for when kill9.py is itself killed: the pid it left in server.pid,
# signalled only if that pid still runs $BIN.
stop_left_server() {
  local pid
  [[ -f "$WORK/server.pid" ]] || return 0
  pid="$(cat "$WORK/server.pid" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == "$(readlink -f "$BIN")" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$WORK/server.pid"
}

pg_admin() { # SQL... (each one statement, run against the server URL)
  local args=()
  for sql in "$@"; do args+=(-c "$sql"); done
  PGCONNECT_TIMEOUT=5 psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 "${args[@]}" >/dev/null
}

drop_pg_db() {
  pg_admin "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" 2>/dev/null \
    || pg_admin "DROP DATABASE IF EXISTS $PG_DB"
}

cleanup() {
  local rc=$?
  trap - EXIT
  trap '' INT TERM # a second Ctrl-C must not cut the cleanup short
  stop_left_server
  if [[ -n "$KEEP" ]]; then
    echo "kill9: kept $WORK (databases and server output) for a look; remove it when done." >&2
    [[ -z "$PG_CREATED" ]] || echo "kill9: kept the PostgreSQL database $PG_DB too." >&2
  else
    if [[ -n "$PG_CREATED" ]]; then
      drop_pg_db 2>/dev/null || echo "kill9: could not drop database $PG_DB" >&2
    fi
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

create_token() { # DATABASE_URL -> prints the token (this also applies the migrations)
  (
    cd "$WORK"
    DATABASE_URL="$1" RUST_LOG=warn SHIPLOG_MAIL_DIR="$WORK/mail" \
      "$BIN" token create --name kill9 --role engineer 2>"$WORK/token.err"
  ) || { cat "$WORK/token.err" >&2; return 1; }
}

field() { # NAME LINE -> value of NAME=value in LINE
  sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"
}

declare -A RESULT
FAILED=()

# Runs the crash loop on $2 (DATABASE_URL); label $1, SQLite file $3 (or empty).
crash_loop() {
  local label="$1" db_url="$2" sqlite_file="$3" token rc=0 args=()
  echo "  [$label] creating an API token (role engineer)…"
  token="$(create_token "$db_url")" || die "[$label] shiplog token create failed."
  [[ -n "$token" ]] || die "[$label] shiplog token create printed no token."
  args=(run --bin "$BIN" --site-root "$SITE_ROOT" --workdir "$WORK" --db-url "$db_url" --label "$label"
        --port "$PORT" --rounds "$ROUNDS" --writers "$WRITERS" --entries "$ENTRIES"
        --kill-min "$KILL_MIN" --kill-max "$KILL_MAX" --drain "$DRAIN" --drain-timeout "$DRAIN_TIMEOUT"
        --full-check "$FULL_CHECK")
  [[ -z "$sqlite_file" ]] || args+=(--sqlite-file "$sqlite_file")
  [[ -z "$SEED" ]] || args+=(--seed "$SEED")
  SHIPLOG_BENCH_TOKEN="$token" "${KILL9[@]}" "${args[@]}" | tee "$WORK/result-$label.txt" || rc=$?
  case "$rc" in
    0) ;;
    2) FAILED+=("$label"); KEEP=1 ;;
    130) exit 130 ;;
    *) die "[$label] the crash loop could not be run (see above)." ;;
  esac
  RESULT[$label]="$(grep '^KILL9_RESULT' "$WORK/result-$label.txt" || true)"
  [[ -n "${RESULT[$label]}" ]] || die "[$label] kill9.py printed no KILL9_RESULT line."
}

CPU_MODEL="$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n1)"
[[ -n "$CPU_MODEL" ]] || CPU_MODEL="unknown"
echo "Shiplog kill -9 check — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "  binary: $BIN ($(stat -c %y "$BIN" 2>/dev/null | cut -d. -f1))"
echo "  machine: $(nproc) CPUs, $CPU_MODEL; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

LABELS=(sqlite)
echo "1. SQLite ($WORK/sqlite.db)"
crash_loop sqlite "sqlite://$WORK/sqlite.db" "$WORK/sqlite.db"
echo
echo "2. PostgreSQL"
if [[ -z "$PG_URL" ]]; then
  echo "  skipped: set SHIPLOG_BENCH_PG_URL to a PostgreSQL server URL whose user may create"
  echo "  databases, e.g. SHIPLOG_BENCH_PG_URL=postgres://postgres:PASSWORD@127.0.0.1:5432/postgres"
  echo "  (the run creates and drops the database '$PG_DB')."
else
  echo "  creating a fresh database '$PG_DB' (dropped first)…"
  drop_pg_db || die "could not drop database $PG_DB on SHIPLOG_BENCH_PG_URL."
  pg_admin "CREATE DATABASE $PG_DB" || die "could not create database $PG_DB on SHIPLOG_BENCH_PG_URL."
  PG_CREATED=1
  crash_loop postgres "$("${HELPER[@]}" db-url --url "$PG_URL" --db "$PG_DB")" ""
  LABELS+=(postgres)
fi
echo

# ---- summary -------------------------------------------------------------------
echo "Summary ($ROUNDS kill -9 rounds of ${KILL_MIN}-${KILL_MAX} s, $WRITERS writers, $ENTRIES entries per deploy$([[ "$DRAIN" == 1 ]] && echo ', then a SIGTERM round'))"
printf '  %-10s %12s %8s %13s %11s %5s %9s %21s %s\n' "backend" "acknowledged" "missing" "bad entries" \
  "mid-flight" "5xx" "integrity" "restart ms (min-max)" "SIGTERM drain"
for label in "${LABELS[@]}"; do
  line="${RESULT[$label]}"
  drain="-"
  if [[ "$DRAIN" == 1 ]]; then
    drain="exit $(field drain_exit "$line") in $(field drain_s "$line") s, $(field drain_midflight "$line") mid-flight, $(field drain_5xx "$line") 5xx"
  fi
  printf '  %-10s %12s %8s %13s %11s %5s %9s %21s %s\n' "$label" "$(field acked "$line")" \
    "$(field missing "$line")" "$(field bad_entries "$line")" "$(field midflight "$line")" \
    "$(field s5xx "$line")" "$(field integrity "$line")" \
    "$(field ready_min_ms "$line")-$(field ready_max_ms "$line")" "$drain"
done
echo "  mid-flight: requests cut off by the kill (or the drain) before their answer; not acknowledged, so not counted as lost"
echo "  load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows restarts)"
if (( ${#FAILED[@]} )); then
  echo "  FAILED on: ${FAILED[*]} (see the FAILED lines above)"
  exit 2
fi
echo "  nothing acknowledged was lost"

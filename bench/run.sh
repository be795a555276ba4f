#!/usr/bin/env bash
# Shiplog benchmarks. Prints figures (never pass/fail):
#   1. cold start: spawn on a brand-new SQLite file -> first 200 from /readyz
#   2. POST /api/v1/deploys throughput (20 entries each) with wrk, on SQLite
#      and, when SHIPLOG_BENCH_PG_URL is set, on PostgreSQL
#   3. hostile Markdown: how fast it is refused, and /healthz while it arrives
# It builds nothing: it runs the release binary that is already there.
#
# Settings (environment):
#   SHIPLOG_BIN                 binary to run (default: target/release/shiplog)
#   SHIPLOG_BENCH_PG_URL        PostgreSQL server URL whose user may create and drop
#                               databases, e.g. postgres://postgres:pw@127.0.0.1:5432/postgres
#   SHIPLOG_BENCH_PG_DB         database created (dropped first) for the run (default: shiplog_bench)
#   SHIPLOG_BENCH_PORT          port on 127.0.0.1 for the server (default: 3700)
#   SHIPLOG_BENCH_SAMPLES       cold-start samples (default: 10)
#   SHIPLOG_BENCH_SECONDS       wrk duration per backend, seconds (default: 10)
#   SHIPLOG_BENCH_THREADS       wrk threads (default: 2)
#   SHIPLOG_BENCH_CONNECTIONS   wrk connections (default: 16)
#   SHIPLOG_BENCH_ENTRIES       entries per deploy (default: 20)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BIN="${SHIPLOG_BIN:-$ROOT/target/release/shiplog}"
SITE_ROOT="${LEPTOS_SITE_ROOT:-$ROOT/target/site}"
PORT="${SHIPLOG_BENCH_PORT:-3700}"
SAMPLES="${SHIPLOG_BENCH_SAMPLES:-10}"
SECONDS_PER_RUN="${SHIPLOG_BENCH_SECONDS:-10}"
THREADS="${SHIPLOG_BENCH_THREADS:-2}"
CONNECTIONS="${SHIPLOG_BENCH_CONNECTIONS:-16}"
ENTRIES="${SHIPLOG_BENCH_ENTRIES:-20}"
PG_URL="${SHIPLOG_BENCH_PG_URL:-}"
PG_DB="${SHIPLOG_BENCH_PG_DB:-shiplog_bench}"
HELPER=(python3 "$BENCH_DIR/helper.py")

die() { echo "bench: $*" >&2; exit 1; }

# ---- preconditions -----------------------------------------------------------
if [[ ! -x "$BIN" ]]; then
  die "no Shiplog binary at $BIN.
  Build it first with:  cargo leptos build --release
  (or point SHIPLOG_BIN at an existing binary). This script does not build anything."
fi
[[ -d "$SITE_ROOT" ]] || die "no site root at $SITE_ROOT (cargo leptos build --release creates target/site)."
command -v python3 >/dev/null || die "python3 is required (standard library only)."
if ! command -v wrk >/dev/null; then
  die "wrk is required for the throughput figures.
  Install it with:  sudo apt-get install wrk   (Debian/Ubuntu; macOS: brew install wrk)"
fi
for v in PORT SAMPLES SECONDS_PER_RUN THREADS CONNECTIONS ENTRIES; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')."
done
[[ "$PORT" != 3456 ]] || die "port 3456 is used by the end-to-end tests; pick another SHIPLOG_BENCH_PORT."
[[ "$PG_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "SHIPLOG_BENCH_PG_DB must be a plain lowercase identifier."
"${HELPER[@]}" port-free --port "$PORT" || die "127.0.0.1:$PORT is already in use; set SHIPLOG_BENCH_PORT to a free port."

WORK="$(mktemp -d -t shiplog-bench-XXXXXX)"
SERVER_PID=""
PG_CREATED=""
BASE="http://127.0.0.1:$PORT"

stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
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
  trap - EXIT INT TERM
  stop_server
  if [[ -n "$PG_CREATED" ]]; then
    drop_pg_db 2>/dev/null || echo "bench: could not drop database $PG_DB" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts `shiplog serve` against $1 (DATABASE_URL), logging to $2; waits for /readyz.
start_server() {
  local db_url="$1" log="$2"
  (
    cd "$WORK"
    export DATABASE_URL="$db_url" SHIPLOG_LISTEN="127.0.0.1:$PORT" SHIPLOG_PUBLIC_URL="$BASE" \
      LEPTOS_SITE_ROOT="$SITE_ROOT" LEPTOS_OUTPUT_NAME=shiplog SHIPLOG_MAIL_DIR="$WORK/mail" RUST_LOG=warn
    exec "$BIN" serve
  ) >"$log" 2>&1 </dev/null &
  SERVER_PID=$!
  if ! "${HELPER[@]}" wait-ready --port "$PORT" --pid "$SERVER_PID" --timeout 30; then
    echo "--- server output ($log) ---" >&2
    tail -n 40 "$log" >&2 || true
    return 1
  fi
}

create_token() { # DATABASE_URL -> prints the token
  (
    cd "$WORK"
    DATABASE_URL="$1" RUST_LOG=warn SHIPLOG_MAIL_DIR="$WORK/mail" \
      "$BIN" token create --name bench --role engineer 2>"$WORK/token.err"
  ) || { cat "$WORK/token.err" >&2; return 1; }
}

field() { # NAME LINE -> value of NAME=value in LINE
  sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"
}

# Runs wrk against a fresh server on $2 (DATABASE_URL); label $1. Sets R_<label>_* vars.
throughput() {
  local label="$1" db_url="$2" token out line
  echo "  [$label] creating an API token (role engineer)…"
  token="$(create_token "$db_url")" || die "[$label] shiplog token create failed."
  [[ -n "$token" ]] || die "[$label] shiplog token create printed no token."
  echo "  [$label] starting the server on $BASE…"
  start_server "$db_url" "$WORK/server-$label.log" || die "[$label] the server did not become ready."
  echo "  [$label] wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s, $ENTRIES entries per deploy…"
  out="$WORK/wrk-$label.txt"
  timeout --kill-after=5 "$((SECONDS_PER_RUN + 30))" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --timeout 10s --latency \
    -s "$BENCH_DIR/deploys.lua" "$BASE" -- "$token" "$(date +%s)" "$ENTRIES" >"$out" 2>&1 \
    || { cat "$out" >&2; die "[$label] wrk failed."; }
  local check
  check="$(SHIPLOG_BENCH_TOKEN="$token" "${HELPER[@]}" check-deploys --port "$PORT" --entries "$ENTRIES" 2>&1)" \
    || check="WARNING: $check (expected $ENTRIES entries)"
  stop_server
  sed -e '/^BENCH_/d' -e 's/^/    /' "$out"
  line="$(grep '^BENCH_RESULT' "$out" || true)"
  [[ -n "$line" ]] || die "[$label] wrk printed no BENCH_RESULT line (see above)."
  local rps ok_rps non2xx req p50 p99 errs statuses
  rps="$(field rps "$line")"; ok_rps="$(field ok_rps "$line")"; non2xx="$(field non2xx "$line")"
  req="$(field requests "$line")"; p50="$(field p50_ms "$line")"; p99="$(field p99_ms "$line")"
  statuses="$(field statuses "$line")"
  errs=$(( $(field err_connect "$line") + $(field err_read "$line") + $(field err_write "$line") + $(field err_timeout "$line") ))
  echo "  [$label] responses by status: $statuses; socket errors: $errs"
  echo "  [$label] read back: $check"
  if [[ "$non2xx" != 0 ]]; then
    echo "  [$label] WARNING: $non2xx of $req responses were not 2xx; the figure is not meaningful."
    grep '^BENCH_FIRST_ERROR' "$out" | sed 's/^BENCH_FIRST_ERROR/    first error:/' || true
  fi
  echo "  [$label] $rps requests/s, of which $ok_rps deploys/s created (2xx); latency p50 $p50 ms, p99 $p99 ms"
  printf -v "R_${label}_rps" '%s' "$rps"
  printf -v "R_${label}_ok" '%s' "$ok_rps"
  printf -v "R_${label}_bad" '%s' "$non2xx/$req"
  printf -v "R_${label}_p50" '%s' "$p50"
  printf -v "R_${label}_p99" '%s' "$p99"
}

CPU_MODEL="$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n1)"
[[ -n "$CPU_MODEL" ]] || CPU_MODEL="unknown"
echo "Shiplog benchmarks — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "  binary: $BIN ($(stat -c %y "$BIN" 2>/dev/null | cut -d. -f1))"
echo "  machine: $(nproc) CPUs, $CPU_MODEL; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---- 1. cold start -----------------------------------------------------------
echo "1. Cold start: spawn on a new SQLite file -> first 200 from GET /readyz ($SAMPLES samples)"
"${HELPER[@]}" coldstart --bin "$BIN" --port "$PORT" --site-root "$SITE_ROOT" \
  --samples "$SAMPLES" --out "$WORK/cold.txt" || die "cold start measurement failed."
COLD_MIN="$(sed -n 's/^min=//p' "$WORK/cold.txt")"
COLD_MED="$(sed -n 's/^median=//p' "$WORK/cold.txt")"
COLD_MAX="$(sed -n 's/^max=//p' "$WORK/cold.txt")"
echo

# ---- 2. throughput -----------------------------------------------------------
echo "2. Throughput: POST /api/v1/deploys with $ENTRIES entries each"
echo " SQLite"
throughput sqlite "sqlite://$WORK/bench.db"
echo
echo " PostgreSQL"
PG_STATE="skipped"
if [[ -z "$PG_URL" ]]; then
  echo "  skipped: set SHIPLOG_BENCH_PG_URL to a PostgreSQL server URL whose user may create"
  echo "  databases, e.g. SHIPLOG_BENCH_PG_URL=postgres://postgres:PASSWORD@127.0.0.1:5432/postgres"
  echo "  (the run creates and drops the database '$PG_DB')."
elif ! command -v psql >/dev/null; then
  echo "  skipped: psql is needed to create the database (sudo apt-get install postgresql-client)."
else
  echo "  creating a fresh database '$PG_DB' (dropped first)…"
  drop_pg_db || die "could not drop database $PG_DB on SHIPLOG_BENCH_PG_URL."
  pg_admin "CREATE DATABASE $PG_DB" || die "could not create database $PG_DB on SHIPLOG_BENCH_PG_URL."
  PG_CREATED=1
  throughput postgres "$("${HELPER[@]}" db-url --url "$PG_URL" --db "$PG_DB")"
  PG_STATE="done"
fi
echo

# ---- 3. hostile Markdown -----------------------------------------------------------
echo "3. Hostile Markdown (SQLite): refused before rendering; the server stays responsive"
HOSTILE_TOKEN="$(create_token "sqlite://$WORK/hostile.db")" || die "token for the hostile run failed."
start_server "sqlite://$WORK/hostile.db" "$WORK/server-hostile.log" || die "the server did not become ready."
SHIPLOG_BENCH_TOKEN="$HOSTILE_TOKEN" "${HELPER[@]}" hostile-markdown --port "$PORT" --rounds 5 | tee "$WORK/hostile.txt"
stop_server
HOSTILE_LINE="$(grep '^HOSTILE_RESULT' "$WORK/hostile.txt" || true)"
echo

# ---- summary -------------------------------------------------------------------
echo "Summary"
printf '  %-44s %-36s %s\n' "figure" "measured" "goal"
printf '  %-44s %-36s %s\n' "cold start to /readyz 200 (SQLite, new file)" \
  "min $COLD_MIN / med $COLD_MED / max $COLD_MAX ms" "< 300 ms"
printf '  %-44s %-36s %s\n' "POST /api/v1/deploys, SQLite" \
  "$R_sqlite_ok deploys/s (non-2xx $R_sqlite_bad)" ">= 500 deploys/s"
printf '  %-44s %-36s %s\n' "  latency p50 / p99, SQLite" "$R_sqlite_p50 / $R_sqlite_p99 ms" ""
if [[ "$PG_STATE" == done ]]; then
  printf '  %-44s %-36s %s\n' "POST /api/v1/deploys, PostgreSQL" \
    "$R_postgres_ok deploys/s (non-2xx $R_postgres_bad)" "(no goal; compare)"
  printf '  %-44s %-36s %s\n' "  latency p50 / p99, PostgreSQL" "$R_postgres_p50 / $R_postgres_p99 ms" ""
else
  printf '  %-44s %-36s %s\n' "POST /api/v1/deploys, PostgreSQL" "skipped (SHIPLOG_BENCH_PG_URL)" ""
fi
printf '  %-44s %-36s %s\n' "GET /healthz, idle / under hostile Markdown" \
  "$(field idle_ms "$HOSTILE_LINE") / $(field busy_ms "$HOSTILE_LINE") ms (x$(field ratio "$HOSTILE_LINE"))" "no stall (was 8 s)"
echo "  load: wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s, $ENTRIES entries per deploy, wrk on the same machine"
echo "  machine: $(nproc) CPUs, $CPU_MODEL"
echo "  load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews these figures)"

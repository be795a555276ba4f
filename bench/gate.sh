#!/usr/bin/env bash
# The deploy gate on a long history. Prints figures (never pass/fail): how
# fast these answer when production has 100,000 deploys and 1,000 blocks
# (most lifted or expired, 20 holding: on entries and components, and on the
# whole environment only with SHIPLOG_BENCH_WHOLE=1):
#   GET /api/v1/gate?environment=production                 (any deploy)
#   GET /api/v1/gate?environment=production&build=<id>       (a passed build, 50 commits)
#   GET /api/v1/builds/promotable?environment=production
# each with wrk: requests/s and p50/p99 latency; and how long seeding took.
# The history goes straight into SQLite (through the API it takes minutes);
# the first deploy (so the server creates the environment), the builds not
# deployed yet and the holding blocks go through the API.
# It builds nothing: it runs the release binary that is already there.
#
# Settings (environment):
#   SHIPLOG_BIN                   binary to run (default: target/release/shiplog)
#   SHIPLOG_BENCH_PORT            port on 127.0.0.1 for the server (default: 3730)
#   SHIPLOG_BENCH_SECONDS         wrk duration per URL, seconds (default: 10)
#   SHIPLOG_BENCH_THREADS         wrk threads (default: 2)
#   SHIPLOG_BENCH_CONNECTIONS     wrk connections (default: 16)
#   SHIPLOG_BENCH_DEPLOYS         production deploys in the history (default: 100000)
#   SHIPLOG_BENCH_ENTRIES         entries per deploy (default: 3)
#   SHIPLOG_BENCH_BLOCKS          blocks in all, holding ones included (default: 1000)
#   SHIPLOG_BENCH_HOLDING         blocks that hold now (default: 20)
#   SHIPLOG_BENCH_WHOLE           1: one of them blocks the whole environment (default: 0;
#                                 then every answer is "closed" and promotable answers 409)
#   SHIPLOG_BENCH_BUILD_COMMITS   commits of the benchmark build (default: 50)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BIN="${SHIPLOG_BIN:-$ROOT/target/release/shiplog}"
SITE_ROOT="${LEPTOS_SITE_ROOT:-$ROOT/target/site}"
PORT="${SHIPLOG_BENCH_PORT:-3730}"
SECONDS_PER_RUN="${SHIPLOG_BENCH_SECONDS:-10}"
THREADS="${SHIPLOG_BENCH_THREADS:-2}"
CONNECTIONS="${SHIPLOG_BENCH_CONNECTIONS:-16}"
DEPLOYS="${SHIPLOG_BENCH_DEPLOYS:-100000}"
ENTRIES="${SHIPLOG_BENCH_ENTRIES:-3}"
BLOCKS="${SHIPLOG_BENCH_BLOCKS:-1000}"
HOLDING="${SHIPLOG_BENCH_HOLDING:-20}"
WHOLE="${SHIPLOG_BENCH_WHOLE:-0}"
BUILD_COMMITS="${SHIPLOG_BENCH_BUILD_COMMITS:-50}"
HELPER=(python3 "$BENCH_DIR/helper.py")
GATE=(python3 "$BENCH_DIR/gate.py")

die() { echo "bench: $*" >&2; exit 1; }

# ---- preconditions -----------------------------------------------------------
if [[ ! -x "$BIN" ]]; then
  die "no Shiplog binary at $BIN.
  Build it first with:  cargo leptos build --release
  (or point SHIPLOG_BIN at an existing binary). This script does not build anything."
fi
[[ -d "$SITE_ROOT" ]] || die "no site root at $SITE_ROOT (cargo leptos build --release creates target/site)."
command -v python3 >/dev/null || die "python3 is required (standard library only)."
python3 -c 'import sqlite3' 2>/dev/null || die "python3 lacks its sqlite3 module (Debian: apt-get install libpython3-stdlib)."
if ! command -v wrk >/dev/null; then
  die "wrk is required for the figures.
  Install it with:  sudo apt-get install wrk   (Debian/Ubuntu; macOS: brew install wrk)"
fi
for v in PORT SECONDS_PER_RUN THREADS CONNECTIONS DEPLOYS ENTRIES BLOCKS HOLDING WHOLE BUILD_COMMITS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')."
done
(( DEPLOYS >= 1 )) || die "SHIPLOG_BENCH_DEPLOYS must be at least 1."
(( ENTRIES >= 1 )) || die "SHIPLOG_BENCH_ENTRIES must be at least 1 (entry blocks name entries)."
(( HOLDING <= BLOCKS )) || die "SHIPLOG_BENCH_HOLDING ($HOLDING) cannot exceed SHIPLOG_BENCH_BLOCKS ($BLOCKS)."
(( HOLDING <= 400 )) || die "SHIPLOG_BENCH_HOLDING must be at most 400 (entry blocks name recent entries)."
(( BUILD_COMMITS >= 1 && BUILD_COMMITS <= 5000 )) || die "SHIPLOG_BENCH_BUILD_COMMITS must be 1 to 5000."
[[ "$WHOLE" == 0 || "$WHOLE" == 1 ]] || die "SHIPLOG_BENCH_WHOLE must be 0 or 1."
[[ "$PORT" != 3456 ]] || die "port 3456 is used by the end-to-end tests; pick another SHIPLOG_BENCH_PORT."
"${HELPER[@]}" port-free --port "$PORT" || die "127.0.0.1:$PORT is already in use; set SHIPLOG_BENCH_PORT to a free port."

WORK="$(mktemp -d -t shiplog-gate-bench-XXXXXX)"
SERVER_PID=""
BASE="http://127.0.0.1:$PORT"
DB_URL="sqlite://$WORK/bench.db"

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

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_server
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bin_env() { # the server's settings, for the bench database
  export DATABASE_URL="$DB_URL" SHIPLOG_LISTEN="127.0.0.1:$PORT" SHIPLOG_PUBLIC_URL="$BASE" \
    LEPTOS_SITE_ROOT="$SITE_ROOT" LEPTOS_OUTPUT_NAME=shiplog SHIPLOG_MAIL_DIR="$WORK/mail" RUST_LOG=warn
}

run_bin() { # runs the binary to its end on the bench database, in $WORK
  ( cd "$WORK" && bin_env && exec "$BIN" "$@" )
}

# Starts `shiplog serve`; $SERVER_PID is the server itself (the subshell execs
# it), so stop_server reaches it.
start_server() {
  ( cd "$WORK" && bin_env && exec "$BIN" serve ) >"$WORK/server.log" 2>&1 </dev/null &
  SERVER_PID=$!
  if ! "${HELPER[@]}" wait-ready --port "$PORT" --pid "$SERVER_PID" --timeout 60; then
    echo "--- server output ($WORK/server.log) ---" >&2
    tail -n 40 "$WORK/server.log" >&2 || true
    return 1
  fi
}

field() { # NAME LINE -> value of NAME=value in LINE
  sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"
}
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

CPU_MODEL="$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n1)"
[[ -n "$CPU_MODEL" ]] || CPU_MODEL="unknown"
echo "Shiplog deploy gate benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "  binary: $BIN ($(stat -c %y "$BIN" 2>/dev/null | cut -d. -f1))"
echo "  machine: $(nproc) CPUs, $CPU_MODEL; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---- seeding -----------------------------------------------------------------
echo "1. Seeding: $DEPLOYS production deploys ($ENTRIES entries each), $BLOCKS blocks ($HOLDING holding)"
SEED_START=$(date +%s.%N)
run_bin migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log" >&2; die "shiplog migrate failed."; }
TOKEN="$(run_bin token create --name bench --role engineer 2>"$WORK/token.err")" \
  || { cat "$WORK/token.err" >&2; die "shiplog token create failed."; }
[[ -n "$TOKEN" ]] || die "shiplog token create printed no token."
echo "  starting the server on $BASE for the first deploy…"
start_server || die "the server did not become ready."
SHIPLOG_BENCH_TOKEN="$TOKEN" "${GATE[@]}" first-deploy --port "$PORT" || die "the first deploy failed."
stop_server
"${GATE[@]}" seed --db "$WORK/bench.db" --deploys "$DEPLOYS" --entries "$ENTRIES" \
  --blocks "$BLOCKS" --holding "$HOLDING" --plan "$WORK/plan.json" || die "seeding SQLite failed."
SEED_SQL_S="$(elapsed "$SEED_START")"
echo "  starting the server on $BASE…"
start_server || die "the server did not become ready."
API_START=$(date +%s.%N)
SETUP="$(SHIPLOG_BENCH_TOKEN="$TOKEN" "${GATE[@]}" setup --port "$PORT" --plan "$WORK/plan.json" \
  --holding "$HOLDING" --whole "$WHOLE" --build-commits "$BUILD_COMMITS")" || die "setting up through the API failed."
grep -v '^BUILD_ID=' <<<"$SETUP"
BUILD_ID="$(sed -n 's/^BUILD_ID=//p' <<<"$SETUP")"
[[ "$BUILD_ID" =~ ^[0-9]+$ ]] || die "the setup printed no benchmark build id."
SEED_API_S="$(elapsed "$API_START")"
SEED_TOTAL_S="$(awk -v a="$SEED_SQL_S" -v b="$SEED_API_S" 'BEGIN { printf "%.1f", a + b }')"
echo "  seeding took $SEED_TOTAL_S s: $SEED_SQL_S s for migrate, token, first deploy and the history" \
  "in SQLite, $SEED_API_S s for builds and holding blocks through the API"
echo

# ---- load ----------------------------------------------------------------------
PROMOTABLE_STATUS=200
[[ "$WHOLE" == 0 ]] || PROMOTABLE_STATUS=409
LABELS=(gate gate-build promotable)
PATHS=(
  "/api/v1/gate?environment=production"
  "/api/v1/gate?environment=production&build=$BUILD_ID"
  "/api/v1/builds/promotable?environment=production"
)
EXPECT=(200 200 "$PROMOTABLE_STATUS")

echo "2. Load: wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s per URL"
declare -A R_RPS R_P50 R_P99 R_BAD
for i in "${!PATHS[@]}"; do
  label="${LABELS[$i]}" path="${PATHS[$i]}" expect="${EXPECT[$i]}"
  echo " GET $path"
  SHIPLOG_BENCH_TOKEN="$TOKEN" "${GATE[@]}" check --port "$PORT" --path "$path" --expect "$expect" \
    || die "GET $path did not answer $expect (body above); not measuring it."
  out="$WORK/wrk-$label.txt"
  timeout --kill-after=5 "$((SECONDS_PER_RUN + 30))" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --timeout 10s --latency \
    -s "$BENCH_DIR/gate.lua" "$BASE" -- "$TOKEN" "$path" "$expect" >"$out" 2>&1 \
    || { cat "$out" >&2; die "wrk failed on $path."; }
  line="$(grep '^BENCH_RESULT' "$out" || true)"
  [[ -n "$line" ]] || { cat "$out" >&2; die "wrk printed no BENCH_RESULT line for $path."; }
  req="$(field requests "$line")"; bad="$(field unexpected "$line")"
  errs=$(( $(field err_connect "$line") + $(field err_read "$line") + $(field err_write "$line") + $(field err_timeout "$line") ))
  R_RPS[$label]="$(field rps "$line")"; R_P50[$label]="$(field p50_ms "$line")"
  R_P99[$label]="$(field p99_ms "$line")"; R_BAD[$label]="$bad/$req"
  echo "  ${R_RPS[$label]} requests/s; latency p50 ${R_P50[$label]} ms, p99 ${R_P99[$label]} ms," \
    "max $(field max_ms "$line") ms; $req requests, by status: $(field statuses "$line"); socket errors: $errs"
  if [[ "$bad" != 0 ]]; then
    echo "  WARNING: $bad of $req answers were not $expect; the figure is not meaningful."
    grep '^BENCH_FIRST_ERROR' "$out" | sed 's/^BENCH_FIRST_ERROR/    first:/' || true
  fi
done
stop_server
echo

# ---- summary -------------------------------------------------------------------
echo "Summary ($DEPLOYS deploys, $BLOCKS blocks of which $HOLDING hold, whole-environment block: $WHOLE)"
printf '  %-62s %10s %9s %9s %s\n' "GET" "req/s" "p50 ms" "p99 ms" "unexpected status"
for i in "${!PATHS[@]}"; do
  label="${LABELS[$i]}"
  printf '  %-62s %10s %9s %9s %s\n' "${PATHS[$i]}" "${R_RPS[$label]}" "${R_P50[$label]}" \
    "${R_P99[$label]}" "${R_BAD[$label]}"
done
echo "  seeding: $SEED_TOTAL_S s ($SEED_SQL_S s up to the history in SQLite, $SEED_API_S s through the API after it)"
echo "  load: wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s per URL, wrk on the same machine"
echo "  load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews these figures)"

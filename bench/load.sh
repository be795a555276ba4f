#!/usr/bin/env bash
# Many connections at once, and the server's memory. Prints figures (never
# pass/fail on speed), for each run:
#   - 1,000 connections (wrk) for 60 s over a mix of public pages (/, /changes,
#     searches, release pages, change pages, feeds) and API calls with a token
#     (GET deploys, releases, the gate; 2% POST /api/v1/deploys, see load.lua):
#     requests, requests/s, latency p50/p90/p99/max, answers by status, and the
#     errors: answers neither 2xx nor 3xx, socket errors (connect, read, write,
#     timeout: an answer slower than SHIPLOG_BENCH_TIMEOUT), requests sent but
#     never answered (wrk itself counts neither) and connections the server
#     never accepted. "errors: 0" is the goal. Also: how many connections
#     waited in the accept queue, the server's open files and threads.
#   - the server's memory (VmRSS, and VmHWM for peaks, from /proc/<pid>/status):
#     idle right after /readyz first answers, peak under the public-page load
#     (64 connections on / and a release page, as bench/public.sh does), peak
#     under the 1,000 connections, and idle again some seconds after the load.
# Runs: SQLite with the page cache on (the default), SQLite with
# SHIPLOG_PAGE_CACHE_MS=0, and the same two on PostgreSQL when
# SHIPLOG_BENCH_PG_URL is set. Each run gets a fresh database made by
# `shiplog demo --entries 10000 --releases 500`.
# It builds nothing: it runs the release binary that is already there.
#
# Settings (environment):
#   SHIPLOG_BIN                    binary to run (default: $CARGO_TARGET_DIR or target/, release/shiplog)
#   SHIPLOG_BENCH_PORT             port on 127.0.0.1 for the server (default: 3750; /metrics on the next)
#   SHIPLOG_BENCH_SECONDS          duration of the 1,000-connection load, seconds (default: 60)
#   SHIPLOG_BENCH_CONNECTIONS      connections of that load (default: 1000)
#   SHIPLOG_BENCH_THREADS          wrk threads (default: 2)
#   SHIPLOG_BENCH_TIMEOUT          an answer slower than this (seconds) is a timeout error (default: 30)
#   SHIPLOG_BENCH_WRITES           POST /api/v1/deploys per 1,000 requests (default: 20)
#   SHIPLOG_BENCH_PUBLIC_SECONDS   the public-page load, per page, seconds (default: 10; 0: skip it)
#   SHIPLOG_BENCH_SETTLE           idle seconds after the load before memory is read again (default: 10)
#   SHIPLOG_BENCH_ENTRIES          demo entries (default: 10000)
#   SHIPLOG_BENCH_RELEASES         demo releases (default: 500)
#   SHIPLOG_BENCH_CACHE            page-cache settings to run, in ms (default: "2000 0")
#   SHIPLOG_BENCH_SERVER_FILES     start the server with this soft open-files limit, e.g. 1024
#                                  as systemd gives services (default: the script's own)
#   SHIPLOG_BENCH_PG_URL           PostgreSQL server URL whose user may create and drop
#                                  databases, e.g. postgres://postgres:pw@127.0.0.1:5432/postgres
#   SHIPLOG_BENCH_PG_DB            database created (dropped first) for each run (default: shiplog_load)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BIN="${SHIPLOG_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/shiplog}"
SITE_ROOT="${LEPTOS_SITE_ROOT:-$ROOT/target/site}"
PORT="${SHIPLOG_BENCH_PORT:-3750}"
METRICS_PORT=$((PORT + 1))
SECS="${SHIPLOG_BENCH_SECONDS:-60}"
CONNECTIONS="${SHIPLOG_BENCH_CONNECTIONS:-1000}"
THREADS="${SHIPLOG_BENCH_THREADS:-2}"
TIMEOUT="${SHIPLOG_BENCH_TIMEOUT:-30}"
WRITES="${SHIPLOG_BENCH_WRITES:-20}"
PUBLIC_SECS="${SHIPLOG_BENCH_PUBLIC_SECONDS:-10}"
SETTLE="${SHIPLOG_BENCH_SETTLE:-10}"
ENTRIES="${SHIPLOG_BENCH_ENTRIES:-10000}"
RELEASES="${SHIPLOG_BENCH_RELEASES:-500}"
CACHE_MODES="${SHIPLOG_BENCH_CACHE:-2000 0}"
SERVER_FILES="${SHIPLOG_BENCH_SERVER_FILES:-}"
PG_URL="${SHIPLOG_BENCH_PG_URL:-}"
PG_DB="${SHIPLOG_BENCH_PG_DB:-shiplog_load}"
HELPER=(python3 "$BENCH_DIR/helper.py")
LOAD=(python3 "$BENCH_DIR/load.py")

die() { echo "load: $*" >&2; exit 1; }

# ---- preconditions -----------------------------------------------------------
if [[ ! -x "$BIN" ]]; then
  die "no Shiplog binary at $BIN.
  Build it first with:  cargo leptos build --release
  (or point SHIPLOG_BIN at an existing binary). This script does not build anything."
fi
[[ -d "$SITE_ROOT" ]] || die "no site root at $SITE_ROOT (cargo leptos build --release creates target/site)."
command -v python3 >/dev/null || die "python3 is required (standard library only)."
command -v wrk >/dev/null || die "wrk is required: sudo apt-get install wrk (macOS: brew install wrk)."
[[ -r /proc/self/status ]] || die "/proc is needed to read the server's memory."
for v in PORT SECS CONNECTIONS THREADS TIMEOUT WRITES PUBLIC_SECS SETTLE ENTRIES RELEASES; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')."
done
[[ -z "$SERVER_FILES" || "$SERVER_FILES" =~ ^[0-9]+$ ]] || die "SHIPLOG_BENCH_SERVER_FILES must be a whole number."
for c in $CACHE_MODES; do [[ "$c" =~ ^[0-9]+$ ]] || die "SHIPLOG_BENCH_CACHE lists page-cache times in ms (got '$c')."; done
(( SECS >= 1 && CONNECTIONS >= THREADS && THREADS >= 1 )) || die "need SECONDS >= 1 and CONNECTIONS >= THREADS >= 1."
(( WRITES <= 1000 )) || die "SHIPLOG_BENCH_WRITES is per 1,000 requests (0 to 1000)."
(( RELEASES >= 1 && ENTRIES >= 1 )) || die "the demo needs at least one entry and one release."
[[ "$PORT" != 3456 && "$METRICS_PORT" != 3456 ]] || die "port 3456 is used by the end-to-end tests; pick another SHIPLOG_BENCH_PORT."
[[ "$PG_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "SHIPLOG_BENCH_PG_DB must be a plain lowercase identifier."
if [[ -n "$PG_URL" ]] && ! command -v psql >/dev/null; then
  die "psql is needed to create the PostgreSQL database (sudo apt-get install postgresql-client)."
fi
for p in "$PORT" "$METRICS_PORT"; do
  "${HELPER[@]}" port-free --port "$p" || die "127.0.0.1:$p is already in use; set SHIPLOG_BENCH_PORT to a free port."
done

# wrk holds one file per connection, and so does the server (it inherits this
# limit): raise the soft limit as far as needed, if the hard limit allows.
NEED_FILES=$((CONNECTIONS + 256))
if (( $(ulimit -n) < NEED_FILES )); then
  HARD="$(ulimit -Hn)"
  if [[ "$HARD" == unlimited ]] || (( HARD >= NEED_FILES )); then
    ulimit -n "$NEED_FILES"
  else
    ulimit -n "$HARD"
    echo "load: the open-files limit is $HARD (hard); $CONNECTIONS connections need about $NEED_FILES." >&2
  fi
fi

WORK="$(mktemp -d -t shiplog-load-XXXXXX)"
SERVER_PID=""
WATCH_PID=""
PG_CREATED=""
BASE="http://127.0.0.1:$PORT"

stop_pid() { # PID: SIGTERM, up to 10 s, then SIGKILL
  local pid="$1"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_server() { stop_pid "$WATCH_PID"; WATCH_PID=""; stop_pid "$SERVER_PID"; SERVER_PID=""; }

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
    drop_pg_db 2>/dev/null || echo "load: could not drop database $PG_DB" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

field() { # NAME LINE -> value of NAME=value in LINE
  sed -n "s/.*\(^\|[[:space:]]\)$1=\([^[:space:]]*\).*/\2/p" <<<"$2"
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
memory() { "${LOAD[@]}" memory --pid "$SERVER_PID"; }

run_bin() { # DATABASE_URL ARGS...: runs the binary to its end, in $WORK
  local url="$1"; shift
  ( cd "$WORK" && DATABASE_URL="$url" RUST_LOG=warn SHIPLOG_MAIL_DIR="$WORK/mail" exec "$BIN" "$@" )
}

start_server() { # DATABASE_URL CACHE_MS LOG
  (
    cd "$WORK"
    export DATABASE_URL="$1" SHIPLOG_PAGE_CACHE_MS="$2" SHIPLOG_LISTEN="127.0.0.1:$PORT" \
      SHIPLOG_METRICS_LISTEN="127.0.0.1:$METRICS_PORT" SHIPLOG_PUBLIC_URL="$BASE" \
      LEPTOS_SITE_ROOT="$SITE_ROOT" LEPTOS_OUTPUT_NAME=shiplog SHIPLOG_MAIL_DIR="$WORK/mail" RUST_LOG=warn
    [[ -z "$SERVER_FILES" ]] || ulimit -S -n "$SERVER_FILES"
    exec "$BIN" serve
  ) >"$3" 2>&1 </dev/null &
  SERVER_PID=$!
  if ! "${HELPER[@]}" wait-ready --port "$PORT" --pid "$SERVER_PID" --timeout 60; then
    echo "--- server output ($3) ---" >&2
    tail -n 40 "$3" >&2 || true
    return 1
  fi
}

# The public-page load of bench/public.sh: 64 connections, gzip, one page.
public_load() { # PATH -> "rps p99 non2xx socket-errors"
  local out
  out=$(wrk -t2 -c64 -d"${PUBLIC_SECS}s" --latency -H 'Accept-Encoding: gzip' "$BASE$1" 2>&1) || { echo "? ? ? ?"; return; }
  local rps p99 non2xx errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  errs=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")
  echo "${rps:-?} ${p99:-?} ${non2xx:-0} ${errs:-0}"
}

declare -A R
LABELS=()

# One run: a fresh database, the server, memory idle, the public-page load,
# the 1,000-connection mix, memory idle again. LABEL DATABASE_URL CACHE_MS
one_run() {
  local label="$1" url="$2" cache="$3" t0 token line m out
  LABELS+=("$label")
  echo " [$label] demo data: shiplog demo --entries $ENTRIES --releases $RELEASES…"
  t0=$(date +%s.%N)
  run_bin "$url" demo --entries "$ENTRIES" --releases "$RELEASES" >"$WORK/demo-$label.log" 2>&1 \
    || { tail -5 "$WORK/demo-$label.log" >&2; die "[$label] shiplog demo failed."; }
  echo "   $(grep -m1 '^Demo data' "$WORK/demo-$label.log") ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)"
  token="$(run_bin "$url" token create --name load --role engineer 2>"$WORK/token.err")" \
    || { cat "$WORK/token.err" >&2; die "[$label] shiplog token create failed."; }
  [[ -n "$token" ]] || die "[$label] shiplog token create printed no token."

  start_server "$url" "$cache" "$WORK/server-$label.log" || die "[$label] the server did not become ready."
  m="$(memory)"
  R[$label,idle]="$(field rss_kb "$m")"
  echo "   server pid $SERVER_PID, open-files limit $(awk '/Max open files/ {print $4}' "/proc/$SERVER_PID/limits");" \
    "idle after /readyz: RSS $(mb "$(field rss_kb "$m")") MB (heap and stacks $(mb "$(field anon_kb "$m")")," \
    "mapped files $(mb "$(field file_kb "$m")")), $(field threads "$m") threads"
  SHIPLOG_BENCH_TOKEN="$token" "${LOAD[@]}" targets --port "$PORT" --out "$WORK/targets-$label.txt" \
    | sed 's/^/   targets: /' || die "[$label] could not list public pages to ask for."
  local slug
  slug="$(sed -n 's/^release //p' "$WORK/targets-$label.txt" | head -n1)"

  # -- the public-page load (64 connections), as bench/public.sh --
  R[$label,public_peak]="-"
  if (( PUBLIC_SECS > 0 )); then
    "${LOAD[@]}" reset-peak --pid "$SERVER_PID" || true
    local path rps p99 non2xx errs
    for path in "/" "/releases/$slug"; do
      read -r rps p99 non2xx errs < <(public_load "$path")
      echo "   public page load, wrk -t2 -c64 -d${PUBLIC_SECS}s $path: $rps requests/s, p99 $p99, non-2xx $non2xx, socket errors $errs"
    done
    m="$(memory)"
    R[$label,public_peak]="$(field hwm_kb "$m")"
    echo "   memory: peak $(mb "$(field hwm_kb "$m")") MB under the public-page load, $(mb "$(field rss_kb "$m")") MB right after"
  fi

  # -- the mix, many connections --
  "${LOAD[@]}" reset-peak --pid "$SERVER_PID" || true
  "${LOAD[@]}" served --port "$METRICS_PORT" --out "$WORK/served-before.txt" || true
  local drops_before drops_after
  drops_before="$("${LOAD[@]}" listen-drops)"
  "${LOAD[@]}" watch --pid "$SERVER_PID" --port "$PORT" --out "$WORK/watch-$label.txt" &
  WATCH_PID=$!
  echo "   mix: wrk -t$THREADS -c$CONNECTIONS -d${SECS}s --timeout ${TIMEOUT}s, $WRITES POSTs per 1,000 requests…"
  out="$WORK/wrk-$label.txt"
  timeout --kill-after=10 "$((SECS + TIMEOUT + 60))" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECS}s" --timeout "${TIMEOUT}s" --latency \
    -s "$BENCH_DIR/load.lua" "$BASE" -- "$WORK/targets-$label.txt" "$token" "$(date +%s)" "$WRITES" >"$out" 2>&1 \
    || { cat "$out" >&2; die "[$label] wrk failed."; }
  stop_pid "$WATCH_PID"; WATCH_PID=""
  drops_after="$("${LOAD[@]}" listen-drops)"
  # wrk has closed its connections; any still in the accept queue a second
  # later were never taken by the server (nor their requests answered).
  sleep 1
  local unaccepted
  unaccepted="$("${LOAD[@]}" accept-queue --port "$PORT")"
  (( unaccepted > 0 )) || unaccepted=0
  m="$(memory)"
  R[$label,load_peak]="$(field hwm_kb "$m")"
  local served
  served="$("${LOAD[@]}" served --port "$METRICS_PORT" --out "$WORK/served-after.txt" --since "$WORK/served-before.txt" || true)"

  line="$(grep '^LOAD_RESULT' "$out" || true)"
  [[ -n "$line" ]] || { cat "$out" >&2; die "[$label] wrk printed no LOAD_RESULT line."; }
  local req sent unanswered lost bad ec er ew et errors watch
  # wrk calls request() once more than it sends, to check the script.
  req="$(field requests "$line")"; sent=$(( $(field sent "$line") - 1 )); bad="$(field bad_status "$line")"
  ec="$(field err_connect "$line")"; er="$(field err_read "$line")"
  ew="$(field err_write "$line")"; et="$(field err_timeout "$line")"
  # Each connection has at most one request in flight when wrk stops; more
  # unanswered requests than connections were lost (wrk resends a request
  # silently when the server closes the connection under it).
  unanswered=$((sent - req))
  lost=$(( unanswered > CONNECTIONS ? unanswered - CONNECTIONS : 0 ))
  errors=$((bad + ec + er + ew + et + lost + unaccepted))
  watch="$(tr '\n' ' ' <"$WORK/watch-$label.txt")"
  R[$label,req]="$req"; R[$label,rps]="$(field rps "$line")"
  R[$label,p50]="$(field p50_ms "$line")"; R[$label,p99]="$(field p99_ms "$line")"
  R[$label,errors]="$errors"
  echo "   $req requests in $(field seconds "$line") s: $(field rps "$line") requests/s;" \
    "latency p50 $(field p50_ms "$line") ms, p90 $(field p90_ms "$line") ms, p99 $(field p99_ms "$line") ms, max $(field max_ms "$line") ms"
  echo "   answers by status: $(field statuses "$line")"
  echo "   the server counted: $(field answered "$served") answers, by status $(field statuses "$served")"
  if (( errors == 0 )); then
    echo "   errors: 0"
  else
    echo "   errors: $errors = $bad answers neither 2xx nor 3xx + socket errors: connect $ec, read $er, write $ew," \
      "timeout (> ${TIMEOUT} s) $et + $lost requests lost (sent $sent, answered $req, at most $CONNECTIONS in flight at the end)" \
      "+ $unaccepted connections never accepted"
    grep '^LOAD_ERROR' "$out" | sed 's/^LOAD_ERROR/     first:/' || true
    [[ "$(field failing "$served")" == none ]] || echo "     5xx by route (server): $(field failing "$served")"
  fi
  echo "   server during the load: at most $(field max_fds "$watch") open files, $(field max_threads "$watch") threads," \
    "$(field max_accept_queue "$watch") connections waiting to be accepted; TCP listen overflows on the machine:" \
    "$(field overflows "$drops_before") -> $(field overflows "$drops_after")"
  local warnings
  warnings="$(grep -cE 'WARN|ERROR' "$WORK/server-$label.log" || true)"
  if [[ "$warnings" != 0 ]]; then
    echo "   server log: $warnings warnings or errors; the first:"
    grep -E 'WARN|ERROR' "$WORK/server-$label.log" | head -n 5 | cut -c1-300 | sed 's/^/     /'
  fi
  echo "   memory: peak $(mb "$(field hwm_kb "$m")") MB under $CONNECTIONS connections" \
    "(sampled: RSS $(mb "$(field max_rss_kb "$watch")") MB, heap and stacks $(mb "$(field max_anon_kb "$watch")") MB)"
  sleep "$SETTLE"
  m="$(memory)"
  R[$label,after]="$(field rss_kb "$m")"
  echo "   memory: idle ${SETTLE} s after the load: RSS $(mb "$(field rss_kb "$m")") MB" \
    "(heap and stacks $(mb "$(field anon_kb "$m")"), mapped files $(mb "$(field file_kb "$m")")), $(field threads "$m") threads"
  stop_server
}

CPU_MODEL="$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n1)"
[[ -n "$CPU_MODEL" ]] || CPU_MODEL="unknown"
echo "Shiplog under $CONNECTIONS connections, and its memory — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "  binary: $BIN ($(stat -c %y "$BIN" 2>/dev/null | cut -d. -f1))"
echo "  machine: $(nproc) CPUs, $CPU_MODEL; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  open-files limit: $(ulimit -n); accept-queue limit (net.core.somaxconn): $(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo ?)"
echo

n=0
for cache in $CACHE_MODES; do
  n=$((n + 1))
  echo "$n. SQLite, SHIPLOG_PAGE_CACHE_MS=$cache"
  one_run "sqlite-cache-$cache" "sqlite://$WORK/sqlite-$cache.db" "$cache"
  echo
done
if [[ -z "$PG_URL" ]]; then
  echo "PostgreSQL: skipped (set SHIPLOG_BENCH_PG_URL to a server whose user may create databases;"
  echo "  the run creates and drops the database '$PG_DB')."
  echo
else
  for cache in $CACHE_MODES; do
    n=$((n + 1))
    echo "$n. PostgreSQL, SHIPLOG_PAGE_CACHE_MS=$cache (database $PG_DB, made afresh)"
    drop_pg_db || die "could not drop database $PG_DB on SHIPLOG_BENCH_PG_URL."
    pg_admin "CREATE DATABASE $PG_DB" || die "could not create database $PG_DB on SHIPLOG_BENCH_PG_URL."
    PG_CREATED=1
    one_run "postgres-cache-$cache" "$("${HELPER[@]}" db-url --url "$PG_URL" --db "$PG_DB")" "$cache"
    echo
  done
fi

# ---- summary -------------------------------------------------------------------
echo "Summary (wrk -t$THREADS -c$CONNECTIONS -d${SECS}s, $WRITES writes per 1,000; memory in MB, RSS)"
printf '  %-22s %9s %9s %8s %9s %7s | %6s %8s %8s %8s\n' "run" "requests" "req/s" "p50 ms" "p99 ms" "errors" \
  "idle" "public" "peak" "after"
for label in "${LABELS[@]}"; do
  pub="${R[$label,public_peak]}"
  [[ "$pub" == - ]] || pub="$(mb "$pub")"
  printf '  %-22s %9s %9s %8s %9s %7s | %6s %8s %8s %8s\n' "$label" "${R[$label,req]}" "${R[$label,rps]}" \
    "${R[$label,p50]}" "${R[$label,p99]}" "${R[$label,errors]}" "$(mb "${R[$label,idle]}")" "$pub" \
    "$(mb "${R[$label,load_peak]}")" "$(mb "${R[$label,after]}")"
done
echo "  idle: right after /readyz; public: peak under 64 connections on / and a release page;"
echo "  peak: under the $CONNECTIONS connections; after: idle ${SETTLE} s after them."
echo "  goals: zero errors; under 30 MB idle, under 80 MB under load"
echo "  load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews these figures)"

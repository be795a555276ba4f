#!/usr/bin/env bash
# Public release-notes pages under load, beside nginx serving the same HTML as
# static files. Prints figures (never pass/fail):
#   - requests/s and p99 latency of `/` and of one release page, wrk with 64
#     connections, Shiplog and nginx, and the ratio
#   - the total transfer size (gzip) of each page with all its assets
#   - with the page cache off (SHIPLOG_PAGE_CACHE_MS=0): `/`, `/changes`,
#     `/changes?q=<word>` with a different word each request, a page 1,000
#     pages deep and the changes feed, each with its requests/s and p99
# The database is made by `shiplog demo --entries 100000 --releases 10000`.
# It builds nothing: it runs the release binary that is already there.
#
# Settings (environment): SHIPLOG_BIN, SHIPLOG_BENCH_SECONDS (default 10),
# SHIPLOG_BENCH_ENTRIES (100000), SHIPLOG_BENCH_RELEASES (10000),
# SHIPLOG_BENCH_PORT (3710; nginx uses the next port), SHIPLOG_BENCH_PG_URL
# (a PostgreSQL server whose user may create databases: the uncached pages
# are then measured on PostgreSQL too, in the database shiplog_public_bench).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BIN="${SHIPLOG_BIN:-$ROOT/target/release/shiplog}"
SITE_ROOT="${LEPTOS_SITE_ROOT:-$ROOT/target/site}"
SECS="${SHIPLOG_BENCH_SECONDS:-10}"
ENTRIES="${SHIPLOG_BENCH_ENTRIES:-100000}"
RELEASES="${SHIPLOG_BENCH_RELEASES:-10000}"
PORT="${SHIPLOG_BENCH_PORT:-3710}"
NGINX_PORT=$((PORT + 1))

die() { echo "bench: $*" >&2; exit 1; }
[[ -x "$BIN" ]] || die "no Shiplog binary at $BIN; build it with: cargo leptos build --release"
command -v wrk >/dev/null || die "wrk is required: apt-get install wrk"
command -v nginx >/dev/null || die "nginx is required: apt-get install nginx-light"
command -v curl >/dev/null || die "curl is required"

WORK="$(mktemp -d -t shiplog-public-bench-XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  [[ -f "$WORK/nginx.pid" ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export DATABASE_URL="sqlite://$WORK/bench.db" SHIPLOG_LISTEN="127.0.0.1:$PORT" \
  SHIPLOG_PUBLIC_URL="http://127.0.0.1:$PORT" LEPTOS_SITE_ROOT="$SITE_ROOT" LEPTOS_OUTPUT_NAME=shiplog \
  SHIPLOG_MAIL_DIR="$WORK/mail" RUST_LOG=warn

echo "Shiplog public pages — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "  machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
start=$(date +%s.%N)
"$BIN" demo --entries "$ENTRIES" --releases "$RELEASES" >"$WORK/demo.log" 2>&1 || { tail -5 "$WORK/demo.log"; die "shiplog demo failed"; }
echo "  $(grep -m1 '^Demo data' "$WORK/demo.log")"
echo "  demo data made in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

"$BIN" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.05; done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$WORK/server.log"; die "the server did not start"; }

mkdir -p "$WORK/www/releases" "$WORK/www/pkg"
curl -fs "http://127.0.0.1:$PORT/" -o "$WORK/www/index.html"
slug=$(grep -o 'href="/releases/[^"]*"' "$WORK/www/index.html" | head -1 | sed 's|href="/releases/||; s|"||')
[[ -n "$slug" ]] || die "no release on the home page"
curl -fs "http://127.0.0.1:$PORT/releases/$slug" -o "$WORK/www/releases/$slug.html"
cp "$SITE_ROOT/pkg/shiplog.css" "$WORK/www/pkg/"
cp "$SITE_ROOT/favicon.svg" "$WORK/www/"

cat >"$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  include /etc/nginx/mime.types;
  gzip on; gzip_types text/html text/css image/svg+xml;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/www;
    location = / { try_files /index.html =404; }
    location /releases/ { default_type text/html; try_files \$uri.html =404; }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" 2>/dev/null || die "nginx did not start (see $WORK/nginx-error.log)"
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$NGINX_PORT/" >/dev/null && break; sleep 0.05; done

# wrk: requests/s and the 99th percentile, with gzip as browsers ask for it.
load() { # URL [wrk script]
  local out script=()
  [[ -n "${2:-}" ]] && script=(-s "$2")
  out=$(wrk -t2 -c64 -d"${SECS}s" --latency -H 'Accept-Encoding: gzip' "${script[@]}" "$1" 2>&1)
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$rps ${p99:-?} ${errors:-0}"
}
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000 } else print v }'; }

gz_size() { curl -fs -H 'Accept-Encoding: gzip' "$1" | wc -c; }
page_weight() {
  local base=$1 path=$2 html css icon
  html=$(gz_size "$base$path"); css=$(gz_size "$base/pkg/shiplog.css"); icon=$(gz_size "$base/favicon.svg")
  echo $((html + css + icon)) "$html" "$css" "$icon"
}

echo
printf "  %-28s %12s %10s %12s %10s %8s\n" "page (wrk -t2 -c64 ${SECS}s)" "Shiplog rps" "p99 ms" "nginx rps" "p99 ms" "ratio"
for path in "/" "/releases/$slug"; do
  read -r s_rps s_p99 s_err < <(load "http://127.0.0.1:$PORT$path")
  read -r n_rps n_p99 _ < <(load "http://127.0.0.1:$NGINX_PORT$path")
  ratio=$(awk -v a="$s_rps" -v b="$n_rps" 'BEGIN { printf "%.2f", a / b }')
  printf "  %-28s %12s %10s %12s %10s %7sx\n" "${path:0:28}" "$s_rps" "$(to_ms "$s_p99")" "$n_rps" "$(to_ms "$n_p99")" "$ratio"
  [[ "$s_err" == 0 ]] || echo "    (Shiplog answered $s_err non-2xx responses)"
done
echo "  goals: at least 0.7x nginx, p99 under 25 ms"
echo
for path in "/" "/releases/$slug"; do
  read -r total html css icon < <(page_weight "http://127.0.0.1:$PORT" "$path")
  echo "  transfer (gzip) of ${path:0:40}: $total bytes = HTML $html + CSS $css + icon $icon; no JavaScript  (goal: under 60 KB)"
done

# ---- without the page cache ---------------------------------------------------
# Every request renders its page: searches, filters, later pages and the
# first request after a write all take this path.
uncached() { # LABEL DATABASE_URL
  local label=$1 url=$2 deep
  kill "${PIDS[@]}" 2>/dev/null || true
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
  DATABASE_URL="$url" SHIPLOG_PAGE_CACHE_MS=0 "$BIN" >"$WORK/server-$label.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.05; done
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$WORK/server-$label.log"; die "the server did not start"; }
  # A page 1,000 pages deep, as the "Older" links reach it (keyset).
  deep=$(DATABASE_URL="$url" deep_entry) || die "could not find an entry deep in the list"
  echo
  echo "  without the page cache, $label (wrk -t2 -c64 ${SECS}s, gzip):"
  printf "  %-40s %12s %10s %8s\n" "page" "rps" "p99 ms" "non-2xx"
  for path in "/" "/changes" "/changes?q=<word>" "/changes?older=$deep" "/feeds/changes.atom"; do
    if [[ "$path" == "/changes?q=<word>" ]]; then
      read -r rps p99 err < <(load "http://127.0.0.1:$PORT" "$BENCH_DIR/words.lua")
    else
      read -r rps p99 err < <(load "http://127.0.0.1:$PORT$path")
    fi
    printf "  %-40s %12s %10s %8s\n" "${path:0:40}" "$rps" "$(to_ms "$p99")" "$err"
  done
  echo "  goal: each at least 2,000 requests/s with p99 under 50 ms"
}

# The id of the entry 50,000 changes down the public list (1,000 pages of 50).
deep_entry() {
  case "$DATABASE_URL" in
    sqlite:*) python3 - "${DATABASE_URL#sqlite://}" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
row = db.execute("""SELECT id FROM entries WHERE shipped_environment = 'production' AND audience = 'everyone'
                    ORDER BY shipped_at DESC, id DESC LIMIT 1 OFFSET 50000""").fetchone()
print(row[0])
PY
    ;;
    *) psql "$DATABASE_URL" -X -q -t -A -c "SELECT id FROM entries WHERE shipped_environment = 'production'
         AND audience = 'everyone' ORDER BY shipped_at DESC, id DESC LIMIT 1 OFFSET 50000" ;;
  esac
}

uncached SQLite "$DATABASE_URL"
if [[ -n "${SHIPLOG_BENCH_PG_URL:-}" ]]; then
  command -v psql >/dev/null || die "psql is needed for the PostgreSQL run"
  pg_db=shiplog_public_bench
  psql "$SHIPLOG_BENCH_PG_URL" -X -q -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" -c "CREATE DATABASE $pg_db" >/dev/null \
    || die "could not create the database $pg_db"
  pg_url=$(python3 "$BENCH_DIR/helper.py" db-url --url "$SHIPLOG_BENCH_PG_URL" --db "$pg_db")
  start=$(date +%s.%N)
  DATABASE_URL="$pg_url" "$BIN" demo --entries "$ENTRIES" --releases "$RELEASES" >"$WORK/demo-pg.log" 2>&1 \
    || { tail -5 "$WORK/demo-pg.log"; die "shiplog demo failed on PostgreSQL"; }
  echo
  echo "  PostgreSQL demo data made in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
  uncached PostgreSQL "$pg_url"
  kill "${PIDS[@]}" 2>/dev/null || true
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
  psql "$SHIPLOG_BENCH_PG_URL" -X -q -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null || true
fi

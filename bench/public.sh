#!/usr/bin/env bash
# Public release-notes pages under load, beside nginx serving the same HTML as
# static files. Prints figures (never pass/fail):
#   - requests/s and p99 latency of `/` and of one release page, wrk with 64
#     connections, Shiplog and nginx, and the ratio
#   - the total transfer size (gzip) of each page with all its assets
#   - with the page cache off (SHIPLOG_PAGE_CACHE_MS=0): `/`, `/changes`,
#     `/changes?q=<word>` with a different word each request, later pages of
#     those searches, a page 1,000 pages deep, filters and their later pages,
#     the numbered pages old links name, the releases' later pages and
#     searches, every feed, and pages too deep to number (a cheap 404), each
#     with its requests/s and p99
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
# nginx's own copy, precompressed at the best level as Shiplog's cache keeps
# its pages (gzip_static), beside the plain files it compresses per request.
for f in "$WORK/www/index.html" "$WORK/www/releases/$slug.html"; do gzip -9 -k "$f"; done
# nginx's workers run as nobody: mktemp's folder (mode 700) answered them 404,
# so the comparison was against a 114-byte error page.
chmod 755 "$WORK"
chmod -R a+rX "$WORK/www"

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
  server {
    listen 127.0.0.1:$((NGINX_PORT + 1));
    root $WORK/www;
    gzip_static on;
    location = / { try_files /index.html =404; }
    location /releases/ { default_type text/html; try_files \$uri.html =404; }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" 2>/dev/null || die "nginx did not start (see $WORK/nginx-error.log)"
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$NGINX_PORT/" >/dev/null && break; sleep 0.05; done
# Each side answers the same page, or there is nothing to compare.
for p in "/" "/releases/$slug"; do
  a=$(curl -fs "http://127.0.0.1:$PORT$p" | wc -c)
  for np in $NGINX_PORT $((NGINX_PORT + 1)); do
    b=$(curl -fs "http://127.0.0.1:$np$p" | wc -c) || die "nginx did not serve $p"
    [[ "$a" == "$b" ]] || die "nginx serves $b bytes for $p, Shiplog $a"
  done
done

# wrk: requests/s and the 99th percentile, with gzip as browsers ask for it.
load() { # URL [wrk script [-- script arguments]]
  local out script=() url=$1
  [[ -n "${2:-}" ]] && script=(-s "$2")
  shift; shift || true
  out=$(wrk -t2 -c64 -d"${SECS}s" --latency -H 'Accept-Encoding: gzip' "${script[@]}" "$url" "$@" 2>&1)
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
echo "  cached pages beside nginx serving the same HTML as a file: compressing it per request"
echo "  (gzip on, as a default nginx), and precompressed (gzip_static, as Shiplog keeps its pages)"
printf "  %-24s %11s %8s %11s %8s %7s %11s %8s %7s\n" "page (wrk -t2 -c64 ${SECS}s)" "Shiplog" "p99 ms" "nginx gzip" "p99 ms" "ratio" "nginx .gz" "p99 ms" "ratio"
for path in "/" "/releases/$slug"; do
  read -r s_rps s_p99 s_err < <(load "http://127.0.0.1:$PORT$path")
  read -r n_rps n_p99 n_err < <(load "http://127.0.0.1:$NGINX_PORT$path")
  read -r z_rps z_p99 z_err < <(load "http://127.0.0.1:$((NGINX_PORT + 1))$path")
  ratio=$(awk -v a="$s_rps" -v b="$n_rps" 'BEGIN { printf "%.2f", a / b }')
  zratio=$(awk -v a="$s_rps" -v b="$z_rps" 'BEGIN { printf "%.2f", a / b }')
  printf "  %-24s %11s %8s %11s %8s %6sx %11s %8s %6sx\n" "${path:0:24}" "$s_rps" "$(to_ms "$s_p99")" "$n_rps" "$(to_ms "$n_p99")" "$ratio" "$z_rps" "$(to_ms "$z_p99")" "$zratio"
  [[ "$s_err$n_err$z_err" == 000 ]] || echo "    (non-2xx answers: Shiplog $s_err, nginx $n_err, nginx .gz $z_err)"
done
echo "  goals: at least nginx (1.0x), p99 under 25 ms"
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
  # Every other kind of URL a reader reaches, each set cycled through by
  # paths.lua: later pages of searches (by "Older", and the numbered pages
  # old links name), filters and their later pages, the releases' later
  # pages and searches, every feed, and numbers past the numbered pages.
  local words crawl="python3 $BENCH_DIR/helper.py crawl --port $PORT"
  words=$(grep -o '"[a-z-]*"' "$BENCH_DIR/words.lua" | tr -d '"')
  : >"$WORK/search-later.txt"
  for w in $words; do
    $crawl --depth 5 "/changes?q=$w" | tail -n +2 >>"$WORK/search-later.txt"
    for n in 2 3 4 5; do echo "/changes?q=$w&page=$n" >>"$WORK/search-later.txt"; done
  done
  : >"$WORK/filters.txt"
  for k in feature fix improvement security; do
    $crawl --depth 3 "/changes?kind=$k" >>"$WORK/filters.txt"
  done
  for c in $(curl -fs "http://127.0.0.1:$PORT/changes" | grep -o '<option value="[a-z0-9-]*"' | sed 's/.*value="//; s/"//' | grep -vE '^(feature|fix|improvement|security)$' | head -12); do
    $crawl --depth 3 "/changes?component=$c" "/changes?kind=fix&component=$c" >>"$WORK/filters.txt"
  done
  : >"$WORK/releases.txt"
  $crawl --depth 40 "/" >>"$WORK/releases.txt"
  for w in $words; do $crawl --depth 2 "/?q=$w" >>"$WORK/releases.txt"; done
  printf '%s\n' /feeds/changes.atom /feeds/changes.json /feeds/releases.atom /feeds/releases.json >"$WORK/feeds.txt"
  : >"$WORK/numbered.txt"
  for n in 2 3 4 5; do echo "/changes?page=$n" >>"$WORK/numbered.txt"; echo "/?page=$n" >>"$WORK/numbered.txt"; done
  printf '%s\n' "/changes?page=400" "/changes?page=6" "/?page=300" "/changes?q=faster&page=400" >"$WORK/too-deep.txt"

  echo
  echo "  without the page cache, $label (wrk -t2 -c64 ${SECS}s, gzip):"
  printf "  %-44s %12s %10s %8s\n" "page" "rps" "p99 ms" "non-2xx"
  row() { # LABEL URL [wrk script] [script argument]
    local rps p99 err
    if [[ -n "${4:-}" ]]; then
      read -r rps p99 err < <(load "$2" "$3" -- "$4")
    else
      read -r rps p99 err < <(load "$2" "${3:-}")
    fi
    printf "  %-44s %12s %10s %8s\n" "${1:0:44}" "$rps" "$(to_ms "$p99")" "$err"
  }
  local base="http://127.0.0.1:$PORT"
  row "/" "$base/"
  row "/changes" "$base/changes"
  row "/changes?q=<word>, 27 words" "$base" "$BENCH_DIR/words.lua"
  row "later search pages ($(wc -l <"$WORK/search-later.txt") urls)" "$base" "$BENCH_DIR/paths.lua" "$WORK/search-later.txt"
  row "/changes?older=$deep (1,000 pages deep)" "$base/changes?older=$deep"
  row "filters and their pages ($(wc -l <"$WORK/filters.txt") urls)" "$base" "$BENCH_DIR/paths.lua" "$WORK/filters.txt"
  row "numbered pages 2-5 ($(wc -l <"$WORK/numbered.txt") urls)" "$base" "$BENCH_DIR/paths.lua" "$WORK/numbered.txt"
  row "releases: pages and searches ($(wc -l <"$WORK/releases.txt") urls)" "$base" "$BENCH_DIR/paths.lua" "$WORK/releases.txt"
  row "every feed (4 urls)" "$base" "$BENCH_DIR/paths.lua" "$WORK/feeds.txt"
  row "too deep to number: 404 (4 urls)" "$base" "$BENCH_DIR/paths.lua" "$WORK/too-deep.txt"
  echo "  goal: each at least 2,000 requests/s with p99 under 50 ms (non-2xx: only the 404 row)"
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

#!/usr/bin/env bash
# Builds and runs Shiplog on SQLite (./shiplog.db, created on first run).
# Installs missing build tools first; settings come from the environment or .env.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo leptos build --release
target_dir=$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$(pwd)/target/site}"
export LEPTOS_OUTPUT_NAME=shiplog
exec "$target_dir/release/shiplog" "$@"

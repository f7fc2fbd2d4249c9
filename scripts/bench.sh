#!/usr/bin/env bash
# `make bench`: builds release binaries of both sides of the measurement (Syncscope and
# the load generator) and runs the load generator, which starts Syncscope and the Node
# reference peer (bench/peer/server.js) itself, drives both with the same scenarios and
# prints their figures side by side. The report also goes to
# bench/results/DATE-HOST[-quick].md. QUICK=1 is a smoke run of about a minute.
# (The Node peer needs no build: Node runs it as is, better-sqlite3 being prebuilt.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

: "${CARGO_TARGET_DIR:=$HOME/.cache/syncscope/target}"
echo "==> cargo build --release -p syncscope --bin syncscope --example loadgen"
cargo build --release -p syncscope --bin syncscope --example loadgen

node -e 'require("socket.io"); require("better-sqlite3")' 2>/dev/null \
  || { echo "bench: socket.io or better-sqlite3 missing from node_modules; run make setup" >&2; exit 1; }

quick=()
suffix=""
if [ -n "${QUICK:-}" ] && [ "${QUICK}" != 0 ]; then
  quick=(--quick)
  suffix="-quick"
fi
out="bench/results/$(date +%F-%H%M)-$(hostname)${suffix}.md"

echo "==> load generator (${quick[*]:-full run})"
exec "$CARGO_TARGET_DIR/release/examples/loadgen" \
  --syncscope "$CARGO_TARGET_DIR/release/syncscope" \
  --peer bench/peer/server.js \
  "${quick[@]}" --out "$out"

#!/usr/bin/env bash
# `make bench`: builds release binaries of both sides of the measurement (Syncscope and
# the load generator) and runs the load generator, which starts Syncscope and the Node
# reference peer (bench/peer/server.js) itself, drives both with the same scenarios
# (several runs each) and prints their figures side by side. The figures go into
# docs/BENCHMARKS.md (between its figure markers; the rest of the page is prose) and
# into bench/results/DATE-HOST[-quick].md. QUICK=1 is a smoke run of a few minutes
# that writes only the latter.
# (The Node peer needs no build: Node runs it as is, better-sqlite3 being prebuilt.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

: "${CARGO_TARGET_DIR:=$HOME/.cache/syncscope/target}"
echo "==> cargo build --release -p syncscope --bin syncscope --example loadgen"
cargo build --release -p syncscope --bin syncscope --example loadgen

node -e 'require("socket.io"); require("better-sqlite3")' 2>/dev/null \
  || { echo "bench: socket.io or better-sqlite3 missing from node_modules; run make setup" >&2; exit 1; }

# 10,000 idle websockets need as many descriptors in the server and in the load
# generator (each a process of its own, started from here, inheriting the limit): the
# soft limit goes up to the hard one.
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 10500 ]; then
  echo "bench: only $(ulimit -n) file descriptors per process; the idle scenario needs about 10,500 (raise the hard limit: ulimit -Hn as root)" >&2
  exit 1
fi

extra=()
suffix=""
if [ -n "${QUICK:-}" ] && [ "${QUICK}" != 0 ]; then
  extra=(--quick)
  suffix="-quick"
else
  extra=(--doc docs/BENCHMARKS.md)
fi
out="bench/results/$(date +%F-%H%M)-$(hostname)${suffix}.md"

echo "==> load generator (${extra[*]})"
exec "$CARGO_TARGET_DIR/release/examples/loadgen" \
  --syncscope "$CARGO_TARGET_DIR/release/syncscope" \
  --peer bench/peer/server.js \
  "${extra[@]}" --out "$out"

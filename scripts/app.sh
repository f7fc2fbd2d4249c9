#!/usr/bin/env bash
# Builds Syncscope and runs it on http://127.0.0.1:4000 until Ctrl-C.
# Extra arguments go to `syncscope serve` (e.g. --db :memory:).
# (When the desktop shell lands, this opens its window instead.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/syncscope/target}"
export SYNCSCOPE_BIN="${SYNCSCOPE_BIN:-$CARGO_TARGET_DIR/debug/syncscope}"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"

HOST=${SYNCSCOPE_HOST:-127.0.0.1}
PORT=${SYNCSCOPE_PORT:-4000}

echo "==> setup (install what is missing)"
scripts/setup.sh
echo "==> cargo build -p syncscope"
cargo build -p syncscope
echo "==> syncscope serve --host $HOST --port $PORT $*"
echo "    demo app:  http://$HOST:$PORT/demo/   (open it in two tabs)"
echo "    stop with Ctrl-C"
exec "$SYNCSCOPE_BIN" serve --host "$HOST" --port "$PORT" "$@"

#!/usr/bin/env bash
# Builds Syncscope and opens its desktop window (the server runs inside it, on
# 127.0.0.1:4000 or the next free port). Without a display it runs the server
# headless instead and prints the inspector's URL with its token.
# Extra arguments go to `syncscope serve` in headless mode (e.g. --db :memory:).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/syncscope/target}"
export SYNCSCOPE_BIN="${SYNCSCOPE_BIN:-$CARGO_TARGET_DIR/debug/syncscope}"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"

HOST=${SYNCSCOPE_HOST:-127.0.0.1}
PORT=${SYNCSCOPE_PORT:-4000}

echo "==> setup (install what is missing)"
scripts/setup.sh
echo "==> build the inspector UI"
npm --prefix ui run --silent build
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "==> cargo build -p syncscope-app (the first build takes a few minutes)"
  cargo build -p syncscope-app
  echo "==> opening the Syncscope window; the demo app is at http://$HOST:<port>/demo/"
  SYNCSCOPE_PORT=$PORT exec "$CARGO_TARGET_DIR/debug/syncscope-app"
fi
echo "==> no display: running the server headless"
cargo build -p syncscope
echo "==> syncscope serve --host $HOST --port $PORT $*"
echo "    demo app:  http://$HOST:$PORT/demo/   (open it in two tabs)"
echo "    inspector: the URL with the token is printed below"
echo "    stop with Ctrl-C"
exec "$SYNCSCOPE_BIN" serve --host "$HOST" --port "$PORT" "$@"

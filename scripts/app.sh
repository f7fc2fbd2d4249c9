#!/usr/bin/env bash
# Builds Syncscope and opens its desktop window (the server runs inside it, on
# 127.0.0.1:4000 or the next free port). Without a display it runs the server
# headless instead, the same way: 4000 or the next free port, unless --port is given
# (make app ARGS='--port 0' picks any free one). The real address, the inspector's URL
# with its token and where the `syncscope` command is are printed once it listens.
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
scripts/ui-build.sh
# The same packages as make test builds, so that one after the other reuses every
# compiled crate (a different set means different features for shared dependencies,
# and Cargo compiles about 80 crates again).
echo "==> cargo build -p syncscope -p syncscope-app (the first build takes a few minutes)"
cargo build -p syncscope -p syncscope-app
echo "    the command line is $SYNCSCOPE_BIN (e.g. \`$SYNCSCOPE_BIN events\` while this runs;"
echo "    it finds the server's token by itself); to have it on your PATH:"
echo "    ln -s $SYNCSCOPE_BIN ~/.local/bin/syncscope"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "==> opening the Syncscope window; the demo app is at http://$HOST:<port>/demo/"
  SYNCSCOPE_PORT=$PORT exec "$CARGO_TARGET_DIR/debug/syncscope-app"
fi
echo "==> no display: running the server headless (stop with Ctrl-C)"
# --port in ARGS wins; otherwise 4000 (SYNCSCOPE_PORT) or the next free port, as the
# window does. The addresses below are the ones it really listens on.
port_args=(--port "$PORT" --next-free-port)
for arg in "$@"; do
  case $arg in --port | --port=*) port_args=() ;; esac
done
exec "$SYNCSCOPE_BIN" serve --host "$HOST" "${port_args[@]}" "$@"

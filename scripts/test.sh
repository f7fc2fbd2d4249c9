#!/usr/bin/env bash
# Runs every check and test of Syncscope, in order, stopping at the first
# step that fails. `make test` and .ci/run call this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/syncscope/target}"
export SYNCSCOPE_BIN="${SYNCSCOPE_BIN:-$CARGO_TARGET_DIR/debug/syncscope}"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"

started=$SECONDS

# step NAME COMMAND...: prints "==> NAME", runs COMMAND, and on failure names
# the step and exits with its status.
step() {
  local name=$1; shift
  local t0=$SECONDS
  echo "==> $name"
  local rc=0
  "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo >&2
    echo "make test: FAILED at step '$name' (exit status $rc)" >&2
    exit "$rc"
  fi
  echo "    ok: $name ($((SECONDS - t0))s)"
}

# The JavaScript test files: every *.test.js under the directories that exist.
js_test_files() {
  local dir
  for dir in tests/e2e client/test tests/browser tests/ui tests/desktop; do
    [ -d "$dir" ] || continue
    find "$dir" -name '*.test.js' -not -path '*/node_modules/*' | sort
  done
}

node_tests() {
  local files=()
  mapfile -t files < <(js_test_files)
  if [ "${#files[@]}" -eq 0 ]; then
    echo "    no *.test.js files found"
    return 0
  fi
  [ -x "$SYNCSCOPE_BIN" ] || { echo "syncscope binary missing at $SYNCSCOPE_BIN" >&2; return 1; }
  # A test that hangs fails after 2 minutes; a file that never exits (an open
  # socket keeps its process alive) stops the whole step after 20 minutes.
  timeout --kill-after=10 1200 node --test --test-reporter=spec --test-timeout=120000 "${files[@]}"
}

# The project's own regression suite on its replay feature: every recorded session
# in fixtures/replay, and every HAR there once imported, must replay as recorded.
replay_fixtures() {
  local tmp files=() har
  tmp=$(mktemp -d)
  shopt -s nullglob
  for har in fixtures/replay/*.har; do
    "$SYNCSCOPE_BIN" import "$har" -o "$tmp/$(basename "$har" .har).session.ndjson" || return 1
  done
  files=(fixtures/replay/*.session.ndjson "$tmp"/*.session.ndjson)
  shopt -u nullglob
  [ "${#files[@]}" -gt 0 ] || { echo "no session fixtures in fixtures/replay" >&2; return 1; }
  "$SYNCSCOPE_BIN" replay --check "${files[@]}"
  local rc=$?
  rm -rf "$tmp"
  return $rc
}

step "setup (install what is missing)" scripts/setup.sh
step "ui: eslint" npm --prefix ui run --silent lint
step "ui: tsc --noEmit" npm --prefix ui run --silent typecheck
step "ui: vite build (embedded by the server)" npm --prefix ui run --silent build
step "adapter: tsc on backbone.realtime.d.ts" npx --no-install tsc -p client/types/tsconfig.json
step "cargo fmt --all -- --check" cargo fmt --all -- --check
step "cargo clippy --workspace --all-targets -- -D warnings" \
  cargo clippy --workspace --all-targets -- -D warnings
step "cargo build (server and desktop window)" cargo build -p syncscope -p syncscope-app
step "cargo nextest run --workspace" cargo nextest run --workspace
step "replay every fixture with --check" replay_fixtures
step "node --test (JavaScript and end-to-end tests)" node_tests

echo "==> all tests passed in $((SECONDS - started))s"

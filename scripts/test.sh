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

# The folders of JavaScript tests. Each must exist and hold at least one *.test.js:
# a folder renamed or emptied by mistake fails the run instead of passing unnoticed.
JS_TEST_DIRS=(tests/e2e client/test tests/browser tests/ui tests/desktop)

# The JavaScript test files, or a failure naming the folder that has none.
js_test_files() {
  local dir found
  for dir in "${JS_TEST_DIRS[@]}"; do
    [ -d "$dir" ] || { echo "make test: the test folder $dir is missing" >&2; return 1; }
    found=$(find "$dir" -name '*.test.js' -not -path '*/node_modules/*' | sort)
    [ -n "$found" ] || { echo "make test: no *.test.js files in $dir" >&2; return 1; }
    echo "$found"
  done
}

node_tests() {
  local files=() list
  list=$(js_test_files) || return 1
  mapfile -t files <<<"$list"
  [ -x "$SYNCSCOPE_BIN" ] || { echo "syncscope binary missing at $SYNCSCOPE_BIN" >&2; return 1; }
  # A TAP copy of the report is read afterwards: a run in which no test passed, or a
  # file that ran no test, is a failure, not a pass. (Node reports a file without
  # tests as one passing test named by the file's path.)
  local tap rc=0
  tap=$(mktemp)
  # A test that hangs fails after 2 minutes; a file that never exits (an open
  # socket keeps its process alive) stops the whole step after 20 minutes.
  timeout --kill-after=10 1200 node --test --test-timeout=120000 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" "${files[@]}" || rc=$?
  local ran passed file empty=()
  ran=$(sed -n 's/^# tests \([0-9]*\)$/\1/p' "$tap" | tail -1)
  passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -1)
  for file in "${files[@]}"; do
    grep -qxF "# Subtest: $(realpath "$file")" "$tap" && empty+=("$file")
  done
  rm -f "$tap"
  [ "$rc" -eq 0 ] || return "$rc"
  if [ "${#empty[@]}" -gt 0 ]; then
    echo "make test: these test files ran no test: ${empty[*]}" >&2
    return 1
  fi
  if [ -z "$passed" ] || [ "$passed" -eq 0 ]; then
    echo "make test: node ran ${ran:-no} tests and none passed; that is not a pass" >&2
    return 1
  fi
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
# `scripts/test.sh js` runs only the JavaScript tests (make test-js).
if [ "${1:-}" = js ]; then
  step "node --test (JavaScript and end-to-end tests)" node_tests
  exit 0
fi

step "setup (install what is missing)" scripts/setup.sh
step "ui: eslint" npm --prefix ui run --silent lint
step "ui: tsc --noEmit" npm --prefix ui run --silent typecheck
step "ui: vite build (embedded by the server)" scripts/ui-build.sh
step "adapter: tsc on backbone.realtime.d.ts" npx --no-install tsc -p client/types/tsconfig.json
step "cargo fmt --all -- --check" cargo fmt --all -- --check
step "cargo clippy --workspace --all-targets -- -D warnings" \
  cargo clippy --workspace --all-targets -- -D warnings
step "cargo build (server and desktop window)" cargo build -p syncscope -p syncscope-app
step "cargo nextest run --workspace" cargo nextest run --workspace
step "fuzz: ${FUZZ_SECS:-5} s per target (make fuzz runs longer)" env SECS="${FUZZ_SECS:-5}" SEED="${FUZZ_SEED:-1}" scripts/fuzz.sh
step "replay every fixture with --check" replay_fixtures
step "node --test (JavaScript and end-to-end tests)" node_tests

echo "==> all tests passed in $((SECONDS - started))s"

#!/usr/bin/env bash
# Checks the artefacts of `make dist` as a new user would use them (make dist-check):
#  - the tarball, extracted into an empty folder far from the checkout, runs
#    `syncscope serve` there and answers the browser files with 200;
#  - the npm package, installed into a scratch project with its peer dependencies from
#    the npm registry, loads with require() and import, and a Vite build bundles it.
# Needs the npm registry (the scratch project installs backbone, underscore,
# socket.io-client and vite); it is not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
tarball=$repo/dist/syncscope-$version-x86_64-linux.tar.gz
package=$repo/dist/backbone.realtime-$version.tgz
for f in "$tarball" "$package"; do
  [ -f "$f" ] || { echo "error: $f is missing: run make dist first" >&2; exit 1; }
done

scratch=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "==> the tarball, in an empty folder"
mkdir "$scratch/bin"
tar -xzf "$tarball" -C "$scratch/bin"
[ "$(ls "$scratch/bin")" = syncscope ] || fail "the tarball holds more than the binary: $(ls "$scratch/bin")"
cd "$scratch/bin"
./syncscope --version | tee "$scratch/version"
grep -Eq "^syncscope $version \([0-9a-f]+\)$" "$scratch/version" || fail "--version does not name the version and commit"
./syncscope serve --port 0 --db :memory: >"$scratch/serve.log" 2>&1 &
server_pid=$!
addr=
for _ in $(seq 100); do
  addr=$(sed -n 's|^Syncscope listening on \(http://[^ ]*\).*|\1|p' "$scratch/serve.log")
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$scratch/serve.log"; fail "syncscope serve exited"; }
  sleep 0.1
done
[ -n "$addr" ] || { cat "$scratch/serve.log"; fail "syncscope serve did not say where it listens"; }
for path in /socket.io/socket.io.js /backbone.realtime.js /demo/ /_syncscope/ui/; do
  code=$(curl -s -o "$scratch/body" -w '%{http_code}' "$addr$path")
  [ "$code" = 200 ] || fail "$path answered $code: $(head -c 200 "$scratch/body")"
  echo "    $path 200 ($(wc -c <"$scratch/body") bytes)"
done
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=

echo "==> the npm package, in a scratch project"
mkdir "$scratch/app"
cd "$scratch/app"
cat >package.json <<'JSON'
{ "name": "scratch-app", "version": "1.0.0", "private": true }
JSON
npm install --no-audit --no-fund --loglevel=error "$package" backbone underscore socket.io-client vite
node -e '
  const realtime = require("backbone.realtime");
  const Backbone = require("backbone");
  if (typeof realtime.sync !== "function") throw new Error("require: no sync");
  if (Backbone.realtime !== realtime) throw new Error("require: Backbone.realtime is not the adapter");
  console.log("    require(\"backbone.realtime\") ok");
'
node --input-type=module -e '
  import realtime, { sync, connect } from "backbone.realtime";
  import Backbone from "backbone";
  if (typeof sync !== "function" || typeof connect !== "function") throw new Error("import: named exports missing");
  if (Backbone.realtime !== realtime) throw new Error("import: Backbone.realtime is not the adapter");
  console.log("    import from \"backbone.realtime\" ok");
'
cat >index.html <<'HTML'
<!doctype html><script type="module" src="./main.js"></script>
HTML
cat >main.js <<'JS'
import Backbone from 'backbone';
import realtime from 'backbone.realtime';
const Todos = Backbone.Collection.extend({ url: '/todos', realtime: true });
window.todos = new Todos();
window.adapterLoaded = typeof realtime.sync === 'function';
JS
npx vite build --logLevel warn
grep -lq 'the message is ' dist/assets/*.js || fail "the Vite bundle does not hold the adapter"
echo "    vite build bundles the adapter ($(du -ch dist/assets/*.js | tail -n1 | cut -f1))"
echo "==> dist-check passed"

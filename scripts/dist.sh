#!/usr/bin/env bash
# Builds the release artefacts into dist/ (make dist):
#   syncscope-<version>-x86_64-linux.tar.gz  the headless `syncscope` binary alone, every
#                                           browser file embedded (runs from any folder)
#   backbone.realtime-<version>.tgz          the adapter as an npm package (npm pack of client/)
# A release build refuses to build when a browser file is missing (crates/syncscope/build.rs),
# so the UI is built first and npm packages are installed by `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
client_version=$(node -p 'require("./client/package.json").version')
if [ "$client_version" != "$version" ]; then
  echo "error: client/package.json says $client_version, Cargo.toml says $version: make them agree" >&2
  exit 1
fi
target=${CARGO_TARGET_DIR:-target}

# Only when ui/ changed since the last UI build: a rebuild rewrites ui/dist, and the
# release build would then compile the server crate again for identical files.
if [ ! -f ui/dist/index.html ] ||
  [ -n "$(find ui -path ui/node_modules -prune -o -path ui/dist -prune -o -type f -newer ui/dist/index.html -print -quit)" ]; then
  echo "==> build the inspector UI"
  npm --prefix ui run --silent build
fi

echo "==> cargo build --release -p syncscope (a cold release build takes a while)"
cargo build --release -p syncscope

mkdir -p dist
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$target/release/syncscope" "$stage/syncscope"
# Symbols are half the file and a user never needs them.
strip "$stage/syncscope"
tarball="dist/syncscope-$version-x86_64-linux.tar.gz"
tar -czf "$tarball" -C "$stage" --owner=0 --group=0 syncscope
echo "==> $tarball ($(du -h "$tarball" | cut -f1))"

echo "==> npm pack client/"
rm -f "dist/backbone.realtime-$version.tgz"
(cd client && npm pack --silent --pack-destination ../dist >/dev/null)
echo "==> dist/backbone.realtime-$version.tgz ($(du -h "dist/backbone.realtime-$version.tgz" | cut -f1))"

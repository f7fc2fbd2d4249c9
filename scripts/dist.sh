#!/usr/bin/env bash
# Builds the release artefacts into dist/ (make dist):
#   syncscope_<version>_amd64.deb            the desktop window `syncscope-app` with its
#                                           .desktop entry and icon, plus the `syncscope`
#                                           command in /usr/bin; made by Tauri's bundler
#                                           (tauri-cli), Depends on WebKitGTK and GTK
#   syncscope-<version>-x86_64-linux.tar.gz  the headless `syncscope` binary alone, every
#                                           browser file embedded (runs from any folder)
#   backbone.realtime-<version>.tgz          the adapter as an npm package (npm pack of client/)
# A release build refuses to build when a browser file is missing (crates/syncscope/build.rs),
# so the UI is built first and npm packages are installed by `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
client_version=$(node -p 'require("./client/package.json").version')
if [ "$client_version" != "$version" ]; then
  echo "error: client/package.json says $client_version, Cargo.toml says $version: make them agree" >&2
  exit 1
fi
conf_version=$(node -p 'require("./tauri.conf.json").version')
if [ "$conf_version" != "$version" ]; then
  echo "error: tauri.conf.json says $conf_version, Cargo.toml says $version: make them agree" >&2
  exit 1
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
target=$CARGO_TARGET_DIR

# The bundler comes from the Rust registry; building it takes several minutes, once.
if ! cargo tauri --version >/dev/null 2>&1; then
  echo "==> cargo install tauri-cli (once; several minutes)"
  cargo install tauri-cli --locked --version '^2'
fi

echo "==> build the inspector UI"
scripts/ui-build.sh

# One cargo invocation for both binaries: built apart, shared dependencies would get
# different features and be compiled twice. custom-protocol is what `tauri build` adds:
# the window's boot page comes from the binary, not from a dev server.
echo "==> cargo build --release (a cold release build takes a while)"
cargo build --release -p syncscope -p syncscope-app --features syncscope-app/custom-protocol

mkdir -p dist
stage=$(mktemp -d)
bundle_conf=src-tauri/tauri.conf.json
cleanup() {
  rm -rf "$stage"
  rm -f "$repo/$bundle_conf"
}
trap cleanup EXIT
cp "$target/release/syncscope" "$stage/syncscope"
# Symbols are half the file and a user never needs them.
strip "$stage/syncscope"
tarball="dist/syncscope-$version-x86_64-linux.tar.gz"
tar -czf "$tarball" -C "$stage" --owner=0 --group=0 syncscope
echo "==> $tarball ($(du -h "$tarball" | cut -f1))"

# The .deb. tauri-cli wants the config beside the app's Cargo.toml, and tauri.conf.json
# sits at the repository root (DESIGN.md): for the bundler's run, a copy goes into
# src-tauri/ (removed on exit), with its paths made relative to there and the bundle
# settings added. `tauri bundle` packs the binary built above; it does not build again.
echo "==> cargo tauri bundle --bundles deb"
node - "$stage/syncscope" >"$bundle_conf" <<'JS'
const conf = require('./tauri.conf.json');
const cli = process.argv[2];
conf.build = { ...conf.build, frontendDist: conf.build.frontendDist.replace(/^src-tauri\//, '') };
conf.bundle = {
  ...conf.bundle,
  active: true,
  targets: ['deb'],
  icon: conf.bundle.icon.map((p) => p.replace(/^src-tauri\//, '')),
  category: 'DeveloperTool',
  shortDescription: 'Local realtime sync server and inspector for Backbone.js apps',
  longDescription:
    'A local Socket.IO sync server for Backbone.js apps, with an inspector window.\n' +
    'syncscope-app opens the window; the syncscope command runs the server headless.',
  linux: {
    deb: {
      section: 'devel',
      // Depends: tauri-cli itself adds libwebkit2gtk-4.1-0 and libgtk-3-0 (make
      // dist-check installs the package on a bare bookworm to see that apt pulls them).
      files: { '/usr/bin/syncscope': cli },
    },
  },
};
process.stdout.write(JSON.stringify(conf, null, 2));
JS
# Unstripped, the window's binary is mostly symbols; `cargo build` copies it from deps/
# again next time, so stripping this copy costs no rebuild.
strip "$target/release/syncscope-app"
(cd src-tauri && cargo tauri bundle --bundles deb)
built=$(ls -t "$target"/release/bundle/deb/*_"$version"_amd64.deb | head -n1)
deb="dist/syncscope_${version}_amd64.deb"
cp "$built" "$deb"
echo "==> $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --field "$deb" Package Version Depends | sed 's/^/    /'
dpkg-deb --contents "$deb" | awk '{print "    " $6}' | grep -E 'bin/|\.desktop|icons/.*png' || true

echo "==> npm pack client/"
rm -f "dist/backbone.realtime-$version.tgz"
(cd client && npm pack --silent --pack-destination ../dist >/dev/null)
echo "==> dist/backbone.realtime-$version.tgz ($(du -h "dist/backbone.realtime-$version.tgz" | cut -f1))"

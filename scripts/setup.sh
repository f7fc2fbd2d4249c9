#!/usr/bin/env bash
# Installs what building and testing Syncscope needs, and only what is missing:
# Debian packages, npm packages, rustup components, cargo-nextest and cargo-fuzz.
# Idempotent; when everything is present it takes about a second.
#
# Assumes Debian bookworm (or a derivative) with Rust stable, Node 20 and npm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages. A C toolchain builds SQLite (bundled by sqlx); Chromium
# runs the browser tests; WebKitGTK and friends build the Tauri window, and
# Xvfb + WebKitWebDriver drive it in tests without a display.
APT_PACKAGES=(build-essential ca-certificates curl pkg-config chromium
  libwebkit2gtk-4.1-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev librsvg2-dev
  xvfb webkit2gtk-driver)

say() { echo "    setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# --- Debian packages -------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get to install them"
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Node and npm packages -------------------------------------------------
command -v node >/dev/null 2>&1 || die "Node.js 20 or newer is required (node not found)"
command -v npm >/dev/null 2>&1 || die "npm is required (npm not found)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js 20 or newer is required (found $(node -v))"

# node_modules/.package-lock.json is npm's record of what it installed; it is
# rewritten by every install, so it tells when the tree predates the lockfile.
# No dependency needs an install script so far (npm approve-scripts when one does).
if [ -f package-lock.json ]; then
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
elif [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
  say "npm install (no package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
fi

# The inspector UI has its own package (ui/), built into ui/dist and embedded
# by the server's build.
if [ -f ui/package-lock.json ]; then
  if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    say "npm ci (ui/)"
    npm --prefix ui ci --no-audit --no-fund --loglevel=error
  fi
fi

# --- Rust --------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || die "Rust stable is required (cargo not found; see https://rustup.rs)"

for component in rustfmt clippy; do
  sub=${component/rustfmt/fmt}
  if ! cargo "$sub" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 || die "cargo $sub is missing and rustup is not there to add $component"
    say "rustup component add $component"
    rustup component add "$component"
  fi
done

if ! cargo nextest --version >/dev/null 2>&1; then
  bin_dir="${CARGO_HOME:-$HOME/.cargo}/bin"
  mkdir -p "$bin_dir"
  say "installing cargo-nextest into $bin_dir"
  # The prebuilt binary takes seconds; building it from source takes minutes.
  if ! curl -LsSf --connect-timeout 15 https://get.nexte.st/latest/linux | tar zxf - -C "$bin_dir"; then
    say "prebuilt cargo-nextest unavailable; building it from source"
    cargo install cargo-nextest --locked
  fi
  cargo nextest --version >/dev/null 2>&1 || die "cargo-nextest is still not usable after installing it"
fi

# tauri-driver bridges WebDriver to the Tauri window in the desktop test.
if ! command -v tauri-driver >/dev/null 2>&1; then
  say "cargo install tauri-driver (about a minute)"
  cargo install tauri-driver --locked --version '^2' --quiet
fi

# cargo-fuzz and a nightly toolchain run the fuzz targets (fuzz/, scripts/fuzz.sh).
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  command -v rustup >/dev/null 2>&1 || die "the fuzz targets need a nightly toolchain and rustup is not there to add it"
  say "rustup toolchain install nightly (for cargo-fuzz)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  say "cargo install cargo-fuzz (about two minutes)"
  cargo install cargo-fuzz --locked --quiet
fi

# --- Cargo target dir (outside the clone, so CI builds incrementally) ------------
mkdir -p "${CARGO_TARGET_DIR:-$HOME/.cache/syncscope/target}"

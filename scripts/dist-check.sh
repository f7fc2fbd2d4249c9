#!/usr/bin/env bash
# Checks the artefacts of `make dist` as a new user would use them (make dist-check):
#  - the .deb, installed with apt into a clean Debian bookworm root made by debootstrap
#    (Debian's own packages; apt pulls WebKitGTK in from the package's Depends), then
#    `syncscope serve` run inside it (chroot) answers the browser files; the window's
#    binary, its .desktop entry and icon are where the menu looks for them;
#  - the tarball, extracted into an empty folder far from the checkout, runs
#    `syncscope serve` there and answers the browser files with 200;
#  - the npm package, installed into a scratch project with its peer dependencies from
#    the npm registry, loads with require() and import, and a Vite build bundles it.
# Needs root (debootstrap, chroot), Debian's mirror and the npm registry (the scratch
# project installs backbone, underscore, socket.io-client and vite); it is not part of
# `make test`. The bookworm root is made once (about 10 minutes) and kept as a tarball
# in ~/.cache/syncscope/debootstrap/; apt's downloads are kept there too, so a rerun
# takes a minute or two.
#
# `scripts/dist-check.sh deb tarball npm` (the default: all three) runs only some parts.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
tarball=$repo/dist/syncscope-$version-x86_64-linux.tar.gz
package=$repo/dist/backbone.realtime-$version.tgz
deb=$repo/dist/syncscope_${version}_amd64.deb
parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(deb tarball npm)
for part in "${parts[@]}"; do
  case $part in
    deb) f=$deb ;;
    tarball) f=$tarball ;;
    npm) f=$package ;;
    *) echo "error: unknown part $part (deb, tarball or npm)" >&2; exit 2 ;;
  esac
  [ -f "$f" ] || { echo "error: $f is missing: run make dist first" >&2; exit 1; }
done

scratch=$(mktemp -d)
server_pid=
root=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  local busy=
  if [ -n "$root" ]; then
    for m in var/cache/apt/archives dev proc; do
      if mountpoint -q "$root/$m"; then
        umount "$root/$m" 2>/dev/null || umount -l "$root/$m" || busy=1
      fi
    done
  fi
  # Never delete through a mount that is still there (the host's /dev, the apt cache).
  if [ -n "$busy" ]; then
    echo "warning: $scratch left in place: something is still mounted in it" >&2
  else
    rm -rf --one-file-system "$scratch"
  fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# wait_listening LOG PID: the address `syncscope serve` printed, once it has.
wait_listening() {
  local log=$1 pid=$2 addr=
  for _ in $(seq 300); do
    addr=$(sed -n 's|^Syncscope listening on \(http://[^ ]*\).*|\1|p' "$log")
    [ -n "$addr" ] && { echo "$addr"; return 0; }
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "syncscope serve exited"; }
    sleep 0.1
  done
  cat "$log" >&2
  fail "syncscope serve did not say where it listens"
}

# check_files ADDR: every browser file answers 200.
check_files() {
  local addr=$1 path code
  for path in /socket.io/socket.io.js /backbone.realtime.js /demo/ /_syncscope/ui/; do
    code=$(curl -s -o "$scratch/body" -w '%{http_code}' "$addr$path")
    [ "$code" = 200 ] || fail "$path answered $code: $(head -c 200 "$scratch/body")"
    echo "    $path 200 ($(wc -c <"$scratch/body") bytes)"
  done
}

check_deb() {
echo "==> the .deb, on a clean Debian bookworm (debootstrap)"
[ "$(id -u)" -eq 0 ] || fail "the .deb check needs root (debootstrap, chroot, mount)"
command -v debootstrap >/dev/null || { echo "    apt-get install debootstrap"; apt-get install -y -qq debootstrap >/dev/null; }
cache=$HOME/.cache/syncscope/debootstrap
base=$cache/bookworm-minbase-amd64.tar.gz
mkdir -p "$cache/apt-archives/partial"
if [ ! -f "$base" ]; then
  echo "    debootstrap bookworm (once; about 10 minutes), kept as $base"
  fresh=$(mktemp -d "$cache/root.XXXXXX")
  debootstrap --variant=minbase --include=ca-certificates bookworm "$fresh" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
    { tail -n 20 "$cache/debootstrap.log" >&2; rm -rf "$fresh"; fail "debootstrap failed (log: $cache/debootstrap.log)"; }
  tar --numeric-owner -C "$fresh" -czf "$base.part" . && mv "$base.part" "$base"
  rm -rf "$fresh"
fi
root=$scratch/root
mkdir "$root"
tar --numeric-owner -xzf "$base" -C "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount --bind /proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
cp "$deb" "$root/tmp/"
# No service of a package may start inside the check root.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }
in_root dpkg -s libwebkit2gtk-4.1-0 >/dev/null 2>&1 && fail "the fresh root already has WebKitGTK: it would not show the Depends work"
in_root apt-get update -qq
in_root apt-get install -y -qq "/tmp/$(basename "$deb")" >"$scratch/apt.log" 2>&1 ||
  { tail -n 30 "$scratch/apt.log" >&2; fail "apt install of the .deb failed"; }
in_root dpkg -s libwebkit2gtk-4.1-0 | grep -q '^Status: install ok installed' || fail "apt did not pull in libwebkit2gtk-4.1-0"
echo "    apt install ./$(basename "$deb"): ok, WebKitGTK pulled in"
for f in /usr/bin/syncscope /usr/bin/syncscope-app; do
  [ -x "$root$f" ] || fail "$f is not installed"
done
desktop=$(grep -l '^Exec=syncscope-app' "$root"/usr/share/applications/*.desktop) || fail "no .desktop entry runs syncscope-app"
icon=$(sed -n 's/^Icon=//p' "$desktop")
ls "$root"/usr/share/icons/hicolor/*/apps/"$icon".png >/dev/null 2>&1 || fail "the .desktop entry's icon $icon is not installed"
echo "    /usr/bin/syncscope, /usr/bin/syncscope-app, ${desktop#"$root"} (icon $icon): ok"
# The window's binary links: every library it needs is in the root now.
in_root ldd /usr/bin/syncscope-app | grep 'not found' && fail "syncscope-app misses libraries"
in_root syncscope --version | sed 's/^/    /'
# chroot and env exec, so the pid is the server's own.
chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root \
  syncscope serve --port 0 --db /tmp/check.db >"$scratch/chroot-serve.log" 2>&1 &
server_pid=$!
addr=$(wait_listening "$scratch/chroot-serve.log" "$server_pid")
check_files "$addr"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=
for m in var/cache/apt/archives dev proc; do umount "$root/$m"; done
root=

}

check_tarball() {
echo "==> the tarball, in an empty folder"
mkdir "$scratch/bin"
tar -xzf "$tarball" -C "$scratch/bin"
[ "$(ls "$scratch/bin")" = syncscope ] || fail "the tarball holds more than the binary: $(ls "$scratch/bin")"
cd "$scratch/bin"
./syncscope --version | tee "$scratch/version"
grep -Eq "^syncscope $version \([0-9a-f]+\)$" "$scratch/version" || fail "--version does not name the version and commit"
./syncscope serve --port 0 --db :memory: >"$scratch/serve.log" 2>&1 &
server_pid=$!
addr=$(wait_listening "$scratch/serve.log" "$server_pid")
check_files "$addr"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=

}

check_npm() {
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
}

# Not in a subshell: the EXIT trap must see the server's pid and the root's mounts.
for part in "${parts[@]}"; do
  cd "$repo"
  "check_$part"
done
echo "==> dist-check passed (${parts[*]})"

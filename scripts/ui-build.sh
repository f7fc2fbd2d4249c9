#!/usr/bin/env bash
# Builds the inspector UI into ui/dist, which the server crate embeds
# (crates/syncscope/build.rs). make test, make app and make dist call it.
#
# Cargo judges ui/dist by its files' modification times, so a build that rewrote the
# same bytes made Cargo recompile the server crate, the window and every test binary:
# `make test` right after `make test` spent minutes on that. So vite writes into a
# scratch folder, and only the files whose content changed are copied into ui/dist
# (files it no longer produces are removed). Same sources, same ui/dist, no rebuild.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd ui && ./node_modules/.bin/vite build --outDir "$scratch" --emptyOutDir --logLevel warn)

mkdir -p ui/dist
changed=0
while IFS= read -r -d '' file; do
  rel=${file#"$scratch"/}
  if ! cmp -s "$file" "ui/dist/$rel"; then
    mkdir -p "$(dirname "ui/dist/$rel")"
    cp "$file" "ui/dist/$rel"
    changed=$((changed + 1))
  fi
done < <(find "$scratch" -type f -print0)
while IFS= read -r -d '' file; do
  rel=${file#ui/dist/}
  if [ ! -e "$scratch/$rel" ]; then
    rm -f "$file"
    changed=$((changed + 1))
  fi
done < <(find ui/dist -type f -print0)
find ui/dist -mindepth 1 -type d -empty -delete
if [ "$changed" -eq 0 ]; then
  echo "    ui/dist unchanged (the server crate is not rebuilt for it)"
else
  echo "    ui/dist: $changed file(s) changed"
fi

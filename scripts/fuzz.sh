#!/usr/bin/env bash
# Fuzzes the readers of untrusted input (fuzz/fuzz_targets/, the harness is
# crates/syncscope/src/untrusted_input.rs) with cargo-fuzz on the nightly toolchain,
# SECS seconds per target (default 5). `make test` runs it short, `make fuzz SECS=N`
# longer.
#
# Inputs come from fuzz/corpus/TARGET (committed: seeds and every crash found, which
# tests/fuzz_corpus.rs replays on stable); what the fuzzer discovers goes to a
# temporary folder and is dropped, so a run never changes the clone. A crash stops the
# run with the input in fuzz/artifacts/TARGET/ and what to do with it.
#
# Built without a sanitizer (-s none: the code is safe Rust, a panic is the finding) and
# unoptimised (--dev: a cold build is minutes shorter; the runs are short anyway), in
# $CARGO_TARGET_DIR/fuzz.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECS=${SECS:-${1:-5}}
# SEED=N repeats libFuzzer's draws (make test passes one, so a run finds the same inputs
# each time instead of failing at random on a new find; make fuzz explores afresh).
SEED_OPT=()
[ -n "${SEED:-}" ] && SEED_OPT=(-seed="$SEED")
TARGETS=(url request session_file control)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/syncscope/target}"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
FUZZ=(cargo +nightly fuzz)
OPTS=(--dev -s none --target-dir "$CARGO_TARGET_DIR/fuzz")

t0=$SECONDS
"${FUZZ[@]}" build "${OPTS[@]}"
echo "    fuzz: built in $((SECONDS - t0))s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in "${TARGETS[@]}"; do
  mkdir -p "$scratch/$target" "fuzz/artifacts/$target"
  log="$scratch/$target.log"
  rc=0
  # -timeout: one input taking 10 s is a finding too (a hang); -rss_limit_mb likewise.
  "${FUZZ[@]}" run "${OPTS[@]}" "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$SECS" "${SEED_OPT[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo >&2
    echo "fuzz: target '$target' found a crash (exit $rc); the input is in fuzz/artifacts/$target/." >&2
    echo "      Reproduce: cargo +nightly fuzz run ${OPTS[*]} $target fuzz/artifacts/$target/crash-…" >&2
    echo "      Fix it, then copy the input into fuzz/corpus/$target/ so the suite keeps it fixed." >&2
    exit "$rc"
  fi
  echo "    fuzz: $target: ${runs:-?} inputs in ${SECS}s, no crash"
done

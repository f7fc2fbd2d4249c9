# Syncscope — the two commands of the README, plus a few shortcuts.
#   make app    build and run the server on http://127.0.0.1:4000 (demo at /demo/)
#   make test   every check and test, as CI runs them
# Both install whatever is missing first (scripts/setup.sh).

SHELL := /usr/bin/env bash

# Build outside the clone, so every checkout on this machine (and CI) shares
# one incremental build.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/syncscope/target
export SYNCSCOPE_BIN ?= $(CARGO_TARGET_DIR)/debug/syncscope

.DEFAULT_GOAL := help
.PHONY: help app test setup build fmt test-rust test-js test-backbones fixtures concurrency bench dist dist-check fuzz soak

help:
	@echo "make app    build and run Syncscope on http://127.0.0.1:4000 (ARGS='--db :memory:' to pass options)"
	@echo "make test   run every check and test (what CI runs)"
	@echo "make setup  install what is missing (Debian packages, npm packages, Rust tools)"
	@echo "make build  cargo build -p syncscope -p syncscope-app"
	@echo "make fmt    cargo fmt --all"
	@echo "make test-rust / make test-js   only the Rust tests / only the JavaScript tests"
	@echo "make test-backbones   the adapter's whole test suite on Backbone 1.2, 1.3, 1.4 and 1.5 (make test: 1.6)"
	@echo "make fixtures  re-record fixtures/replay/ (session files and HARs) from real clients against the server"
	@echo "make concurrency   the long concurrency check (OPS=20000 writes, SEED=N to rerun one)"
	@echo "make bench  release builds, then Syncscope vs a Node socket.io + better-sqlite3 peer, side by side, into docs/BENCHMARKS.md (QUICK=1: a few minutes)"
	@echo "make fuzz   fuzz the readers of untrusted input, SECS=N per target (default 60)"
	@echo "make soak   MINUTES=N of SOCKETS=N (1000) sockets of CRUD and pushes against the release binary; RSS/fds/threads table"
	@echo "make dist   release artefacts in dist/: the .deb (window + CLI), the syncscope binary (.tar.gz) and the adapter's npm package (.tgz)"
	@echo "make dist-check   install/run what make dist wrote as a new user would: the .deb with apt in a clean debootstrap bookworm root, the tarball, the npm package (root, network)"

app:
	@scripts/app.sh $(ARGS)

test:
	@scripts/test.sh

setup:
	@scripts/setup.sh

# The same packages as make test and make app build: the same features for shared
# dependencies, so one after the other compiles nothing again.
build: setup
	cargo build -p syncscope -p syncscope-app

fmt:
	cargo fmt --all

test-rust: build
	cargo nextest run --workspace

# Every JavaScript test folder, as make test runs them; tests/desktop drives the
# desktop window, so its binary is built too.
test-js: setup
	cargo build -p syncscope -p syncscope-app
	@scripts/test.sh js

# The adapter's tests on every older Backbone it supports, each with the Underscore it
# shipped with (make test runs them on the newest, and backbone-versions.test.js covers
# the core on each). About a minute per version.
test-backbones: build
	@for v in 1.2 1.3 1.4 1.5; do \
	  echo "==> client/test on Backbone $$v"; \
	  SYNCSCOPE_TEST_BACKBONE=$$v node --test --test-timeout=120000 client/test/ || exit 1; \
	done

# The concurrency checker of `make test`, at length: OPS writes in all (20000 by
# default, a few minutes); SEED=N reruns the workload of a failed run.
OPS ?= 20000
concurrency: build
	SYNCSCOPE_CONCURRENCY_OPS=$(OPS) $(if $(SEED),SYNCSCOPE_CONCURRENCY_SEED=$(SEED)) \
	  cargo nextest run -p syncscope --test concurrency --no-capture

# Re-records the replay fixtures from real clients (scripts/record-fixtures.js says
# what each one holds). Review the diff before committing it.
fixtures: build
	node scripts/record-fixtures.js

# Syncscope against the Node reference peer (bench/peer/), side by side, from release
# builds; docs/BENCHMARKS.md says what each scenario does and gets the figures. QUICK=1
# is a smoke run of a few minutes; the full run stays under 20. Reports also go to
# bench/results/.
bench: setup
	@QUICK=$(QUICK) scripts/bench.sh

# Release artefacts (scripts/dist.sh says what each holds). A release build refuses to
# build without every browser file, so setup (npm ci) comes first.
dist: setup
	@scripts/dist.sh

# The artefacts of make dist, tried as a new user would: the .deb installed with apt in a
# clean Debian bookworm root (debootstrap, cached in ~/.cache/syncscope/debootstrap) and
# served from there, the tarball from an empty folder, the npm package bundled with Vite.
# Needs root and the network; not in make test.
dist-check:
	@scripts/dist-check.sh

# The fuzz targets (fuzz/, scripts/fuzz.sh) for SECS seconds each; make test runs them for
# 5. A crash stops the run and names the input to fix and keep in fuzz/corpus/.
SECS ?= 60
fuzz: setup
	@SECS=$(SECS) scripts/fuzz.sh

# The soak of make test (30 s, debug build) for MINUTES minutes against the release
# binary: SOCKETS sockets of steady CRUD and pushes; prints the server's RSS, open fds
# and threads as a table (also written to $(CARGO_TARGET_DIR)/soak-report.md).
MINUTES ?= 10
SOCKETS ?= 1000
soak: setup
	cargo build --release -p syncscope --bin syncscope
	SYNCSCOPE_SOAK_SECS=$$(( $(MINUTES) * 60 )) SYNCSCOPE_SOAK_SOCKETS=$(SOCKETS) \
	  SYNCSCOPE_SOAK_BIN=$(CARGO_TARGET_DIR)/release/syncscope \
	  SYNCSCOPE_SOAK_REPORT=$(CARGO_TARGET_DIR)/soak-report.md \
	  cargo nextest run -p syncscope --test soak --no-capture

'use strict';
// `make test` right after `make test` must not rebuild the server crate for the UI: the
// crate embeds ui/dist and Cargo judges it by modification times, so a UI build that
// rewrites the same bytes recompiled the server, the window and every test binary.
// scripts/ui-build.sh (which make test, make app and make dist call) leaves unchanged
// files alone; this runs it twice and checks the second run touched nothing.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
const DIST = path.join(ROOT, 'ui', 'dist');

function stamps() {
  const out = {};
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else out[path.relative(DIST, file)] = fs.statSync(file).mtimeMs;
    }
  };
  walk(DIST);
  return out;
}

const build = () => execFileSync(path.join(ROOT, 'scripts', 'ui-build.sh'), { cwd: ROOT, encoding: 'utf8' });

test('a UI build from unchanged sources leaves ui/dist untouched', { timeout: 300000 }, () => {
  build();
  const before = stamps();
  assert.ok(before['index.html'], 'ui/dist/index.html was built');
  const out = build();
  assert.match(out, /ui\/dist unchanged/, out);
  assert.deepEqual(stamps(), before);
});

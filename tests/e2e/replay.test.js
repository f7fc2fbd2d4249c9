'use strict';
// `syncscope replay` on sessions recorded just now from real clients: the demo app
// with backbone.realtime.js in two Chromium pages, socket.io-client 4 (native
// dialect) and backbone.iobind over socket.io-client 2, plus a DevTools-shaped HAR of
// the demo. scripts/record-fixtures.js does the recording (the same script that made
// fixtures/replay), into a temporary folder.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const BIN = process.env.SYNCSCOPE_BIN
  || path.join(os.homedir(), '.cache', 'syncscope', 'target', 'debug', 'syncscope');

let dir;

function syncscope(args) {
  const out = spawnSync(BIN, args, {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', SYNCSCOPE_TOKEN: '' },
    timeout: 120_000,
  });
  return { code: out.status, text: `${out.stdout}${out.stderr}` };
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-replay-'));
  const rec = spawnSync(process.execPath,
    [path.join(ROOT, 'scripts', 'record-fixtures.js'), 'demo-two-tabs', 'conflict', 'iobind-v2', 'har'],
    { encoding: 'utf8', env: { ...process.env, SYNCSCOPE_BIN: BIN, SYNCSCOPE_FIXTURES_OUT: dir }, timeout: 180_000 });
  assert.equal(rec.status, 0, `recording failed:\n${rec.stdout}${rec.stderr}`);
  const imported = syncscope(['import', path.join(dir, 'demo.har'), '-o', path.join(dir, 'demo-har.session.ndjson')]);
  assert.equal(imported.code, 0, imported.text);
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('sessions recorded from real clients replay against a fresh server as recorded', () => {
  const files = ['demo-two-tabs', 'conflict', 'iobind-v2', 'demo-har']
    .map((n) => path.join(dir, `${n}.session.ndjson`));
  const out = syncscope(['replay', '--check', ...files]);
  assert.equal(out.code, 0, out.text);
  // Every file was checked, and something was actually compared in each.
  for (const f of files) {
    const line = out.text.split('\n').find((l) => l.startsWith(`${f}:`));
    assert.ok(line, `no report line for ${f}:\n${out.text}`);
    const matched = Number(/(\d+) answer\(s\) matched/.exec(line)[1]);
    assert.ok(matched >= 3, `${f}: only ${matched} answers compared`);
  }
  assert.equal((out.text.match(/✓ the server answers as recorded/g) || []).length, files.length, out.text);
});

test('a changed server fails the check with a diff naming the ack and its client, until accepted', () => {
  const file = path.join(dir, 'conflict.session.ndjson');
  // With a 20-byte limit the first create is too large: its ack differs, and the
  // pushes the subscriber got in the recording never come.
  let out = syncscope(['replay', '--check', file, '--max-data', '20', '--timeout-ms', '1500']);
  assert.equal(out.code, 1, out.text);
  assert.match(out.text, /client \d — socket \S+ \(EIO4, websocket\): the ack of create \/todos differs/);
  assert.match(out.text, /\+ {5}"code": "too_large"/);
  assert.match(out.text, /the push of change never came/);
  assert.match(out.text, /syncscope replay accept /);

  out = syncscope(['replay', 'accept', file, '--max-data', '20']);
  assert.equal(out.code, 0, out.text);
  out = syncscope(['replay', '--check', file, '--max-data', '20']);
  assert.equal(out.code, 0, out.text);
  // The accepted file now records the new behaviour: the old server differs from it.
  out = syncscope(['replay', '--check', file, '--timeout-ms', '1500']);
  assert.equal(out.code, 1, out.text);
});

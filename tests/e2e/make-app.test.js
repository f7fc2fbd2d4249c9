'use strict';
// `make app` without a display, as a newcomer runs it (scripts/app.sh): it comes up on
// the port asked for or the next free one, takes `--port` from ARGS without clashing
// with its own, and prints the address it really listens on, never port 0.
// The builds it runs are the ones make test has just done, so here they find nothing
// to compile.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');

/** Runs scripts/app.sh headless until it says where it listens; returns all it printed. */
function runApp(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(ROOT, 'scripts', 'app.sh'), args, {
      cwd: ROOT,
      env: { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    const stop = () => { try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ } };
    const seen = () => {
      // The listening line, then the demo's address in the log after it.
      const m = out.match(/Syncscope listening on (http:\/\/[^ \n]+)/);
      if (m && out.includes(`${m[1]}/demo/`)) {
        stop();
        resolve({ out, url: m[1] });
      }
    };
    child.stdout.on('data', (d) => { out += d; seen(); });
    child.stderr.on('data', (d) => { out += d; seen(); });
    child.on('exit', (code) => reject(new Error(`app.sh exited with ${code} before listening:\n${out}`)));
  });
}

function holdPort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => resolve(server));
  });
}

describe('make app without a display', { timeout: 600000 }, () => {
  it('takes the next free port when its port is taken, and prints the real address', async () => {
    const taken = await holdPort();
    const port = taken.address().port;
    try {
      const { out, url } = await runApp(['--db', ':memory:'], { SYNCSCOPE_PORT: String(port) });
      assert.notEqual(url, `http://127.0.0.1:${port}`, out);
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.doesNotMatch(out, /:0\//, out);
      assert.doesNotMatch(out, /already in use/, out);
      // Where the command line is, for the next terminal.
      assert.match(out, /the command line is \S+\/syncscope/, out);
      // It builds what make test built, with the same features: at most Syncscope's own
      // crates (after an edit), never a dependency again.
      assert.doesNotMatch(out, /Compiling (?!syncscope)/, out);
    } finally {
      taken.close();
    }
  });

  it("takes --port from ARGS (make app ARGS='--port 0') and prints the port it got", async () => {
    const { out, url } = await runApp(['--port', '0', '--db', ':memory:'], {});
    assert.doesNotMatch(out, /cannot be used multiple times/, out);
    assert.doesNotMatch(url, /:0$/, out);
    assert.doesNotMatch(out, /:0\//, out);
  });
});

'use strict';
// Spawns the real `syncscope` binary for tests.
//
//   const { startServer } = require('../support/server');
//   const server = await startServer({ args: [], env: {} });
//   server.url   // 'http://127.0.0.1:PORT'
//   server.port  // PORT (number)
//   server.proc  // the ChildProcess
//   await server.stop();  // SIGTERM, resolves once the process has exited
//   await server.kill();  // SIGKILL, resolves once the process has exited
//
// The binary is $SYNCSCOPE_BIN, else ~/.cache/syncscope/target/debug/syncscope
// (the Makefile exports SYNCSCOPE_BIN). It is started as
// `syncscope serve --port 0 --db :memory:` followed by `args` (a `--port` or
// `--db` in `args` replaces the default one), and the promise
// resolves when stdout prints `Syncscope listening on http://HOST:PORT (db: …)`.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const DEFAULT_BIN = path.join(os.homedir(), '.cache', 'syncscope', 'target', 'debug', 'syncscope');
const READY_LINE = /Syncscope listening on (http:\/\/(\S+?):(\d+)) \(db: /;
const START_TIMEOUT_MS = Number(process.env.SYNCSCOPE_START_TIMEOUT_MS || 20000);
const STOP_TIMEOUT_MS = 10000;

const running = new Set();
process.on('exit', () => {
  for (const proc of running) {
    try { proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

function binaryPath() {
  return process.env.SYNCSCOPE_BIN || DEFAULT_BIN;
}

function startServer({ args = [], env = {} } = {}) {
  const bin = binaryPath();
  if (!fs.existsSync(bin)) {
    return Promise.reject(new Error(
      `syncscope binary not found at ${bin}; build it with ` +
      '`cargo build -p syncscope` (make test does) or set SYNCSCOPE_BIN'));
  }
  // `--port` and `--db` in `args` replace the defaults (the CLI refuses a
  // flag given twice): a restart on the same port and db file reconnects
  // existing clients.
  const has = (flag) => args.some((a) => a === flag || a.startsWith(`${flag}=`));
  const argv = ['serve',
    ...(has('--port') ? [] : ['--port', '0']),
    ...(has('--db') ? [] : ['--db', ':memory:']),
    ...args];
  const proc = spawn(bin, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);

  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      resolve({ code, signal });
    });
  });

  let output = '';
  const remember = (chunk) => {
    output += chunk;
    if (output.length > 20000) output = output.slice(-20000);
  };
  if (process.env.SYNCSCOPE_TEST_LOG) {
    proc.stdout.on('data', (c) => process.stderr.write(c));
    proc.stderr.on('data', (c) => process.stderr.write(c));
  }
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', remember);
  proc.stdout.setEncoding('utf8');

  async function waitExit(signal) {
    if (proc.exitCode !== null || proc.signalCode !== null) return exited;
    proc.kill(signal);
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`syncscope did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}`));
      }, STOP_TIMEOUT_MS);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return new Promise((resolve, reject) => {
    let buffered = '';
    let ready = false;
    const fail = (message) => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(new Error(`${message}\n--- syncscope ${argv.join(' ')} output ---\n${output}`));
    };
    const timer = setTimeout(
      () => fail(`syncscope did not print its listening line within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS);

    proc.stdout.on('data', (chunk) => {
      remember(chunk);
      if (ready) return;
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const m = READY_LINE.exec(line);
        if (m) {
          ready = true;
          clearTimeout(timer);
          resolve({
            url: m[1],
            port: Number(m[3]),
            proc,
            output: () => output,
            stop: () => waitExit('SIGTERM'),
            kill: () => waitExit('SIGKILL'),
          });
          return;
        }
      }
    });
    proc.once('error', (err) => fail(`could not spawn ${bin}: ${err.message}`));
    proc.once('exit', (code, signal) =>
      fail(`syncscope exited before it was ready (code ${code}, signal ${signal})`));
  });
}

/**
 * A control-API call (`/_syncscope` + `pathname`) with `token`: a POST of `body` when
 * given, else a GET; the fetch Response.
 */
function controlRequest(server, token, pathname, body) {
  return fetch(`${server.url}/_syncscope${pathname}`, {
    method: body ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
}

/** As controlRequest; the status and the parsed JSON answer, for tests of refusals. */
async function controlStatus(server, token, pathname, body) {
  const res = await controlRequest(server, token, pathname, body);
  return { status: res.status, body: await res.json() };
}

/** As controlRequest; the parsed JSON answer. */
async function control(server, token, pathname, body) {
  return (await controlRequest(server, token, pathname, body)).json();
}

module.exports = { startServer, binaryPath, control, controlStatus, controlRequest };

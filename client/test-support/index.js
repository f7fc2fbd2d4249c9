'use strict';
// Helpers of the adapter tests: a fresh Backbone + adapter per simulated
// browser tab, a real socket.io-client to the real server, plain sockets to
// look at the server's state, and small waiting helpers.

const fs = require('node:fs');
const Module = require('node:module');
const os = require('node:os');
const path = require('node:path');
const ioV4 = require('socket.io-client');
const { startServer } = require('../../tests/support/server');

const ADAPTER = require.resolve('../backbone.realtime.js');
const WAIT_MS = 5000;

// SYNCSCOPE_TEST_BACKBONE=1.2 (or 1.3, 1.4, 1.5) runs the adapter's tests on that
// Backbone, with the Underscore it shipped with (npm aliases in package.json); unset,
// on the newest. backbone-versions.test.js covers every version on each run.
const BACKBONES = {
  '1.2': { backbone: 'backbone-1.2', underscore: 'underscore-1.8' },
  '1.3': { backbone: 'backbone-1.3', underscore: 'underscore-1.8' },
  '1.4': { backbone: 'backbone-1.4', underscore: 'underscore' },
  '1.5': { backbone: 'backbone-1.5', underscore: 'underscore' },
};
const chosen = process.env.SYNCSCOPE_TEST_BACKBONE;
if (chosen && !BACKBONES[chosen]) {
  throw new Error(`SYNCSCOPE_TEST_BACKBONE=${chosen}: say one of ${Object.keys(BACKBONES).join(', ')}, or unset it for the newest`);
}
const BACKBONE = BACKBONES[chosen] || { backbone: 'backbone', underscore: 'underscore' };

// A new Backbone and a new adapter, as a separate browser tab would have:
// nothing (sockets, versions, subscriptions) is shared with other "tabs".
function freshBackbone() {
  const inPackage = (pkg) => `${path.sep}node_modules${path.sep}${pkg}${path.sep}`;
  for (const key of Object.keys(require.cache)) {
    if (key === ADAPTER || key.includes(inPackage(BACKBONE.backbone))) {
      delete require.cache[key];
    }
  }
  // The adapter and that Backbone require 'backbone' and 'underscore' by name.
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return resolve.call(this, BACKBONE[request] || request, ...rest);
  };
  try {
    const Backbone = require(BACKBONE.backbone);
    const realtime = require(ADAPTER);
    return { Backbone, realtime };
  } finally {
    Module._resolveFilename = resolve;
  }
}

// A "tab": Backbone + adapter whose shared socket connects to `server`.
// Reconnection is fast so that reconnect tests do not wait for socket.io's
// default back-off. The adapter's round-trip reports (`client_latency`, about once
// a second) are off unless asked for: tests that look at what a tab sends would
// otherwise see one at a moment that depends on the machine's speed
// (client-latency.test.js turns them on).
function tab(server, { io = ioV4, socketOptions = {}, reportLatency = false } = {}) {
  const { Backbone, realtime } = freshBackbone();
  realtime.reportLatency = reportLatency;
  const socket = io(server.url, {
    forceNew: true,
    transports: ['websocket'],
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    ...socketOptions,
  });
  realtime.socket = socket;
  return {
    Backbone,
    realtime,
    socket,
    close() { socket.close(); },
  };
}

// A plain socket speaking the native dialect, to check and change the
// server's state without the adapter.
function raw(server) {
  const socket = ioV4(server.url, { forceNew: true, transports: ['websocket'], reconnection: false });
  return {
    socket,
    ask(method, payload) {
      return withTimeout(new Promise((resolve) => {
        socket.emit(method, payload, (err, result) => resolve({ err, result }));
      }), WAIT_MS, `the ack of ${method} ${JSON.stringify(payload)}`);
    },
    async ok(method, payload) {
      const { err, result } = await this.ask(method, payload);
      if (err) throw new Error(`${method} ${JSON.stringify(payload)} failed: ${JSON.stringify(err)}`);
      return result;
    },
    close() { socket.close(); },
  };
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Resolves with the arguments of the next `event` on a Backbone object or a
// socket.
function next(emitter, event, what = event) {
  return withTimeout(new Promise((resolve) => {
    const handler = (...args) => {
      if (emitter.off) emitter.off(event, handler);
      resolve(args);
    };
    if (emitter.once && !emitter.listenTo) emitter.once(event, handler);
    else emitter.on(event, handler);
  }), WAIT_MS, what);
}

// Polls `predicate` until it is truthy.
async function until(predicate, what = 'a condition', ms = WAIT_MS) {
  const start = Date.now();
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function connected(socket) {
  if (socket.connected) return Promise.resolve();
  return next(socket, 'connect', 'the socket to connect');
}

// Records the events of a Backbone object, in order, as [name, ...args].
function record(obj) {
  const events = [];
  obj.on('all', (...args) => events.push(args));
  events.names = () => events.map((e) => e[0]);
  return events;
}

// Callback-style Backbone calls as promises of what reached `options`:
// {ok, args, error}.
function outcome(call) {
  return new Promise((resolve) => {
    call({
      success: (...args) => resolve({ ok: true, args }),
      error: (model, error, options) => resolve({ ok: false, model, error, options }),
    });
  });
}

// A db file in a temp directory, so a server can be stopped and restarted
// on the same data.
function tempDb() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-client-'));
  return {
    file: path.join(dir, 'test.db'),
    remove() { fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

// The usual cast of a push test: a fresh server (started with `serverOptions`), two
// pages with the adapter (`a` and `b`) and a raw socket (`peek`) to look at the server
// directly. `stopTwoTabs` closes what `twoTabs` opened.
async function twoTabs(serverOptions) {
  const server = await startServer(serverOptions);
  return { server, a: tab(server), b: tab(server), peek: raw(server) };
}

async function stopTwoTabs({ server, a, b, peek }) {
  a?.close();
  b?.close();
  peek?.close();
  await server?.stop();
}

module.exports = {
  ADAPTER,
  twoTabs,
  stopTwoTabs,
  freshBackbone,
  tab,
  raw,
  next,
  until,
  sleep,
  connected,
  record,
  outcome,
  tempDb,
  withTimeout,
  startServer,
  WAIT_MS,
};

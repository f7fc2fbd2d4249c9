'use strict';
// Small helpers shared by the end-to-end tests: real socket.io clients of
// several versions and transports, acks with timeouts, event recorders.

const ioV4 = require('socket.io-client');
const ioV2 = require('socket.io-client-v2');
const ioV3 = require('socket.io-client-v3');

const ACK_TIMEOUT_MS = 5000;
const EVENT_TIMEOUT_MS = 5000;

// Remembers the transport a socket's engine started on and every upgrade it
// made: socket.transports = ['polling', 'websocket'] after an upgrade.
function tracked(socket) {
  const engine = socket.io.engine;
  socket.transports = [engine.transport.name];
  engine.on('upgrade', (transport) => socket.transports.push(transport.name));
  return socket;
}

// The client flavours every protocol test runs against. `transports` is the
// sequence of transports a socket is expected to go through.
const FLAVOURS = [
  {
    name: 'socket.io-client 4 over websocket only',
    connect: (url) => tracked(ioV4(url, { transports: ['websocket'], forceNew: true, reconnection: false })),
    transports: ['websocket'],
  },
  {
    name: 'socket.io-client 4 over HTTP long-polling only',
    connect: (url) => tracked(ioV4(url, { transports: ['polling'], forceNew: true, reconnection: false })),
    transports: ['polling'],
  },
  {
    name: 'socket.io-client 4 with its default polling-then-upgrade',
    connect: (url) => tracked(ioV4(url, { forceNew: true, reconnection: false })),
    transports: ['polling', 'websocket'],
  },
  {
    name: 'socket.io-client 2 (Engine.IO v3), polling then upgrade',
    connect: (url) => tracked(ioV2(url, { forceNew: true, reconnection: false })),
    transports: ['polling', 'websocket'],
  },
  {
    name: 'socket.io-client 3 with its default polling-then-upgrade',
    connect: (url) => tracked(ioV3(url, { forceNew: true, reconnection: false })),
    transports: ['polling', 'websocket'],
  },
  {
    name: 'socket.io-client 3 over websocket only',
    connect: (url) => tracked(ioV3(url, { transports: ['websocket'], forceNew: true, reconnection: false })),
    transports: ['websocket'],
  },
];

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function connected(socket, what = 'the socket to connect') {
  if (socket.connected) return Promise.resolve(socket);
  return withTimeout(new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => reject(new Error(`connect_error: ${err && err.message}`)));
    socket.once('error', (err) => reject(new Error(`error: ${err && (err.message || err)}`)));
  }), EVENT_TIMEOUT_MS, what);
}

// Emits `event` with `payload` and resolves with the ack's argument list.
function ack(socket, event, payload) {
  return withTimeout(new Promise((resolve) => {
    socket.emit(event, payload, (...args) => resolve(args));
  }), ACK_TIMEOUT_MS, `the ack of ${event} ${JSON.stringify(payload)}`);
}

// Records every occurrence of `event` on `socket`, and lets a test wait for
// the n-th one.
function recorder(socket, event) {
  const seen = [];
  const waiters = [];
  socket.on(event, (...args) => {
    seen.push(args.length === 1 ? args[0] : args);
    for (const w of waiters.slice()) {
      if (seen.length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(seen.slice(0, w.count));
      }
    }
  });
  return {
    seen,
    // Resolves with the first `count` events once they have arrived.
    waitFor(count = seen.length + 1, ms = EVENT_TIMEOUT_MS) {
      if (seen.length >= count) return Promise.resolve(seen.slice(0, count));
      return withTimeout(new Promise((resolve) => waiters.push({ count, resolve })), ms,
        `${count} '${event}' event(s) (got ${seen.length}: ${JSON.stringify(seen)})`);
    },
  };
}

function transportName(socket) {
  // v4: socket.io.engine.transport.name; v2: the same path.
  return socket.io && socket.io.engine && socket.io.engine.transport
    ? socket.io.engine.transport.name
    : undefined;
}

function upgraded(socket) {
  if (transportName(socket) === 'websocket') return Promise.resolve('websocket');
  return withTimeout(new Promise((resolve) => {
    socket.io.engine.once('upgrade', (transport) => resolve(transport.name));
  }), EVENT_TIMEOUT_MS, 'the transport upgrade to websocket');
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function closeAll(...sockets) {
  for (const s of sockets) {
    if (s) s.close();
  }
}

module.exports = {
  ioV4,
  ioV2,
  FLAVOURS,
  withTimeout,
  connected,
  ack,
  recorder,
  transportName,
  upgraded,
  sleep,
  closeAll,
};

'use strict';
// The adapter's own socket comes back quickly after a restart of a server on the same
// machine: for a loopback host (localhost, 127.0.0.0/8, ::1) it retries after 100 ms,
// doubling up to 1 s, instead of socket.io's 1 s growing to 5 s. A server elsewhere keeps
// socket.io's back-off, and the app's `socketOptions` win. The restart test uses the
// real server, stopped and started again on the same db and port.

const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const ioV4 = require('socket.io-client');
const { freshBackbone, startServer, tempDb, next, connected, withTimeout } = require('../test-support');

// socket.io-client's own defaults, which the adapter used to leave in place.
const SOCKET_IO_DEFAULT_MAX = 5000;
// The reconnect after the server listens again is reported; the assertion is only
// against a generous bound, well under the ~4 s socket.io's back-off gave.
const RECONNECT_BOUND_MS = 3000;

/** The options the adapter gives `io()` for a socket to `url`, but for `auth` (the page
 *  and the client id) and `query` (the client id), which module.test.js covers. */
function optionsFor(url, socketOptions = null) {
  const { realtime } = freshBackbone();
  const calls = [];
  realtime.io = (target, opts) => {
    calls.push(opts);
    return { connected: false, on() {}, emit() {} };
  };
  realtime.url = url;
  realtime.socketOptions = socketOptions;
  realtime.connect();
  const { auth, query, ...rest } = calls[0];
  assert.equal(typeof auth, 'function');
  assert.equal(typeof query.client, 'string');
  return rest;
}

describe('reconnecting to a server on this machine', { timeout: 60000 }, () => {
  it('uses a back-off capped at 1 s for loopback hosts, and socket.io\'s own for others', () => {
    for (const url of ['http://localhost:4000', 'http://127.0.0.1:4000', 'http://127.1.2.3:4000',
      'http://[::1]:4000', 'ws://LOCALHOST', 'http://localhost.:4000', '//app.localhost:8080/', 'http://user@127.0.0.1:1']) {
      assert.deepEqual(optionsFor(url), { reconnectionDelay: 100, reconnectionDelayMax: 1000 }, url);
    }
    for (const url of ['http://example.com:4000', 'https://10.0.0.2', 'http://[::2]:4000',
      'http://128.0.0.1', 'http://localhost.example.com', 'http://127.0.0.1.example.com']) {
      assert.deepEqual(optionsFor(url), {}, url);
    }
  });

  it('takes the page\'s host for a url without one', () => {
    const saved = globalThis.location;
    try {
      globalThis.location = { hostname: 'localhost', origin: 'http://localhost:4000' };
      assert.deepEqual(optionsFor('/'), { reconnectionDelay: 100, reconnectionDelayMax: 1000 });
      globalThis.location = { hostname: 'example.com', origin: 'http://example.com' };
      assert.deepEqual(optionsFor('/'), {});
    } finally {
      if (saved === undefined) delete globalThis.location; else globalThis.location = saved;
    }
  });

  it('lets the app\'s socketOptions win', () => {
    assert.deepEqual(optionsFor('http://127.0.0.1:4000', { reconnectionDelayMax: 5000, forceNew: true }),
      { reconnectionDelay: 100, reconnectionDelayMax: 5000, forceNew: true });
    assert.deepEqual(optionsFor('http://127.0.0.1:4000', { reconnection: false }),
      { reconnectionDelay: 100, reconnectionDelayMax: 1000, reconnection: false });
  });

  describe('with the real server restarted on the same db and port', () => {
    let db, server, realtime;
    afterEach(async () => {
      if (realtime && realtime.socket) realtime.socket.close();
      if (server) await server.stop();
      db.remove();
    });

    it('is back well within socket.io\'s old back-off once the server listens again', async () => {
      db = tempDb();
      server = await startServer({ args: ['--db', db.file] });
      ({ realtime } = freshBackbone());
      // The adapter creates the socket itself, with its options (websocket only, as
      // a browser would upgrade anyway: Node's polling adds nothing to the test).
      realtime.io = (url, opts) => ioV4(url, { ...opts, forceNew: true, transports: ['websocket'] });
      realtime.url = server.url;
      const socket = realtime.connect();
      assert.equal(socket.io.reconnectionDelayMax(), 1000);
      assert.notEqual(socket.io.reconnectionDelayMax(), SOCKET_IO_DEFAULT_MAX);
      await connected(socket);

      const port = server.port;
      const gone = next(realtime, 'disconnect');
      await server.stop();
      await gone;
      // Down long enough for socket.io's default back-off to have grown to seconds.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const back = withTimeout(new Promise((resolve) => realtime.once('connect', (...args) => resolve(args))),
        30000, 'the reconnect');
      server = await startServer({ args: ['--db', db.file, '--port', String(port)] });
      const listening = Date.now();
      const [, info] = await back;
      const took = Date.now() - listening;
      console.log(`# the adapter's socket was back ${took} ms after the restarted server listened`);
      assert.equal(info.reconnect, true);
      assert.ok(took < RECONNECT_BOUND_MS, `back after ${took} ms`);
    });
  });
});

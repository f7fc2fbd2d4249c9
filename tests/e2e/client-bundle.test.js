'use strict';
// GET /socket.io/socket.io.js serves the socket.io-client 4 browser bundle, as
// the official Node server does, and that bundle talks to the server.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { JSDOM } = require('jsdom');
const { startServer } = require('../support/server');
const { withTimeout } = require('./lib/clients');

describe('the socket.io client bundle served by the server', () => {
  let server;
  let response;
  let body;

  before(async () => {
    server = await startServer();
    response = await fetch(`${server.url}/socket.io/socket.io.js`);
    body = await response.text();
  });

  after(async () => {
    if (server) await server.stop();
  });

  it('is the socket.io-client 4 browser build, served as JavaScript', () => {
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') || '', /javascript/,
      `content-type: ${response.headers.get('content-type')}`);
    assert.ok(body.length > 10000, `the bundle is the full client (${body.length} bytes)`);
    assert.match(body.slice(0, 200), /Socket\.IO v4\./, 'the bundle announces socket.io-client 4');
  });

  it('defines a global io function of socket.io-client 4 when run in a page', () => {
    const { window } = new JSDOM('<!doctype html><html></html>', { runScripts: 'outside-only' });
    try {
      window.eval(body);
      assert.equal(typeof window.io, 'function', 'window.io is a function');
      assert.equal(typeof window.io.Manager, 'function', 'io.Manager is there');
      assert.equal(window.io.connect, window.io, 'io.connect is io, as in socket.io-client 4');
    } finally {
      window.close();
    }
  });

  for (const transport of ['websocket', 'polling']) {
    it(`lets a page loaded from the server subscribe over ${transport}`, async () => {
      // The page's origin is the server, as for the demo app.
      const { window } = new JSDOM('<!doctype html><html></html>', {
        runScripts: 'outside-only',
        url: `${server.url}/demo/`,
      });
      try {
        window.eval(body);
        const socket = window.io(server.url, { transports: [transport], reconnection: false });
        const args = await withTimeout(new Promise((resolve) => {
          socket.emit('subscribe', { url: '/todos' }, (...a) => resolve(a));
        }), 5000, `the subscribe ack over ${transport}`);
        assert.equal(args[0], null, `error-first ack; got ${JSON.stringify(args)}`);
        assert.equal(args[1].url, '/todos');
        assert.equal(socket.io.engine.transport.name, transport);
        socket.close();
      } finally {
        window.close();
      }
    });
  }
});

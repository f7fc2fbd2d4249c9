'use strict';
// Network cuts as a real client sees them: the server ends the TCP connection
// under a socket (the `cut` command, or a fault rule with the action `cut`)
// without any Socket.IO goodbye. socket.io-client must report a transport
// close (not `io server disconnect`) and reconnect by itself; the inspector's
// log shows the cut and the new connection.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const ioV4 = require('socket.io-client');
const ioV2 = require('socket.io-client-v2');
const { startServer, controlStatus } = require('../support/server');
const { ack, withTimeout } = require('./lib/clients');

const TOKEN = 'cut-test-token-0123456789';
const TRANSPORT_REASONS = ['transport close', 'transport error'];

// Clients that reconnect quickly, as an app's would (only faster).
const FLAVOURS = [
  { name: 'socket.io-client 4 over websocket', io: ioV4, opts: { transports: ['websocket'] } },
  { name: 'socket.io-client 4 over long-polling', io: ioV4, opts: { transports: ['polling'] } },
  { name: 'socket.io-client 4 upgraded from polling to websocket', io: ioV4, opts: {}, upgraded: true },
  { name: 'socket.io-client 2 over websocket', io: ioV2, opts: { transports: ['websocket'] } },
  { name: 'socket.io-client 2 over long-polling', io: ioV2, opts: { transports: ['polling'] } },
];

function open(server, flavour) {
  return flavour.io(server.url, {
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    ...flavour.opts,
  });
}

function nextEvent(socket, event, what) {
  return withTimeout(new Promise((resolve) => socket.once(event, (...args) => resolve(args))), 10000, what);
}

async function upgraded(socket) {
  if (socket.io.engine.transport.name === 'websocket') return;
  await withTimeout(new Promise((resolve) => socket.io.engine.once('upgrade', resolve)), 10000, 'the upgrade to websocket');
}

const control = (server, pathname, body) => controlStatus(server, TOKEN, pathname, body);

// Waits until the log holds a record matching `pred`, and returns it.
async function logged(server, pred, what) {
  for (let i = 0; i < 200; i++) {
    const { body } = await control(server, '/events?limit=1000');
    const found = body.records.find(pred);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the log never showed ${what}`);
}

describe('a socket cut off by the server at the TCP level', () => {
  let server;
  const sockets = [];

  before(async () => {
    server = await startServer({ args: ['--token', TOKEN] });
  });

  after(async () => {
    for (const s of sockets) s.close();
    await server.stop();
  });

  for (const flavour of FLAVOURS) {
    it(`${flavour.name}: sees a transport close and reconnects by itself (command)`, async () => {
      const socket = open(server, flavour);
      sockets.push(socket);
      await nextEvent(socket, 'connect', 'the first connect');
      if (flavour.upgraded) await upgraded(socket);
      const before = socket.id;
      const disconnected = nextEvent(socket, 'disconnect', 'the disconnect');
      const { status, body } = await control(server, '/command', { command: 'cut', socket: before });
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.value.cut, before);
      // A polling socket may have no request open at that instant (0 connections):
      // its next request is refused and ends its connection all the same.
      assert.equal(typeof body.value.connections, 'number');
      const [reason] = await disconnected;
      assert.ok(TRANSPORT_REASONS.includes(reason), `a transport close, not a Socket.IO disconnect: got "${reason}"`);
      await nextEvent(socket, 'connect', 'the reconnect');
      assert.notEqual(socket.id, before, 'a new socket');
      const [err, result] = await ack(socket, 'create', { url: '/after-cut', data: { ok: true } });
      assert.equal(err, null, 'the new socket works');
      assert.equal(result.data.ok, true);

      const gone = await logged(server, (r) => r.kind === 'disconnect' && r.socket === before, 'the disconnect of the cut socket');
      assert.match(gone.reason, /cut by the inspector/);
      assert.equal(gone.origin, 'inspector');
      await logged(server, (r) => r.kind === 'connect' && r.socket === socket.id, 'the connect of the new socket');
      socket.close();
    });
  }

  it('a fault rule with the action cut cuts the socket that sent the matching request, logged as a cut fault', async () => {
    const socket = open(server, FLAVOURS[0]);
    sockets.push(socket);
    await nextEvent(socket, 'connect', 'the first connect');
    const before = socket.id;
    const { status, body } = await control(server, '/command', {
      command: 'fault_add', rule: { when: { event: 'read', url: '/cut-me' }, action: 'cut', times: 1 },
    });
    assert.equal(status, 200, JSON.stringify(body));
    const disconnected = nextEvent(socket, 'disconnect', 'the disconnect');
    socket.emit('read', { url: '/cut-me' }, () => {});
    const [reason] = await disconnected;
    assert.ok(TRANSPORT_REASONS.includes(reason), `a transport close: got "${reason}"`);
    await nextEvent(socket, 'connect', 'the reconnect');
    const fault = await logged(server, (r) => r.kind === 'fault' && r.socket === before, 'the fault record');
    assert.equal(fault.action, 'cut');
    assert.equal(fault.rule, body.value.id);
    const gone = await logged(server, (r) => r.kind === 'disconnect' && r.socket === before, 'the disconnect');
    assert.equal(gone.origin, 'fault');
    assert.match(gone.reason, new RegExp(`cut by fault rule ${body.value.id}`));
    await logged(server, (r) => r.kind === 'connect' && r.socket === socket.id, 'the reconnect');
    socket.close();
  });

  it('refuses to cut a socket that is not connected, saying how to list them', async () => {
    const { status, body } = await control(server, '/command', { command: 'cut', socket: 'no-such-socket' });
    assert.equal(status, 404);
    assert.equal(body.code, 'not_found');
    assert.match(body.message, /syncscope sockets/);
  });
});

'use strict';
// Durability and catch-up as a real client sees them: the server binary is
// stopped with SIGTERM and started again on the same SQLite file.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('../support/server');
const { ioV4, connected, ack, closeAll } = require('./lib/clients');

function connect(url) {
  return ioV4(url, { transports: ['websocket'], forceNew: true, reconnection: false });
}

function ok(args, what) {
  assert.equal(args[0], null, `${what} succeeds; got ${JSON.stringify(args)}`);
  return args[1];
}

describe('a server restarted on the same database file', () => {
  let dir;
  const sockets = [];
  const servers = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-e2e-'));
  });

  after(async () => {
    closeAll(...sockets);
    for (const s of servers) {
      if (s.proc.exitCode === null && s.proc.signalCode === null) await s.kill();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function start(db) {
    const server = await startServer({ args: ['--db', db] });
    servers.push(server);
    return server;
  }

  async function client(server) {
    const socket = connect(server.url);
    sockets.push(socket);
    await connected(socket);
    return socket;
  }

  it('still has every model, version and seq it acknowledged before it stopped', async () => {
    const db = path.join(dir, 'restart.db');
    let server = await start(db);
    let socket = await client(server);
    const acked = [];
    for (let i = 0; i < 10; i++) {
      acked.push(ok(await ack(socket, 'create', { url: '/todos', data: { title: `todo ${i}` } }), 'create'));
    }
    const patched = ok(await ack(socket, 'patch', { url: `/todos/${acked[0].data.id}`, data: { done: true } }), 'patch');
    socket.close();
    await server.stop();

    server = await start(db);
    socket = await client(server);
    const read = ok(await ack(socket, 'read', { url: '/todos' }), 'read');
    assert.deepEqual(read.data, [patched.data, ...acked.slice(1).map((a) => a.data)],
      'the collection reads back in creation order with the patch applied');
    assert.equal(read.versions[acked[0].data.id], 2);
    assert.equal(read.versions[acked[9].data.id], 1);
    assert.equal(read.seq, patched.seq, 'the seq counter continues where it stopped');

    const next = ok(await ack(socket, 'create', { url: '/todos', data: { title: 'after restart' } }), 'create');
    assert.ok(next.seq > patched.seq, `seq keeps growing after a restart (${next.seq} > ${patched.seq})`);
    await server.stop();
  });

  it('finishes the writes in flight when stopped with SIGTERM, so no acknowledged write is lost', async () => {
    const db = path.join(dir, 'sigterm.db');
    let server = await start(db);
    const socket = await client(server);
    // A stream of creates with 50 always in flight: each ack sends the next one, so
    // the stop lands among writes the server has not answered yet, however fast it is.
    // (A fixed burst of 200 was at times all acked before the signal arrived, and the
    // test then proved nothing.)
    const ackedIds = [];
    let sent = 0;
    let firstAck;
    const firstAcked = new Promise((resolve) => { firstAck = resolve; });
    const send = () => {
      const i = sent++;
      socket.emit('create', { url: '/burst', data: { id: `m${i}`, n: i } }, (err, result) => {
        if (err === null && result && result.data) ackedIds.push(result.data.id);
        firstAck();
        send();
      });
    };
    for (let i = 0; i < 50; i++) send();
    await firstAcked;
    const exit = await server.stop();
    assert.equal(exit.code, 0, `the server exits cleanly on SIGTERM; got ${JSON.stringify(exit)}`);
    assert.ok(ackedIds.length >= 1);

    server = await start(db);
    const reader = await client(server);
    const read = ok(await ack(reader, 'read', { url: '/burst' }), 'read');
    const stored = new Set(read.data.map((m) => m.id));
    const lost = ackedIds.filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], `${ackedIds.length} writes were acked; these are missing after the restart`);
    await server.stop();
  });
});

describe('a client that reconnects', () => {
  let server;
  const sockets = [];

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    closeAll(...sockets);
    if (server) await server.stop();
  });

  async function client() {
    const socket = connect(server.url);
    sockets.push(socket);
    await connected(socket);
    return socket;
  }

  it('gets the changes it missed, in order, by subscribing with since', async () => {
    const writer = await client();
    const away = await client();
    const sub = ok(await ack(away, 'subscribe', { url: '/todos' }), 'subscribe');
    away.close();

    const created = ok(await ack(writer, 'create', { url: '/todos', data: { id: 'a', title: 'A' } }), 'create');
    const patched = ok(await ack(writer, 'patch', { url: '/todos/a', data: { done: true } }), 'patch');
    ok(await ack(writer, 'create', { url: '/elsewhere', data: { id: 'x' } }), 'create in another collection');
    const deleted = ok(await ack(writer, 'delete', { url: '/todos/a' }), 'delete');

    const back = await client();
    const caughtUp = ok(await ack(back, 'subscribe', { url: '/todos', since: sub.seq }), 'subscribe with since');
    assert.equal(caughtUp.url, '/todos');
    assert.equal(caughtUp.seq, deleted.seq, 'the ack carries the last committed seq');
    assert.equal(caughtUp.reset, undefined, 'a recent since is answered with changes, not a reset');
    assert.deepEqual(caughtUp.changes, [
      { url: '/todos', op: 'create', id: 'a', data: created.data, version: 1, seq: created.seq },
      { url: '/todos', op: 'patch', id: 'a', data: patched.data, version: 2, seq: patched.seq },
      { url: '/todos', op: 'delete', id: 'a', data: deleted.data, version: 3, seq: deleted.seq },
    ], 'only the changes of /todos after since, in order');
  });
});

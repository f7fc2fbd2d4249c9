'use strict';
// Pending writes made visible: `Backbone.realtime.pending(obj)` lists the writes the
// server has not acknowledged yet; 'queued' says a write is held because the socket is
// offline, 'sent' that the server acknowledged a write. The server is really stopped
// and restarted on the same db and port.

const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { tab, raw, next, startServer, tempDb, connected, record, outcome } = require('../test-support');

describe('pending writes', { timeout: 60000 }, () => {
  let db, server, a, peek;

  const start = (port = server ? server.port : 0) =>
    startServer({ args: ['--port', String(port), '--db', db.file] });

  beforeEach(async () => {
    db = tempDb();
    server = null;
    server = await start();
    peek = raw(server);
  });
  afterEach(async () => {
    if (a) a.close();
    a = null;
    peek.close();
    await server.stop();
    db.remove();
  });

  // A tab whose socket reconnects only when the test says so.
  const manualTab = () => tab(server, { socketOptions: { reconnection: false } });
  const Todos = (t) => t.Backbone.Collection.extend({ url: '/todos', realtime: true });

  async function serverGoesAway(t) {
    const gone = next(t.realtime, 'disconnect');
    await server.stop();
    await gone;
  }
  async function serverComesBack() {
    server = await start();
    peek.close();
    peek = raw(server);
  }

  it('reports a write made while the server is down with pending() and \'queued\', and \'sent\' once its ack arrives after the restart', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'old' } });
    a = manualTab();
    const list = new (Todos(a))();
    await list.fetch();
    await serverGoesAway(a);

    const onBus = record(a.realtime);
    const queued = next(list, 'queued');
    const todo = list.create({ title: 'written offline' });
    const modelEvents = record(todo);
    const [queuedModel, write] = await queued;
    assert.equal(queuedModel, todo, "'queued' fires on the model (seen through its collection)");
    assert.deepEqual(
      { method: write.method, url: write.url, data: write.data, state: write.state, offline: write.offline },
      { method: 'create', url: '/todos', data: { title: 'written offline' }, state: 'queued', offline: true });
    assert.equal(write.model, todo);
    assert.deepEqual(a.realtime.pending(), [write]);
    assert.deepEqual(a.realtime.pending(todo), [write]);
    assert.deepEqual(a.realtime.pending(list), [write]);
    assert.deepEqual(a.realtime.pending(new (Todos(a))()), []);
    assert.deepEqual(onBus.filter((e) => e[0] === 'queued'), [['queued', todo, write]]);

    // a second write, of another model: listed after the first
    const old = list.get(1);
    old.save({ title: 'edited offline' });
    assert.deepEqual(a.realtime.pending().map((w) => [w.model, w.method, w.state]),
      [[todo, 'create', 'queued'], [old, 'update', 'queued']]);
    assert.deepEqual(a.realtime.pending(old).map((w) => w.method), ['update']);

    await serverComesBack();
    const sent = [];
    const allSent = new Promise((resolve) => {
      a.realtime.on('sent', (model, w) => { sent.push([model, w.method]); if (sent.length === 2) resolve(); });
    });
    a.socket.connect();
    await allSent;
    assert.deepEqual(sent, [[todo, 'create'], [old, 'update']]);
    assert.deepEqual(a.realtime.pending(), []);
    assert.equal(write.state, 'sent');
    // on the model ('queued' fired during `create`, before this recorder): 'sent'
    // comes after Backbone's 'sync', so the model already shows the server's answer
    const names = modelEvents.names().filter((n) => ['queued', 'sync', 'sent'].includes(n));
    assert.deepEqual(names, ['sync', 'sent']);
    assert.ok(todo.id, 'the create was acked with an id');
    const stored = await peek.ok('read', { url: '/todos' });
    assert.deepEqual(stored.data.map((t) => t.title).sort(), ['edited offline', 'written offline']);
  });

  it('lists an online write as in flight until its ack, and never reports it queued', async () => {
    a = manualTab();
    await connected(a.socket);
    const list = new (Todos(a))();
    await list.fetch();
    const onBus = record(a.realtime);
    let atRequest = null;
    list.on('request', (model) => { if (model !== list) atRequest = a.realtime.pending(model).map((w) => w.state); });
    const todo = list.create({ title: 'online' });
    assert.deepEqual(atRequest, ['queued'], "a 'request' handler already sees the write");
    assert.deepEqual(a.realtime.pending(todo).map((w) => [w.method, w.state]), [['create', 'inflight']]);
    await next(todo, 'sent');
    assert.deepEqual(a.realtime.pending(), []);
    assert.deepEqual(onBus.names().filter((n) => n === 'queued' || n === 'sent'), ['sent']);
    // reads are not writes
    const reading = list.fetch();
    assert.deepEqual(a.realtime.pending(), []);
    await reading;
  });

  it('drops a queued write that the server refuses after the restart from pending(), with \'error\' and no \'sent\'', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    a = manualTab();
    const list = new (Todos(a))();
    await list.fetch();
    await serverGoesAway(a);
    const todo = list.get(1);
    const events = record(todo);
    const result = outcome((callbacks) => todo.save({ title: 'mine' }, callbacks));
    assert.equal(a.realtime.pending(todo).length, 1);

    await serverComesBack();
    // somebody else wrote it meanwhile: the queued write conflicts
    await peek.ok('update', { url: '/todos/1', data: { title: 'theirs' } });
    a.socket.connect();
    const { ok, error } = await result;
    assert.equal(ok, false);
    assert.equal(error.code, 'conflict');
    assert.deepEqual(a.realtime.pending(), []);
    assert.deepEqual(events.names().filter((n) => ['queued', 'sent', 'error'].includes(n)), ['queued', 'error']);
  });

  it('does not report writes that fail at once when offline with queue: false', async () => {
    a = manualTab();
    const list = new (Todos(a))();
    await list.fetch();
    await serverGoesAway(a);
    const onBus = record(a.realtime);
    const { ok, error } = await outcome((callbacks) => list.create({ title: 'x' }, { queue: false, ...callbacks }));
    assert.equal(ok, false);
    assert.equal(error.code, 'offline');
    assert.deepEqual(a.realtime.pending(), []);
    assert.deepEqual(onBus.names().filter((n) => n === 'queued' || n === 'sent'), []);
  });
});

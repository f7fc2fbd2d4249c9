'use strict';
// Losing the connection: the server is stopped and restarted on the same
// port and db file. A realtime collection resubscribes with `since` and
// catches up (or resets); writes made meanwhile are queued; requests that
// are never answered fail with `timeout`.

const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const {
  tab, raw, record, next, until, sleep, startServer, tempDb, connected, outcome,
} = require('../test-support');

describe('reconnecting', { timeout: 60000 }, () => {
  let db, server, a, peek;

  const start = (file = db.file, port = server ? server.port : 0) =>
    startServer({ args: ['--port', String(port), '--db', file] });

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

  // A tab whose socket reconnects only when the test says so, so that the
  // test decides what happens while it is away.
  function manualTab() {
    return tab(server, { socketOptions: { reconnection: false } });
  }
  const Todos = (t) => t.Backbone.Collection.extend({ url: '/todos', realtime: true });

  // Stops the server and waits until the tab has noticed.
  async function serverGoesAway(t) {
    const gone = next(t.realtime, 'disconnect');
    await server.stop();
    await gone;
  }
  async function serverComesBack(file) {
    server = await start(file);
    peek.close();
    peek = raw(server);
  }

  it('resubscribes with the last seq seen and applies the creates, updates and deletes it missed', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'kept' } });
    await peek.ok('create', { url: '/todos', data: { id: 2, title: 'to delete' } });
    a = manualTab();
    const list = new (Todos(a))();
    await list.fetch();
    const added = next(list, 'add');
    await peek.ok('create', { url: '/todos', data: { id: 3, title: 'pushed' } });
    await added;
    const lastSeen = (await peek.ok('read', { url: '/todos' })).seq;

    await serverGoesAway(a);
    await serverComesBack();
    await peek.ok('create', { url: '/todos', data: { id: 4, title: 'missed' } });
    await peek.ok('update', { url: '/todos/1', data: { title: 'changed while away' } });
    await peek.ok('delete', { url: '/todos/2' });

    const sent = [];
    a.socket.on('connect', () => {}); // keep the order of listeners as is
    const emit = a.socket.emit;
    a.socket.emit = function (event, payload, ...rest) { sent.push([event, payload]); return emit.call(this, event, payload, ...rest); };
    const events = record(list);
    const resynced = next(a.realtime, 'resync');
    const reconnected = next(a.realtime, 'connect');
    a.socket.connect();
    const [, info] = await reconnected;
    assert.equal(info.reconnect, true);
    const [resync] = await resynced;

    assert.deepEqual(sent[0], ['subscribe', { url: '/todos', since: lastSeen }]);
    assert.equal(resync.url, '/todos');
    assert.equal(resync.reset, false);
    assert.deepEqual(resync.changes.map((c) => c.op), ['create', 'update', 'delete']);
    assert.deepEqual(list.toJSON(), [
      { id: 1, title: 'changed while away' },
      { id: 3, title: 'pushed' },
      { id: 4, title: 'missed' },
    ]);
    const names = events.names();
    for (const name of ['add', 'change', 'remove', 'resync']) assert.ok(names.includes(name), `${name} in ${names}`);
    // and the versions learnt let the next save through
    await list.get(1).save({ title: 'after resync' });
  });

  it('catches up by itself with socket.io\'s own reconnection', async () => {
    a = tab(server);
    const list = new (Todos(a))();
    await list.fetch();
    await serverGoesAway(a);
    await serverComesBack();
    await peek.ok('create', { url: '/todos', data: { id: 'later', title: 'written after the restart' } });
    await until(() => list.get('later'), 'the model written after the restart');
  });

  it('resets the collection when the server no longer has the changes since its last seq', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'old world' } });
    await peek.ok('update', { url: '/todos/1', data: { title: 'old world 2' } });
    a = manualTab();
    const list = new (Todos(a))();
    await list.fetch();
    await serverGoesAway(a);
    // A new database: its seqs are behind ours.
    const other = tempDb();
    try {
      await serverComesBack(other.file);
      await peek.ok('create', { url: '/todos', data: { id: 'n', title: 'new world' } });
      const reset = next(list, 'reset');
      const resynced = next(a.realtime, 'resync');
      a.socket.connect();
      await reset;
      const [info] = await resynced;
      assert.equal(info.reset, true);
      assert.deepEqual(list.toJSON(), [{ id: 'n', title: 'new world' }]);
      assert.equal(a.realtime.version(list.get('n')), 1);
      await list.get('n').save({ title: 'saved in the new world' });
      await server.stop();
    } finally {
      other.remove();
      server = await start();
    }
  });

  it('does not apply its own writes again when they come back among the missed changes', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    a = manualTab();
    const list = new (Todos(a))();
    await list.fetch();
    const model = list.get(1);
    await model.save({ title: 'saved by me' });
    model.set({ title: 'my unsaved draft' });
    await serverGoesAway(a);
    await serverComesBack();
    const resynced = next(a.realtime, 'resync');
    a.socket.connect();
    const [info] = await resynced;
    assert.deepEqual(info.changes, [], 'my own write is not a missed change');
    assert.equal(model.get('title'), 'my unsaved draft');
  });

  it('queues writes made while offline and sends them in order on reconnect', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a', n: 0 } });
    await peek.ok('create', { url: '/todos', data: { id: 2, title: 'b' } });
    a = manualTab();
    const list = new (Todos(a))();
    await list.fetch();
    await serverGoesAway(a);

    const order = [];
    const done = (name) => ({ success: () => order.push(name), error: (m, e) => order.push(`${name} failed: ${e.code}`) });
    list.get(1).save({ n: 1 }, done('first save'));
    list.get(1).save({ n: 2 }, done('second save of the same model'));
    list.create({ id: 3, title: 'created offline' }, done('create'));
    list.get(2).destroy(done('destroy'));
    await sleep(100);
    assert.deepEqual(order, [], 'nothing is answered while offline');

    await serverComesBack();
    a.socket.connect();
    await until(() => order.length === 4, 'the four queued requests to be answered');
    assert.deepEqual(order, ['first save', 'second save of the same model', 'create', 'destroy']);
    const stored = await peek.ok('read', { url: '/todos' });
    assert.deepEqual(stored.data, [{ id: 1, title: 'a', n: 2 }, { id: 3, title: 'created offline' }]);
    assert.equal(stored.versions['1'], 3);
  });

  it('fails a write made while offline with an offline error when queueing is off', async () => {
    a = manualTab();
    const list = new (Todos(a))();
    await list.fetch();
    await serverGoesAway(a);
    const result = await outcome((cb) => list.create({ title: 'x' }, { queue: false, wait: true, ...cb }));
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'offline');
    a.realtime.defaults.queue = false;
    const viaDefaults = await outcome((cb) => list.fetch(cb));
    assert.equal(viaDefaults.error.code, 'offline');
  });

  it('falls back to the ajax sync while offline when asked to', async () => {
    a = manualTab();
    const list = new (Todos(a))();
    await list.fetch();
    await serverGoesAway(a);
    const calls = [];
    a.Backbone.ajax = (params) => { calls.push(params.url); params.success([{ id: 'rest' }]); return {}; };
    await new Promise((resolve) => list.fetch({ fallback: 'ajax', success: resolve }));
    assert.deepEqual(calls, ['/todos']);
    assert.deepEqual(list.pluck('id'), ['rest']);
  });

  it('triggers connect and disconnect on Backbone.realtime', async () => {
    a = manualTab();
    const first = next(a.realtime, 'connect');
    new (Todos(a))().fetch();
    const [socket, info] = await first;
    assert.equal(socket, a.socket);
    assert.equal(info.reconnect, false);
    const gone = next(a.realtime, 'disconnect');
    await server.stop();
    const [reason] = await gone;
    assert.equal(typeof reason, 'string');
    await serverComesBack();
  });
});

describe('unanswered requests', { timeout: 60000 }, () => {
  let server, a, peek;
  beforeEach(async () => {
    server = await startServer();
    a = tab(server);
    peek = raw(server);
    await connected(a.socket);
    await connected(peek.socket);
  });
  afterEach(async () => {
    try { process.kill(server.proc.pid, 'SIGCONT'); } catch { /* gone */ }
    a.close();
    peek.close();
    await server.kill();
  });

  it('fail with a timeout error after the configured time', async () => {
    const list = new (a.Backbone.Collection.extend({ url: '/todos', realtime: true }))();
    await list.fetch();
    process.kill(server.proc.pid, 'SIGSTOP'); // the socket stays open, nothing answers
    const t0 = Date.now();
    const result = await outcome((cb) => list.create({ title: 'x' }, { timeout: 300, wait: true, ...cb }));
    const elapsed = Date.now() - t0;
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'timeout');
    assert.ok(elapsed >= 290 && elapsed < 2000, `failed after ${elapsed} ms`);
    // a late ack after the server wakes up does not call success
    let late = false;
    list.on('sync', () => { late = true; });
    process.kill(server.proc.pid, 'SIGCONT');
    await sleep(200);
    assert.equal(late, false);
  });

  it('take the timeout from Backbone.realtime.defaults', async () => {
    a.realtime.defaults.timeout = 200;
    const model = new (a.Backbone.Model.extend({ urlRoot: '/todos', realtime: true }))({ id: 1 });
    process.kill(server.proc.pid, 'SIGSTOP');
    const result = await outcome((cb) => model.fetch(cb));
    assert.equal(result.error.code, 'timeout');
    assert.equal(result.error.timeout, 200);
  });

  it('fail with a disconnected error when the connection drops before the answer', async () => {
    const model = new (a.Backbone.Model.extend({ urlRoot: '/todos', realtime: true }))({ id: 1 });
    process.kill(server.proc.pid, 'SIGSTOP');
    const pending = outcome((cb) => model.save({ title: 'x' }, { timeout: 0, ...cb }));
    await sleep(100);
    process.kill(server.proc.pid, 'SIGKILL');
    const result = await pending;
    assert.equal(result.error.code, 'disconnected');
  });
});

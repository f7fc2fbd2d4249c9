'use strict';
// Several realtime objects of one url in one page (issue 15): a write acked
// for one collection shows in the page's other collections and followed
// models of that url, as a push would, exactly once; and two sockets in one
// page never take each other's pushes for duplicates.

const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const ioV4 = require('socket.io-client');
const { tab, raw, record, next, until, startServer, connected, outcome, twoTabs, stopTwoTabs } = require('../test-support');

// The events a listener saw, without the ones Backbone fires for requests
// and syncs of its own.
// and Backbone 1.5's 'update' after each add or remove.
const seen = (events) => events.names().filter((n) => !['request', 'sync', 'update'].includes(n));

describe('several realtime objects of one url in one page', { timeout: 60000 }, () => {
  let server, a, b, peek;

  beforeEach(async () => {
    ({ server, a, b, peek } = await twoTabs());
  });
  afterEach(() => stopTwoTabs({ server, a, b, peek }));

  const Todos = (t, extra = {}) => t.Backbone.Collection.extend({ url: '/todos', realtime: true, ...extra });
  const serverState = async () => (await peek.ok('read', { url: '/todos' })).data;

  it('shows creates, updates, patches and deletes of one collection in another, with the usual events, once', async () => {
    const T = Todos(a);
    const c1 = new T();
    const c2 = new T();
    await c1.fetch();
    await c2.fetch();
    const events = record(c2);

    const added = next(c2, 'add');
    const model = await new Promise((resolve, reject) => c1.create({ title: 'x' }, { wait: true, success: resolve, error: (m, e) => reject(e) }));
    const [addedModel, , addOptions] = await added;
    assert.equal(addOptions.realtime, true);
    assert.notEqual(addedModel, model, 'c2 has a model of its own');
    assert.equal(addedModel.id, model.id);
    assert.equal(c2.length, 1);

    const mirror = c2.get(model.id);
    const titled = next(mirror, 'change:title');
    await model.save({ title: 'y' });
    const [, title, titleOptions] = await titled;
    assert.equal(title, 'y');
    assert.equal(titleOptions.realtime, true);

    const done = next(mirror, 'change:done');
    await model.save({ done: true }, { patch: true });
    await done;
    assert.deepEqual(mirror.toJSON(), model.toJSON());

    const destroyed = next(mirror, 'destroy');
    await model.destroy({ wait: true });
    await destroyed;
    assert.equal(c2.length, 0);
    assert.equal(c1.length, 0);

    // Every write once, in order; and nothing more arrives afterwards (the
    // server's read is the last thing this socket is answered).
    await serverState();
    assert.deepEqual(seen(events), ['add', 'change:title', 'change', 'change:done', 'change', 'remove', 'destroy']);
  });

  it('keeps two collections in step both ways, with another tab writing too, each change once', async () => {
    const T = Todos(a);
    const c1 = new T();
    const c2 = new T();
    await Promise.all([c1.fetch(), c2.fetch()]);
    const other = new (Todos(b))();
    await other.fetch();
    const adds1 = record(c1);
    const adds2 = record(c2);

    const m1 = await new Promise((resolve) => c1.create({ title: 'from c1' }, { success: resolve }));
    const m2 = await new Promise((resolve) => c2.create({ title: 'from c2' }, { success: resolve }));
    await new Promise((resolve) => other.create({ title: 'from b' }, { success: resolve }));
    await m1.save({ title: 'c1 again' });
    await m2.save({ title: 'c2 again' });

    const want = ['c1 again', 'c2 again', 'from b'];
    await until(() => [c1, c2, other].every((c) => JSON.stringify(c.pluck('title').sort()) === JSON.stringify(want)), 'all three lists to agree');
    const fresh = (await serverState()).map((m) => m.title).sort();
    assert.deepEqual(fresh, want);
    const count = (events, name) => events.names().filter((n) => n === name).length;
    assert.equal(count(adds1, 'add'), 3, 'c1: three adds');
    assert.equal(count(adds2, 'add'), 3, 'c2: three adds');
    assert.equal(c1.length, 3);
    assert.equal(c2.length, 3);
  });

  it('makes a followed single model of the url follow the page\'s writes too', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    const T = Todos(a);
    const list = new T();
    await list.fetch();
    const Todo = a.Backbone.Model.extend({ urlRoot: '/todos', realtime: true });
    const single = new Todo({ id: 1 });
    await single.fetch();
    const events = record(single);

    const changed = next(single, 'change:title');
    await list.get(1).save({ title: 'b' });
    const [, , options] = await changed;
    assert.equal(options.realtime, true);
    assert.equal(single.get('title'), 'b');

    // and the other way: the single model's save shows in the list
    const listed = next(list.get(1), 'change:title');
    await single.save({ title: 'c' });
    await listed;
    assert.equal(list.get(1).get('title'), 'c');

    const destroyed = next(single, 'destroy');
    await list.get(1).destroy({ wait: true });
    await destroyed;
    await serverState();
    // its own save fires its events as always (and 'sent' once acked); the others come once each
    assert.deepEqual(seen(events), ['change:title', 'change', 'change:title', 'change', 'sent', 'destroy']);
    const realtimeOnes = events.filter((e) => e[e.length - 1] && e[e.length - 1].realtime).map((e) => e[0]);
    assert.deepEqual(realtimeOnes, ['change:title', 'change', 'destroy']);
  });

  it('shows a write made offline in the other collections once it is acked, not before', async () => {
    const t = tab(server, { socketOptions: { reconnection: false } });
    try {
      const T = Todos(t);
      const c1 = new T();
      const c2 = new T();
      await Promise.all([c1.fetch(), c2.fetch()]);
      const gone = next(t.realtime, 'disconnect');
      t.socket.disconnect();
      await gone;

      const saved = outcome((o) => c1.create({ title: 'offline' }, o));
      assert.equal(c1.length, 1, 'the writer shows it at once (no wait)');
      assert.equal(c2.length, 0);
      assert.deepEqual(await serverState(), [], 'nothing was sent');
      assert.equal(c2.length, 0, 'not before it is acked');

      t.socket.connect();
      const result = await saved;
      assert.ok(result.ok);
      assert.equal(c2.length, 1);
      assert.equal(c2.first().get('title'), 'offline');
      assert.equal(c2.first().id, c1.first().id);
    } finally {
      t.close();
    }
  });

  it('gives a collection that fetches while another has a write in flight the write once', async () => {
    const T = Todos(a);
    const c1 = new T();
    await c1.fetch();
    const c2 = new T();
    const events = record(c2);
    // The create and the read go out back to back: the read's answer may or
    // may not hold the model; either way c2 ends with it once.
    const creating = new Promise((resolve) => c1.create({ title: 'racing' }, { success: resolve }));
    await Promise.all([creating, c2.fetch()]);
    await serverState();
    assert.equal(c2.length, 1);
    assert.ok(events.names().filter((n) => n === 'add').length <= 1);
  });

  it('shows a write whose ack came after its timeout in the other collections all the same', async () => {
    await server.stop();
    const TOKEN = 'same-page-token-0123456789';
    server = await startServer({ args: ['--token', TOKEN] });
    a.close();
    peek.close();
    a = tab(server);
    peek = raw(server);
    const res = await fetch(`${server.url}/_syncscope/command`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ command: 'fault_add', rule: { when: { event: 'create' }, action: 'delay', ms: 1500, times: 1 } }),
    });
    assert.equal(res.status, 200);
    const T = Todos(a);
    const c1 = new T();
    const c2 = new T();
    await Promise.all([c1.fetch(), c2.fetch()]);
    const added = next(c2, 'add');
    const result = await outcome((o) => c1.create({ title: 'slow' }, { ...o, wait: true, timeout: 50 }));
    assert.equal(result.error.code, 'timeout');
    const [model] = await added;
    assert.equal(model.get('title'), 'slow');
    assert.deepEqual((await serverState()).map((m) => m.title), ['slow']);
  });

  it('keeps two sockets of one page apart: each collection gets every change, 20 times over', async () => {
    const other = ioV4(server.url, { forceNew: true, transports: ['websocket'] });
    try {
      await connected(other);
      await connected(a.socket);
      for (let round = 0; round < 20; round++) {
        const url = `/round${round}`;
        const T = a.Backbone.Collection.extend({ url, realtime: true });
        const onShared = new T();
        const onOther = new T([], { socket: other });
        await Promise.all([onShared.fetch(), onOther.fetch()]);
        const fromShared = await new Promise((resolve) => onShared.create({ n: 1 }, { wait: true, success: resolve }));
        const fromOther = await new Promise((resolve) => onOther.create({ n: 2 }, { wait: true, success: resolve }));
        await fromShared.save({ n: 3 });
        await fromOther.save({ n: 4 });
        await peek.ok('create', { url, data: { n: 5 } });
        const want = JSON.stringify([3, 4, 5]);
        await until(() => [onShared, onOther].every((c) => JSON.stringify(c.pluck('n').sort()) === want),
          `round ${round}: both collections to hold n = 3, 4, 5 (have ${JSON.stringify(onShared.pluck('n'))} and ${JSON.stringify(onOther.pluck('n'))})`);
        assert.equal(onShared.length, 3);
        assert.equal(onOther.length, 3);
        onShared.stopRealtime();
        onOther.stopRealtime();
      }
    } finally {
      other.close();
    }
  });
});

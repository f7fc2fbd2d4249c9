'use strict';
// Gaps on a channel: a `change` push lost on the way (or delivered twice)
// between the real server and the adapter. The server names, in every push
// and write ack, the channel's change before it (`prev`); the adapter, seeing
// a `prev` that is not the last change it holds, resubscribes with `since`
// and so recovers what was lost; a duplicate is applied once.
//
// The loss is made at the client's socket (socket.io-client's `onevent`,
// which hands each received event to the listeners), as a lossy network or a
// server bug would lose it: nothing else is simulated.

const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { tab, raw, next, until, record, startServer } = require('../test-support');

describe('gaps in a channel', { timeout: 60000 }, () => {
  let server, a, peek;

  beforeEach(async () => {
    server = await startServer();
    peek = raw(server);
  });
  afterEach(async () => {
    if (a) a.close();
    a = null;
    peek.close();
    await server.stop();
  });

  const Todos = (t) => t.Backbone.Collection.extend({ url: '/todos', realtime: true });

  // Lets the test drop or double the next `change` events the socket receives.
  function tamper(socket) {
    const onevent = socket.onevent;
    const plan = [];
    const handed = [];
    socket.onevent = function (packet) {
      const [event, payload] = packet.data || [];
      if (event === 'change') {
        const what = plan.shift();
        if (what === 'drop') return undefined;
        if (what === 'double') {
          handed.push(payload);
          onevent.call(this, packet);
        }
        handed.push(payload);
      }
      return onevent.call(this, packet);
    };
    return { next: (what) => plan.push(what), handed };
  }

  it('recovers a push lost on the way with a resubscribe since the last change it holds', async () => {
    a = tab(server);
    const list = new (Todos(a))();
    await list.fetch();
    const wire = tamper(a.socket);
    const gaps = [];
    a.realtime.on('gap', (gap) => gaps.push(gap));
    const resynced = next(a.realtime, 'resync');

    const one = await peek.ok('create', { url: '/todos', data: { id: 1, title: 'one' } });
    await until(() => list.get(1), 'todo 1 to arrive');
    wire.next('drop');
    const two = await peek.ok('create', { url: '/todos', data: { id: 2, title: 'lost on the way' } });
    const three = await peek.ok('create', { url: '/todos', data: { id: 3, title: 'three' } });

    const [info] = await resynced;
    await until(() => list.get(2) && list.get(3), 'todos 2 and 3');
    assert.deepEqual(list.sortBy('id').map((m) => m.get('title')), ['one', 'lost on the way', 'three']);
    assert.equal(gaps.length, 1, `one gap: ${JSON.stringify(gaps)}`);
    assert.deepEqual(gaps[0], { url: '/todos', since: one.seq, prev: two.seq, seq: three.seq });
    assert.equal(info.since, one.seq, 'the resubscribe asked from the last change before the gap');
    assert.deepEqual(info.changes.map((c) => c.seq), [two.seq], 'the lost change, applied; the others not twice');
    assert.equal(two.prev, one.seq, 'the write ack names the channel\'s previous change');
    assert.equal(three.prev, two.seq);

    // The chain goes on from there: no gap is seen where there is none.
    await peek.ok('create', { url: '/todos', data: { id: 4, title: 'four' } });
    await until(() => list.get(4), 'todo 4');
    assert.equal(gaps.length, 1);
  });

  it('applies a push delivered twice once', async () => {
    a = tab(server);
    const list = new (Todos(a))();
    await list.fetch();
    const wire = tamper(a.socket);
    const gaps = [];
    a.realtime.on('gap', (gap) => gaps.push(gap));
    const events = record(list);

    wire.next('double');
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'twice on the wire' } });
    wire.next('double');
    await peek.ok('update', { url: '/todos/1', data: { id: 1, title: 'changed, twice on the wire' } });
    await peek.ok('create', { url: '/todos', data: { id: 2, title: 'once' } });
    await until(() => list.get(2), 'todo 2');

    assert.equal(wire.handed.length, 5, 'the adapter was handed five change events for three changes');
    assert.deepEqual(list.pluck('title'), ['changed, twice on the wire', 'once']);
    assert.equal(events.names().filter((n) => n === 'add').length, 2, 'each model added once');
    assert.equal(events.names().filter((n) => n === 'change:title').length, 1, 'the update applied once');
    assert.deepEqual(gaps, [], 'a duplicate is not a gap');
  });

  it('counts its own writes in the chain, so pushes after them are no gap', async () => {
    a = tab(server);
    const list = new (Todos(a))();
    await list.fetch();
    const gaps = [];
    a.realtime.on('gap', (gap) => gaps.push(gap));
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve, reject) => list.create({ title: `mine ${i}` }, { wait: true, success: resolve, error: reject }));
      await peek.ok('create', { url: '/todos', data: { title: `theirs ${i}` } });
    }
    await until(() => list.length === 10, 'all ten todos');
    assert.deepEqual(gaps, []);
  });

  it('tells a subscriber the channel\'s latest change (`last`) and chains pushes per channel with `prev`', async () => {
    const first = await peek.ok('create', { url: '/todos', data: { id: 1 } });
    await peek.ok('create', { url: '/notes', data: { id: 1 } });
    const listener = raw(server);
    try {
      const sub = await listener.ok('subscribe', { url: '/todos' });
      assert.equal(sub.last, first.seq, 'the seq of the latest change of /todos, not of /notes');
      assert.ok(sub.seq > sub.last, 'while `seq` is the server-wide one');
      const pushes = [];
      listener.socket.on('change', (c) => pushes.push(c));
      const w1 = await peek.ok('create', { url: '/todos', data: { id: 2 } });
      await peek.ok('create', { url: '/notes', data: { id: 2 } });
      const w2 = await peek.ok('update', { url: '/todos/2', data: { id: 2, x: 1 } });
      await until(() => pushes.length === 2, 'two pushes');
      assert.deepEqual(pushes.map((p) => [p.prev, p.seq]), [[first.seq, w1.seq], [w1.seq, w2.seq]]);
    } finally {
      listener.close();
    }
  });
});

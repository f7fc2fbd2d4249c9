'use strict';
// Push tampering rules of the real server (docs/FAULTS.md, *Pushes*) against the
// real adapter on real Backbone and socket.io-client 4: a `change` push the server
// drops is recovered by the adapter's gap detection (resubscribe with `since`); one it
// sends twice is applied once; delayed (with a seeded jitter) or held and sent after
// the next, the pushes still leave the collection right. Each tampering is a `fault`
// record naming the rule and the change's seq.
//
// Unlike gaps.test.js, nothing is changed in the client: the server misbehaves.

const { control: controlWithToken } = require('../../tests/support/server');
const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { tab, raw, next, until, record, startServer, connected } = require('../test-support');

const TOKEN = 'push-faults-token';

const control = (server, pathname, body) => controlWithToken(server, TOKEN, pathname, body);

async function addRule(server, rule) {
  const res = await control(server, '/command', { command: 'fault_add', rule });
  assert.equal(res.result, 'ok', JSON.stringify(res));
  return res.value;
}

async function faultRecords(server) {
  const { records } = await control(server, '/events?kinds=fault&limit=1000');
  return records;
}

const Todos = (t) => t.Backbone.Collection.extend({ url: '/todos', realtime: true });

describe('push tampering by the server, seen by the adapter', { timeout: 90000 }, () => {
  let server, a, peek;
  const start = (args = []) => startServer({ args: ['--token', TOKEN, ...args] });

  beforeEach(async () => {
    server = await start();
    peek = raw(server);
  });
  afterEach(async () => {
    if (a) a.close();
    a = null;
    peek.close();
    await server.stop();
  });

  // A tab listening to /todos, and the `change` events its socket receives.
  async function listening() {
    a = tab(server);
    const list = new (Todos(a))();
    await list.fetch();
    await connected(a.socket);
    return list;
  }

  it('a dropped push is recovered by a resubscribe since the last change the tab holds', async () => {
    const list = await listening();
    const gaps = [];
    a.realtime.on('gap', (gap) => gaps.push(gap));
    const one = await peek.ok('create', { url: '/todos', data: { id: 1, title: 'one' } });
    await until(() => list.get(1), 'todo 1');
    const rule = await addRule(server, { when: { url: '/todos', socket: a.socket.id }, action: 'push_drop', times: 1 });
    const resynced = next(a.realtime, 'resync');
    const two = await peek.ok('create', { url: '/todos', data: { id: 2, title: 'dropped by the server' } });
    const three = await peek.ok('create', { url: '/todos', data: { id: 3, title: 'three' } });
    const [info] = await resynced;
    await until(() => list.get(2) && list.get(3), 'todos 2 and 3');
    assert.deepEqual(list.sortBy('id').map((m) => m.get('title')), ['one', 'dropped by the server', 'three']);
    assert.deepEqual(gaps, [{ url: '/todos', since: one.seq, prev: two.seq, seq: three.seq }]);
    assert.deepEqual(info.changes.map((c) => c.seq), [two.seq], 'the dropped change came back with the resubscribe');

    const faults = await faultRecords(server);
    assert.equal(faults.length, 1, JSON.stringify(faults));
    assert.equal(faults[0].rule, rule.id);
    assert.equal(faults[0].action, 'push_drop');
    assert.equal(faults[0].push_seq, two.seq, 'the record names the change whose push was dropped');
    assert.equal(faults[0].socket, a.socket.id);
    const { records: pushes } = await control(server, '/events?kinds=push_out&limit=100');
    const dropped = pushes.find((p) => p.args[0].seq === two.seq);
    assert.deepEqual(dropped.to, [], 'the push_out record leaves out the socket it was dropped for');
  });

  it('a duplicated push is applied once', async () => {
    const list = await listening();
    const gaps = [];
    a.realtime.on('gap', (gap) => gaps.push(gap));
    const seen = [];
    a.socket.on('change', (c) => seen.push(c.seq));
    const events = record(list);
    await addRule(server, { when: { url: '/todos' }, action: 'push_duplicate', times: 2 });
    const one = await peek.ok('create', { url: '/todos', data: { id: 1, title: 'twice on the wire' } });
    const upd = await peek.ok('update', { url: '/todos/1', data: { id: 1, title: 'changed, twice on the wire' } });
    const two = await peek.ok('create', { url: '/todos', data: { id: 2, title: 'once' } });
    await until(() => list.get(2), 'todo 2');
    assert.deepEqual(seen, [one.seq, one.seq, upd.seq, upd.seq, two.seq], 'the server sent the first two pushes twice');
    assert.deepEqual(list.pluck('title'), ['changed, twice on the wire', 'once']);
    assert.equal(events.names().filter((n) => n === 'add').length, 2, 'each model added once');
    assert.equal(events.names().filter((n) => n === 'change:title').length, 1, 'the update applied once');
    assert.deepEqual(gaps, [], 'a duplicate is not a gap');
    const faults = await faultRecords(server);
    assert.deepEqual(faults.map((f) => [f.action, f.push_seq]), [['push_duplicate', one.seq], ['push_duplicate', upd.seq]]);
  });

  it('a push held and sent after the next reaches the tab out of order, and the collection ends right', async () => {
    const list = await listening();
    const seen = [];
    a.socket.on('change', (c) => seen.push(c.seq));
    await addRule(server, { when: { url: '/todos' }, action: 'push_reorder', times: 1 });
    const one = await peek.ok('create', { url: '/todos', data: { id: 1, title: 'one' } });
    const two = await peek.ok('create', { url: '/todos', data: { id: 2, title: 'two' } });
    await until(() => seen.length >= 2, 'both pushes');
    assert.deepEqual(seen.slice(0, 2), [two.seq, one.seq], 'the held push came after the next one');
    await until(() => list.get(1) && list.get(2), 'todos 1 and 2');
    assert.deepEqual(list.sortBy('id').map((m) => m.get('title')), ['one', 'two']);
    const faults = await faultRecords(server);
    assert.deepEqual(faults.map((f) => [f.action, f.push_seq]), [['push_reorder', one.seq]]);
  });

  it('push delays draw their jitter from the fault seed: the same seed, the same delays', async () => {
    // Two fresh servers with one seed and one rule, the same five writes each.
    const delays = [];
    for (let round = 0; round < 2; round++) {
      if (a) a.close();
      peek.close();
      await server.stop();
      server = await start(['--fault-seed', '4242']);
      peek = raw(server);
      const list = await listening();
      await addRule(server, { when: { url: '/todos' }, action: 'push_delay', delay_ms: 150, jitter_ms: 100 });
      for (let i = 1; i <= 5; i++) await peek.ok('create', { url: '/todos', data: { id: i, title: `t${i}` } });
      await until(() => list.length === 5, 'all five todos, delayed');
      assert.deepEqual(list.sortBy('id').map((m) => m.get('title')), ['t1', 't2', 't3', 't4', 't5']);
      const faults = await faultRecords(server);
      assert.equal(faults.length, 5);
      const waited = faults.map((f) => f.waited_ms);
      for (const w of waited) assert.ok(w >= 50 && w <= 250, `150 ± 100 ms: ${w}`);
      delays.push(waited);
    }
    console.log(`  push delays drawn with seed 4242: ${delays[0].join(', ')} ms`);
    assert.deepEqual(delays[0], delays[1], 'the same seed gave the same delays');
    assert.ok(new Set(delays[0]).size > 1, `the jitter varies the delay: ${delays[0]}`);
  });
});

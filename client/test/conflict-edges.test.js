'use strict';
// The adapter's conflict edges that conflict.test.js leaves out (issue 14):
// the 'ours' retry cap against a conflict that keeps coming back, onConflict
// functions that answer with a promise or a string, a create of an id that
// exists, and the version of an ack that came after the request's timeout.
// Recurring conflicts and late acks are made by the real server's fault
// rules (docs/CONTROL-API.md, *Faults*), not by hand-made events.

const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { tab, raw, outcome, withTimeout, startServer, WAIT_MS } = require('../test-support');
const { controlStatus } = require('../../tests/support/server');

const TOKEN = 'conflict-edges-token-0123456789';

describe('conflict edges', { timeout: 60000 }, () => {
  let server, a, peek, list, model;

  async function control(pathname, body) {
    const res = await controlStatus(server, TOKEN, pathname, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }
  const addFault = (rule) => control('/command', { command: 'fault_add', rule });
  const faults = () => control('/faults');

  beforeEach(async () => {
    server = await startServer({ args: ['--token', TOKEN] });
    a = tab(server);
    peek = raw(server);
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'original', done: false } });
    list = new (a.Backbone.Collection.extend({ url: '/todos', realtime: true }))();
    await list.fetch();
    // Not listening: the concurrent write below must stay unseen, as if its
    // push were still on its way.
    list.stopRealtime();
    model = list.get(1);
  });
  afterEach(async () => {
    a.close();
    peek.close();
    await server.stop();
  });

  const stored = async () => (await peek.ok('read', { url: '/todos/1' }));
  const theyWrite = () => peek.ok('update', { url: '/todos/1', data: { id: 1, title: 'theirs', done: true }, version: 1 });

  it('gives up "ours" after 3 retries of a conflict that keeps coming back, and reports it', async () => {
    // Every update conflicts, carrying the stored model as a real one does.
    await addFault({ when: { event: 'update', url: '/todos' }, action: 'fail', code: 'conflict', message: 'someone keeps writing' });
    const result = await withTimeout(outcome((cb) => model.save({ title: 'ours' }, { onConflict: 'ours', ...cb })),
      WAIT_MS, 'the save to give up');
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'conflict');
    assert.deepEqual(result.error.current, { data: { id: 1, title: 'original', done: false }, version: 1 });
    const [rule] = await faults();
    assert.equal(rule.fired, 4, 'the save and 3 retries reached the server, then no more');
    assert.deepEqual((await stored()).data, { id: 1, title: 'original', done: false }, 'nothing was written');
    // The cap is per save: the next one (the conflicts gone) goes through.
    await control('/command', { command: 'fault_clear' });
    assert.ok((await outcome((cb) => model.save({ title: 'later' }, cb))).ok);
    assert.equal((await stored()).data.title, 'later');
  });

  it('waits for an onConflict promise of "ours", then writes over the server\'s version', async () => {
    await theyWrite();
    let settled = false;
    const onConflict = () => new Promise((resolve) => setTimeout(() => { settled = true; resolve('ours'); }, 50));
    const result = await outcome((cb) => model.save({ title: 'ours' }, { onConflict, ...cb }));
    assert.ok(result.ok, JSON.stringify(result.error));
    assert.ok(settled);
    const now = await stored();
    assert.deepEqual([now.data, now.version], [{ id: 1, title: 'ours', done: false }, 3]);
    assert.equal(a.realtime.version(model), 3);
  });

  it('writes a merge an onConflict promise resolves to', async () => {
    await theyWrite();
    const onConflict = async (error, m) => ({ ...error.current.data, title: `${m.get('title')} + ${error.current.data.title}` });
    const result = await outcome((cb) => model.save({ title: 'ours' }, { onConflict, ...cb }));
    assert.ok(result.ok, JSON.stringify(result.error));
    assert.deepEqual((await stored()).data, { id: 1, title: 'ours + theirs', done: true });
    assert.deepEqual(model.toJSON(), { id: 1, title: 'ours + theirs', done: true });
  });

  it('reports the conflict when an onConflict promise rejects, and surfaces the rejection', async () => {
    await theyWrite();
    // The adapter rethrows it outside the socket's packet handling, as an
    // uncaught exception: catch that one here instead of the test runner.
    const runners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    try {
      const surfaced = new Promise((resolve) => process.once('uncaughtException', resolve));
      const boom = new Error('merge failed');
      const result = await outcome((cb) => model.save({ title: 'ours' }, { onConflict: () => Promise.reject(boom), ...cb }));
      assert.equal(result.error.code, 'conflict');
      const thrown = await withTimeout(surfaced, WAIT_MS, 'the rejection to surface');
      assert.equal(thrown, boom);
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const fn of runners) process.on('uncaughtException', fn);
    }
    assert.equal((await stored()).data.title, 'theirs', 'nothing was written');
  });

  it('takes an onConflict function\'s "theirs" as the policy: the server\'s state and version, and the error', async () => {
    await theyWrite();
    const result = await outcome((cb) => model.save({ title: 'ours' }, { onConflict: () => 'theirs', ...cb }));
    assert.equal(result.error.code, 'conflict');
    assert.deepEqual(model.toJSON(), { id: 1, title: 'theirs', done: true });
    assert.equal(a.realtime.version(model), 2);
    assert.ok((await outcome((cb) => model.save({ title: 'next' }, cb))).ok, 'the next save is on the current version');
  });

  it('takes an onConflict function\'s "ours" as the policy: written over the server\'s version', async () => {
    await theyWrite();
    const result = await outcome((cb) => model.save({ title: 'ours' }, { onConflict: () => 'ours', ...cb }));
    assert.ok(result.ok, JSON.stringify(result.error));
    assert.deepEqual((await stored()).data, { id: 1, title: 'ours', done: false });
  });

  it('reports the conflict, changing nothing, when an onConflict function returns any other string', async () => {
    await theyWrite();
    const result = await outcome((cb) => model.save({ title: 'ours' }, { onConflict: () => 'mine', ...cb }));
    assert.equal(result.error.code, 'conflict');
    assert.equal(model.get('title'), 'ours', 'the model keeps the local edit');
    assert.equal(a.realtime.version(model), 1, 'the stale version is kept: a retry conflicts until the app decides');
    assert.equal((await stored()).data.title, 'theirs');
  });

  // Backbone sends `create` only for a model that isNew(): an app that
  // makes its ids on the client (uuids) says so with its own isNew().
  const WithClientIds = () => a.Backbone.Collection.extend({
    url: '/todos',
    realtime: true,
    model: a.Backbone.Model.extend({
      isNew() { return !this.stored; },
      initialize() { this.on('sync', () => { this.stored = true; }); },
    }),
  });

  it('with "theirs", a create of an existing id takes the stored model and its version, and reports the conflict', async () => {
    await theyWrite();
    const other = new (WithClientIds())();
    const result = await outcome((cb) => other.create({ id: 1, title: 'a new one' }, { onConflict: 'theirs', ...cb }));
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'conflict');
    const created = other.get(1);
    assert.deepEqual(created.toJSON(), { id: 1, title: 'theirs', done: true });
    assert.deepEqual((await stored()).data, { id: 1, title: 'theirs', done: true }, 'the create wrote nothing');
    // It is the stored model now (the app says so): its next save updates
    // it, on the version the conflict taught.
    created.stored = true;
    assert.equal(a.realtime.version(created), 2);
    const saved = await outcome((cb) => created.save({ title: 'edited' }, cb));
    assert.ok(saved.ok, JSON.stringify(saved.error));
    assert.deepEqual((await stored()).data, { id: 1, title: 'edited', done: true });
  });

  it('with "ours", a create of an existing id is not forced: the conflict is reported and nothing written', async () => {
    const other = new (WithClientIds())();
    const sent = [];
    a.socket.onAnyOutgoing((event) => sent.push(event));
    const result = await outcome((cb) => other.create({ id: 1, title: 'a new one' }, { onConflict: 'ours', ...cb }));
    assert.equal(result.error.code, 'conflict');
    assert.deepEqual(sent, ['create'], 'sent once, not retried');
    const now = await stored();
    assert.deepEqual([now.data, now.version], [{ id: 1, title: 'original', done: false }, 1]);
  });

  it('remembers the version of an ack that came after the timeout, so the next save does not conflict', async () => {
    await addFault({ when: { event: 'update', url: '/todos' }, action: 'delay', ms: 1000, times: 1 });
    const late = await outcome((cb) => model.save({ title: 'slow' }, { timeout: 50, ...cb }));
    assert.equal(late.error.code, 'timeout');
    assert.equal(a.realtime.version(model), 1, 'not answered yet');
    // The server answers one socket's requests in order: once a read on the
    // same socket is answered, the late ack has arrived before it.
    await withTimeout(new Promise((resolve) => a.socket.emit('read', { url: '/elsewhere' }, resolve)), WAIT_MS, 'a read behind the late ack');
    assert.equal((await stored()).version, 2, 'the slow save was applied');
    assert.equal(a.realtime.version(model), 2, 'the late ack taught its version');
    const result = await outcome((cb) => model.save({ title: 'after' }, cb));
    assert.ok(result.ok, JSON.stringify(result.error));
    assert.equal((await stored()).version, 3);
  });
});

'use strict';
// Optimistic concurrency: the adapter sends the version it knows; a stale
// one comes back as a `conflict` error carrying the server's model, which
// the app sees, or which `onConflict` resolves.

const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { tab, raw, outcome, startServer } = require('../test-support');

describe('conflicts', { timeout: 60000 }, () => {
  let server, a, peek, list, model;

  beforeEach(async () => {
    server = await startServer();
    a = tab(server);
    peek = raw(server);
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'original', done: false } });
    list = new (a.Backbone.Collection.extend({ url: '/todos', realtime: true }))();
    await list.fetch();
    // Not listening: the concurrent write below must stay unseen, as if its
    // push were still on its way.
    list.stopRealtime();
    model = list.get(1);
    await peek.ok('update', { url: '/todos/1', data: { title: 'theirs', done: true }, version: 1 });
  });
  afterEach(async () => {
    a.close();
    peek.close();
    await server.stop();
  });

  const stored = async () => (await peek.ok('read', { url: '/todos/1' }));

  it('fails a save over a stale version with a conflict error that carries the server\'s current model', async () => {
    let eventError;
    model.on('error', (m, e) => { eventError = e; });
    const result = await outcome((cb) => model.save({ title: 'ours' }, cb));
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'conflict');
    assert.deepEqual(result.error.current, { data: { id: 1, title: 'theirs', done: true }, version: 2 });
    assert.equal(eventError, result.error);
    assert.equal((await stored()).data.title, 'theirs', 'nothing was written');
  });

  it('keeps conflicting until the app resolves: fetch() takes the server state and the next save succeeds', async () => {
    assert.equal((await outcome((cb) => model.save({ title: 'ours' }, cb))).error.code, 'conflict');
    assert.equal((await outcome((cb) => model.save({ title: 'ours again' }, cb))).error.code, 'conflict');
    await model.fetch();
    assert.equal(model.get('title'), 'theirs');
    const result = await outcome((cb) => model.save({ title: 'after fetch' }, cb));
    assert.ok(result.ok);
    assert.equal((await stored()).version, 3);
  });

  it('with onConflict: "theirs", takes the server state and version, still reporting the conflict', async () => {
    const result = await outcome((cb) => model.save({ title: 'ours' }, { onConflict: 'theirs', ...cb }));
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'conflict');
    assert.deepEqual(model.toJSON(), { id: 1, title: 'theirs', done: true });
    assert.equal(a.realtime.version(model), 2);
    const next = await outcome((cb) => model.save({ title: 'next' }, cb));
    assert.ok(next.ok, 'the next save is on the current version');
  });

  it('with onConflict: "ours", writes again over the server\'s version and succeeds', async () => {
    const result = await outcome((cb) => model.save({ title: 'ours' }, { onConflict: 'ours', ...cb }));
    assert.ok(result.ok, JSON.stringify(result.error));
    const now = await stored();
    assert.equal(now.data.title, 'ours');
    assert.equal(now.version, 3);
    assert.equal(a.realtime.version(model), 3);
  });

  it('takes onConflict from the object when the call does not give it', async () => {
    list.onConflict = 'ours';
    const result = await outcome((cb) => model.save({ title: 'ours' }, cb));
    assert.ok(result.ok);
    assert.equal((await stored()).data.title, 'ours');
  });

  it('with an onConflict function returning merged attributes, saves the merge over the server\'s version', async () => {
    let called;
    const onConflict = (error, m) => {
      called = { code: error.code, model: m };
      return { ...error.current.data, title: `${m.get('title')} + ${error.current.data.title}` };
    };
    const result = await outcome((cb) => model.save({ title: 'ours' }, { onConflict, ...cb }));
    assert.ok(result.ok);
    assert.equal(called.code, 'conflict');
    assert.equal(called.model, model);
    assert.deepEqual((await stored()).data, { id: 1, title: 'ours + theirs', done: true });
    assert.equal(model.get('title'), 'ours + theirs');
  });

  it('with an onConflict function returning nothing, reports the conflict', async () => {
    const result = await outcome((cb) => model.save({ title: 'ours' }, { onConflict: () => undefined, ...cb }));
    assert.equal(result.error.code, 'conflict');
  });

  it('refuses to destroy over a stale version, and onConflict: "theirs" brings the model back into its collection', async () => {
    const refused = await outcome((cb) => model.destroy(cb));
    assert.equal(refused.error.code, 'conflict');
    assert.equal(list.get(1), undefined, 'destroy without wait removed it locally');
    list.add(model);
    const restored = await outcome((cb) => model.destroy({ onConflict: 'theirs', ...cb }));
    assert.equal(restored.error.code, 'conflict');
    assert.equal(list.get(1), model);
    assert.equal(model.get('title'), 'theirs');
    assert.equal((await stored()).version, 2);
  });

  it('patches over a stale version only with onConflict: "ours"', async () => {
    const refused = await outcome((cb) => model.save({ done: false }, { patch: true, ...cb }));
    assert.equal(refused.error.code, 'conflict');
    const forced = await outcome((cb) => model.save({ done: false }, { patch: true, onConflict: 'ours', ...cb }));
    assert.ok(forced.ok);
    assert.deepEqual((await stored()).data, { id: 1, title: 'theirs', done: false });
  });
});

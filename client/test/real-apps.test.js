'use strict';
// Patterns of real apps (issue 16, adapter side): a custom `idAttribute`,
// attributes removed by an update reaching other tabs, and writes too big
// for the server refused without losing the connection.

const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { tab, raw, record, next, until, startServer, connected, outcome } = require('../test-support');

describe('real apps', { timeout: 60000 }, () => {
  let server, a, b, peek;

  beforeEach(async () => {
    server = await startServer();
    a = tab(server);
    b = tab(server);
    peek = raw(server);
  });
  afterEach(async () => {
    a.close();
    b.close();
    peek.close();
    await server.stop();
  });

  const serverState = async (url = '/todos') => (await peek.ok('read', { url })).data;
  const save = (model, attrs, options = {}) => new Promise((resolve, reject) =>
    model.save(attrs, { ...options, success: resolve, error: (m, e) => reject(e) }));

  describe('an app whose models use idAttribute "_id"', () => {
    const Todos = (t) => {
      const Todo = t.Backbone.Model.extend({ idAttribute: '_id' });
      return t.Backbone.Collection.extend({ url: '/todos', realtime: true, model: Todo });
    };

    it('creates, saves, patches and destroys, and another tab follows with no duplicates', async () => {
      const mine = new (Todos(a))();
      const theirs = new (Todos(b))();
      await mine.fetch();
      await theirs.fetch();

      const added = next(theirs, 'add');
      const model = await new Promise((resolve) => mine.create({ title: 'mongo' }, { success: resolve }));
      assert.ok(model.id, 'the server\'s id is the model\'s id');
      assert.equal(model.isNew(), false);
      assert.equal(model.get('_id'), model.id);
      assert.equal(model.has('id'), false, 'the wire\'s spelling stays off the model');
      const [pushed] = await added;
      assert.equal(pushed.id, model.id);
      assert.equal(pushed.has('id'), false);

      // The server keeps it under `id`, as every other client sees it.
      const stored = await serverState();
      assert.deepEqual(stored, [{ id: model.id, title: 'mongo' }]);

      // A second save is an update (not a second create, which conflicted).
      const changed = next(theirs.get(model.id), 'change:title');
      await save(model, { title: 'saved' });
      await changed;
      await save(model, { done: true }, { patch: true });
      await until(() => theirs.get(model.id).get('done') === true, 'the patch in the other tab');
      assert.equal(a.realtime.version(model), 3);

      // destroy sends a delete and the other tab loses it.
      const removed = next(theirs, 'remove');
      await new Promise((resolve, reject) => model.destroy({ wait: true, success: resolve, error: (m, e) => reject(e) }));
      await removed;
      assert.deepEqual(await serverState(), []);
      assert.equal(theirs.length, 0);
      assert.equal(mine.length, 0);
    });

    it('reads models written by others, with their ids in _id, and fetches one by its _id', async () => {
      await peek.ok('create', { url: '/todos', data: { id: 'abc', title: 'from elsewhere' } });
      const mine = new (Todos(a))();
      await mine.fetch();
      assert.deepEqual(mine.toJSON(), [{ _id: 'abc', title: 'from elsewhere' }]);
      const one = mine.get('abc');
      await peek.ok('update', { url: '/todos/abc', data: { title: 'changed' } });
      await until(() => one.get('title') === 'changed', 'the pushed update');
      await new Promise((resolve, reject) => one.fetch({ success: resolve, error: (m, e) => reject(e) }));
      assert.deepEqual(one.toJSON(), { _id: 'abc', title: 'changed' });
    });

    it('gives a conflict\'s current model with its id in _id, and resolves "theirs" and "ours" on it', async () => {
      const mine = new (Todos(a))();
      await mine.fetch();
      const model = await new Promise((resolve) => mine.create({ title: 'a' }, { wait: true, success: resolve }));
      // Another client writes; once its push is in, this tab's version is
      // made stale, as if the push had not arrived yet.
      const stale = async (title) => {
        await peek.ok('update', { url: `/todos/${model.id}`, data: { title } });
        await until(() => model.get('title') === title, `the push of "${title}"`);
        a.realtime._known()[`/todos/${model.id}`].version -= 1;
      };
      await stale('theirs');
      const conflict = await outcome((o) => model.save({ title: 'mine' }, { ...o, onConflict: 'theirs' }));
      assert.equal(conflict.error.code, 'conflict');
      assert.deepEqual(conflict.error.current.data, { _id: model.id, title: 'theirs' });
      assert.deepEqual(model.toJSON(), { _id: model.id, title: 'theirs' });
      await stale('theirs again');
      await save(model, { title: 'merged' }, {
        onConflict: (err) => ({ ...err.current.data, title: `${err.current.data.title} + mine` }),
      });
      const stored = await serverState();
      assert.deepEqual(stored, [{ id: model.id, title: 'theirs again + mine' }]);
    });

    it('refuses a model that has an "id" attribute beside its "_id", saying why', async () => {
      const mine = new (Todos(a))();
      await mine.fetch();
      const result = await outcome((o) => mine.create({ id: 1, title: 'both' }, { ...o, wait: true }));
      assert.equal(result.ok, false);
      assert.equal(result.error.code, 'bad_request');
      assert.match(result.error.message, /idAttribute "_id"/);
      assert.deepEqual(await serverState(), []);
    });
  });

  describe('an update replaces the model', () => {
    const Todos = (t, extra = {}) => t.Backbone.Collection.extend({ url: '/todos', realtime: true, ...extra });

    it('unset + save removes the attribute in the other tab, with change:attr', async () => {
      await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a', tags: ['x'] } });
      const mine = new (Todos(a))();
      const theirs = new (Todos(b))();
      await Promise.all([mine.fetch(), theirs.fetch()]);
      const events = record(theirs.get(1));
      const untagged = next(theirs.get(1), 'change:tags');
      mine.get(1).unset('tags');
      await save(mine.get(1));
      const [, value, options] = await untagged;
      assert.equal(value, undefined);
      assert.equal(options.realtime, true);
      assert.deepEqual(theirs.get(1).toJSON(), { id: 1, title: 'a' });
      assert.deepEqual(events.names(), ['change:tags', 'change'], 'one change event');
      assert.deepEqual(await serverState(), [{ id: 1, title: 'a' }]);
    });

    it('a partial save({attrs}) leaves the writer and the other tab equal to a fresh read', async () => {
      await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a', done: false, order: 1 } });
      const mine = new (Todos(a))();
      const theirs = new (Todos(b))();
      await Promise.all([mine.fetch(), theirs.fetch()]);
      const changed = next(theirs.get(1), 'change');
      await save(mine.get(1), null, { attrs: { title: 'only the title' } });
      await changed;
      const fresh = await serverState();
      assert.deepEqual(fresh, [{ id: 1, title: 'only the title' }]);
      assert.deepEqual(mine.toJSON(), fresh);
      assert.deepEqual(theirs.toJSON(), fresh);
    });

    it('a pushed patch merges: attributes the patch does not name are kept', async () => {
      await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
      const theirs = new (Todos(b))();
      await theirs.fetch();
      theirs.get(1).set({ selected: true }); // local-only
      await peek.ok('patch', { url: '/todos/1', data: { done: true } });
      await until(() => theirs.get(1).get('done') === true, 'the pushed patch');
      assert.equal(theirs.get(1).get('selected'), true);
      // whereas an update drops it
      await peek.ok('update', { url: '/todos/1', data: { title: 'b' } });
      await until(() => theirs.get(1).get('title') === 'b', 'the pushed update');
      assert.deepEqual(theirs.get(1).toJSON(), { id: 1, title: 'b' });
    });

    it('with updates: "merge", a pushed update leaves local-only attributes be', async () => {
      await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
      const theirs = new (Todos(b, { updates: 'merge' }))();
      await theirs.fetch();
      theirs.get(1).set({ selected: true });
      await peek.ok('update', { url: '/todos/1', data: { title: 'b' } });
      await until(() => theirs.get(1).get('title') === 'b', 'the pushed update');
      assert.equal(theirs.get(1).get('selected'), true);
    });

    it('a followed single model drops what an update removed', async () => {
      await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a', tags: ['x'] } });
      const Todo = b.Backbone.Model.extend({ urlRoot: '/todos', realtime: true });
      const single = new Todo({ id: 1 });
      await single.fetch();
      const untagged = next(single, 'change:tags');
      await peek.ok('update', { url: '/todos/1', data: { title: 'a' } });
      await untagged;
      assert.deepEqual(single.toJSON(), { id: 1, title: 'a' });
    });
  });

  describe('size limits', () => {
    const Todos = (t) => t.Backbone.Collection.extend({ url: '/todos', realtime: true });

    it('refuses a 2 MB write with too_large without sending it; requests beside it succeed and the socket stays up', async () => {
      // A --max-data above the transport's limit: the message limit is what refuses.
      await server.stop();
      server = await startServer({ args: ['--max-data', '4000000'] });
      a.close();
      peek.close();
      a = tab(server);
      peek = raw(server);
      const mine = new (Todos(a))();
      await mine.fetch();
      await connected(a.socket);
      const sent = [];
      a.socket.onAnyOutgoing((event) => sent.push(event));
      let disconnected = false;
      a.socket.on('disconnect', () => { disconnected = true; });

      const before = outcome((o) => mine.create({ title: 'before' }, { ...o, wait: true }));
      const big = outcome((o) => mine.create({ blob: 'x'.repeat(2 * 1024 * 1024) }, { ...o, wait: true }));
      const after = outcome((o) => mine.create({ title: 'after' }, { ...o, wait: true }));
      const [r1, r2, r3] = await Promise.all([before, big, after]);
      assert.equal(r1.ok, true);
      assert.equal(r3.ok, true);
      assert.equal(r2.ok, false);
      assert.equal(r2.error.code, 'too_large');
      assert.equal(r2.error.limit, 1000000);
      assert.deepEqual(sent, ['create', 'create'], 'the big one never left');
      assert.equal(disconnected, false);
      assert.equal(a.socket.connected, true);
      assert.deepEqual((await serverState()).map((m) => m.title), ['before', 'after']);
    });

    it('knows the server\'s --max-data from the subscribe answer, and refuses the first too-large write locally', async () => {
      await server.stop();
      server = await startServer({ args: ['--max-data', '1000'] });
      a.close();
      peek.close();
      a = tab(server);
      peek = raw(server);
      const mine = new (Todos(a))();
      await mine.fetch();
      const sent = [];
      a.socket.onAnyOutgoing((event) => sent.push(event));
      const first = await outcome((o) => mine.create({ blob: 'x'.repeat(2000) }, { ...o, wait: true }));
      assert.equal(first.error.code, 'too_large');
      assert.equal(first.error.limit, 1000);
      assert.deepEqual(sent, [], 'refused before sending');
      const small = await outcome((o) => mine.create({ title: 'small' }, { ...o, wait: true }));
      assert.equal(small.ok, true);
    });

    it('learns --max-data from a too_large when nothing subscribed yet, and refuses the next locally', async () => {
      await server.stop();
      server = await startServer({ args: ['--max-data', '1000'] });
      a.close();
      peek.close();
      a = tab(server);
      peek = raw(server);
      // A lone model, saved before anything subscribed: no subscribe answer yet.
      const Todo = a.Backbone.Model.extend({ urlRoot: '/todos', realtime: true });
      await connected(a.socket);
      const sent = [];
      a.socket.onAnyOutgoing((event) => sent.push(event));
      const first = await outcome((o) => new Todo().save({ blob: 'x'.repeat(2000) }, o));
      assert.equal(first.error.code, 'too_large');
      assert.equal(first.error.limit, 1000);
      assert.deepEqual(sent, ['create']);
      const second = await outcome((o) => new Todo().save({ blob: 'y'.repeat(2000) }, o));
      assert.equal(second.error.code, 'too_large');
      assert.deepEqual(sent, ['create'], 'the second was refused locally');
    });
  });
});

'use strict';
// Every CRUD path of Backbone.sync over the socket, success and error,
// against the real server: the adapter must honour the Backbone.sync
// contract exactly as the REST sync does.

const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { tab, raw, record, outcome, startServer, sleep, connected } = require('../test-support');

describe('CRUD over the socket', { timeout: 60000 }, () => {
  let server, a, peek;

  beforeEach(async () => {
    server = await startServer();
    a = tab(server);
    peek = raw(server);
  });
  afterEach(async () => {
    a.close();
    peek.close();
    await server.stop();
  });

  function todos(extra = {}) {
    const Todos = a.Backbone.Collection.extend({ url: '/todos', realtime: true, ...extra });
    return new Todos();
  }

  it('fetches a collection from the server, triggering request then sync once, and resolves the returned promise', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'one' } });
    await peek.ok('create', { url: '/todos', data: { id: 2, title: 'two' } });
    const list = todos();
    const events = record(list);
    const promise = list.fetch();
    assert.equal(typeof promise.then, 'function', 'fetch returns a thenable');
    const data = await promise;
    assert.deepEqual(data, [{ id: 1, title: 'one' }, { id: 2, title: 'two' }]);
    assert.deepEqual(list.toJSON(), [{ id: 1, title: 'one' }, { id: 2, title: 'two' }]);
    await sleep(50);
    const names = events.names();
    assert.equal(names[0], 'request');
    assert.equal(names.filter((n) => n === 'sync').length, 1, `one sync, got ${names}`);
    assert.equal(names.filter((n) => n === 'add').length, 2);
  });

  it('passes the promise as the xhr of the request event and of options', async () => {
    const list = todos();
    let seen;
    list.on('request', (model, xhr, options) => { seen = { model, xhr, options }; });
    const promise = list.fetch();
    assert.equal(seen.model, list);
    assert.equal(seen.xhr, promise);
    assert.equal(seen.options.xhr, promise);
    await promise;
  });

  it('remembers the versions a collection read carries, to send them with the next write', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 7, title: 'x' } });
    await peek.ok('update', { url: '/todos/7', data: { title: 'y' } });
    const list = todos();
    await list.fetch();
    assert.equal(a.realtime.version(list.get(7)), 2);
  });

  it('creates a model through collection.create, takes the server-assigned id and version 1', async () => {
    const list = todos();
    const model = list.create({ title: 'buy milk' }, { wait: true });
    const [, , options] = await new Promise((resolve) => model.once('sync', (...args) => resolve(args)));
    assert.ok(options);
    assert.equal(typeof model.id, 'string');
    assert.equal(list.length, 1);
    assert.equal(a.realtime.version(model), 1);
    const stored = await peek.ok('read', { url: `/todos/${model.id}`, data: { id: model.id } });
    assert.deepEqual(stored.data, { id: model.id, title: 'buy milk' });
  });

  it('keeps a client-given id on create', async () => {
    const model = new (a.Backbone.Model.extend({ urlRoot: '/todos', realtime: true }))({ title: 'a' });
    await model.save(null, { url: '/todos' });
    assert.equal(typeof model.id, 'string');
    const list = todos();
    const given = list.create({ id: 42, title: 'numbered' }, { wait: true });
    await new Promise((resolve) => given.once('sync', resolve));
    const stored = await peek.ok('read', { url: '/todos/42' });
    assert.equal(stored.data.id, 42);
  });

  it('updates a model with save, sending the version it knows, and the server version grows', async () => {
    const list = todos();
    await list.fetch();
    const model = await new Promise((resolve) => list.create({ title: 'a' }, { success: resolve }));
    const sent = [];
    const emit = a.socket.emit;
    a.socket.emit = function (event, payload, ...rest) { sent.push([event, payload]); return emit.call(this, event, payload, ...rest); };
    await model.save({ title: 'b' });
    assert.deepEqual(sent[0], ['update', { url: `/todos/${model.id}`, data: { title: 'b', id: model.id }, version: 1 }]);
    assert.equal(a.realtime.version(model), 2);
    const stored = await peek.ok('read', { url: `/todos/${model.id}` });
    assert.equal(stored.data.title, 'b');
    assert.equal(stored.version, 2);
  });

  it('sends only the changed attributes with save({patch: true}) and merges the whole model the server returns', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a', done: false } });
    const list = todos();
    await list.fetch();
    await peek.ok('patch', { url: '/todos/1', data: { note: 'added elsewhere' }, version: 1 });
    const model = list.get(1);
    const sent = [];
    const emit = a.socket.emit;
    a.socket.emit = function (event, payload, ...rest) { sent.push([event, payload]); return emit.call(this, event, payload, ...rest); };
    const result = await outcome((cb) => model.save({ done: true }, { patch: true, ...cb, onConflict: 'ours' }));
    assert.ok(result.ok, JSON.stringify(result.error));
    assert.deepEqual(sent[0][1].data, { done: true }, 'only the changed attribute travels');
    assert.equal(sent[0][0], 'patch');
    assert.deepEqual(model.toJSON(), { id: 1, title: 'a', done: true, note: 'added elsewhere' });
  });

  it('with wait: true, leaves the model unchanged until the server agrees, and unchanged when it refuses', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    const list = todos();
    await list.fetch();
    list.stopRealtime(); // so that the write below is not pushed into it
    const model = list.get(1);
    const saving = model.save({ title: 'b' }, { wait: true });
    assert.equal(model.get('title'), 'a');
    await saving;
    assert.equal(model.get('title'), 'b');

    await peek.ok('update', { url: '/todos/1', data: { title: 'elsewhere' } });
    const refused = await outcome((cb) => model.save({ title: 'c' }, { wait: true, ...cb }));
    assert.equal(refused.ok, false);
    assert.equal(refused.error.code, 'conflict');
    assert.equal(model.get('title'), 'b');
  });

  it('sends two quick saves of one model one after the other, without conflicting with itself', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    const list = todos();
    await list.fetch();
    const results = await Promise.all([
      outcome((cb) => list.get(1).save({ title: 'b' }, cb)),
      outcome((cb) => list.get(1).save({ title: 'c' }, cb)),
      outcome((cb) => list.get(1).save({ done: true }, { patch: true, ...cb })),
    ]);
    assert.deepEqual(results.map((r) => r.ok), [true, true, true]);
    const stored = await peek.ok('read', { url: '/todos/1' });
    assert.deepEqual(stored.data, { id: 1, title: 'c', done: true });
    assert.equal(stored.version, 4);
  });

  it('fetches a single model by its url, sending its id', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 'x1', title: 'one' } });
    const Todo = a.Backbone.Model.extend({ urlRoot: '/todos', realtime: true });
    const model = new Todo({ id: 'x1' });
    const sent = [];
    const emit = a.socket.emit;
    a.socket.emit = function (event, payload, ...rest) { sent.push([event, payload]); return emit.call(this, event, payload, ...rest); };
    await model.fetch();
    assert.deepEqual(sent[0], ['read', { url: '/todos/x1', data: { id: 'x1' } }]);
    assert.equal(model.get('title'), 'one');
    assert.equal(a.realtime.version(model), 1);
  });

  it('destroys a model on the server and removes it from its collection', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    const list = todos();
    await list.fetch();
    const model = list.get(1);
    const events = record(model);
    await model.destroy({ wait: true });
    assert.equal(list.length, 0);
    assert.deepEqual(events.names().filter((n) => n !== 'remove'), ['request', 'destroy', 'sync', 'sent']);
    const gone = await peek.ask('read', { url: '/todos/1', data: { id: 1 } });
    assert.equal(gone.err.code, 'not_found');
  });

  it('destroys a new model without sending anything, as with REST', async () => {
    const list = todos();
    const model = list.add({ title: 'never saved' });
    const sent = [];
    const emit = a.socket.emit;
    a.socket.emit = function (event, ...rest) { sent.push(event); return emit.call(this, event, ...rest); };
    const result = await outcome((cb) => model.destroy(cb));
    assert.ok(result.ok);
    await sleep(50);
    assert.deepEqual(sent, []);
    assert.equal(list.length, 0);
  });

  it('replaces the collection with fetch({reset: true}), triggering reset and no add', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    const list = todos();
    list.add({ id: 99, title: 'local only' });
    const events = record(list);
    await list.fetch({ reset: true });
    assert.deepEqual(list.pluck('id'), [1]);
    assert.ok(events.names().includes('reset'));
    assert.ok(!events.names().includes('add'));
  });

  it('runs the collection parse and the model parse on what the server returns', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, wrapped: { title: 'a' } } });
    const Todo = a.Backbone.Model.extend({
      parse(resp) { return resp.wrapped ? { id: resp.id, title: resp.wrapped.title } : resp; },
    });
    const list = todos({
      model: Todo,
      parse(resp) { return resp.map((item) => ({ ...item, parsed: true })); },
    });
    await list.fetch();
    assert.equal(list.get(1).get('title'), 'a');
    const model = list.get(1);
    await model.fetch();
    assert.equal(model.get('title'), 'a');
  });

  it('delivers a server error intact to options.error, the error event and the rejected promise', async () => {
    const Todo = a.Backbone.Model.extend({ urlRoot: '/todos', realtime: true });
    const model = new Todo({ id: 'missing' });
    let eventError;
    model.on('error', (m, error) => { eventError = error; });
    let optionsError;
    const promise = model.fetch({ error: (m, error) => { optionsError = error; } });
    const rejected = await promise.then(() => null, (e) => e);
    assert.equal(rejected.code, 'not_found');
    assert.equal(rejected.url, '/todos/missing');
    assert.equal(optionsError, rejected);
    assert.equal(eventError, rejected);
    assert.equal(typeof rejected.message, 'string');
  });

  it('fails an update of a missing model with a known version as not_found', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    const list = todos();
    await list.fetch();
    list.stopRealtime(); // so that the delete below is not pushed into it
    await peek.ok('delete', { url: '/todos/1' });
    const result = await outcome((cb) => list.get(1).save({ title: 'b' }, cb));
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'not_found');
  });

  it('reports a bad url as bad_request', async () => {
    const Bad = a.Backbone.Collection.extend({ url: '/todos?x=1', realtime: true });
    const result = await outcome((cb) => new Bad().fetch(cb));
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'bad_request');
    assert.equal(result.error.field, 'url');
  });

  it('reports data over the server limit as too_large', async () => {
    const list = todos();
    const result = await outcome((cb) => list.create({ blob: 'x'.repeat(300 * 1024) }, { wait: true, ...cb }));
    assert.equal(result.ok, false);
    assert.equal(result.error.code, 'too_large');
    assert.ok(result.error.limit > 0);
  });

  it('rejects with the error while never throwing an unhandled rejection when only options.error is used', async () => {
    let unhandled = null;
    const onUnhandled = (reason) => { unhandled = reason; };
    process.on('unhandledRejection', onUnhandled);
    try {
      const Todo = a.Backbone.Model.extend({ urlRoot: '/todos', realtime: true });
      const result = await outcome((cb) => new Todo({ id: 'nope' }).fetch(cb));
      assert.equal(result.error.code, 'not_found');
      await sleep(50);
      assert.equal(unhandled, null);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('offers jQuery-style done, fail and always on the returned promise', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    const list = todos();
    const calls = [];
    await new Promise((resolve) => {
      list.fetch().done((data) => calls.push(['done', data.length])).always(() => { calls.push(['always']); resolve(); });
    });
    await new Promise((resolve) => {
      new (a.Backbone.Model.extend({ urlRoot: '/todos', realtime: true }))({ id: 'no' })
        .fetch().fail((e) => { calls.push(['fail', e.code]); resolve(); });
    });
    assert.deepEqual(calls, [['done', 1], ['always'], ['fail', 'not_found']]);
  });

  it('uses a model\'s collection to decide it is realtime, and the realtime constructor option too', async () => {
    await connected(a.socket);
    const list = new a.Backbone.Collection([], { realtime: true });
    list.url = '/todos';
    const model = await new Promise((resolve) => list.create({ title: 'through option' }, { success: resolve }));
    const stored = await peek.ok('read', { url: '/todos' });
    assert.deepEqual(stored.data.map((m) => m.title), ['through option']);
    const single = new a.Backbone.Model({ title: 'solo' }, { realtime: true });
    single.urlRoot = '/notes';
    await single.save();
    assert.equal((await peek.ok('read', { url: '/notes' })).data.length, 1);
    assert.ok(model.id);
  });
});

describe('objects that are not realtime', { timeout: 60000 }, () => {
  let server, a;
  beforeEach(async () => { server = await startServer(); a = tab(server); });
  afterEach(async () => { a.close(); await server.stop(); });

  it('keep the original Backbone.sync, kept as Backbone.realtime.ajaxSync', async () => {
    const calls = [];
    a.Backbone.ajax = (params) => { calls.push(params); params.success([{ id: 1 }]); return { fake: 'xhr' }; };
    const plain = new (a.Backbone.Collection.extend({ url: '/rest/todos' }))();
    const xhr = plain.fetch();
    assert.deepEqual(xhr, { fake: 'xhr' });
    assert.equal(calls.length, 1);
    assert.equal(calls[0].url, '/rest/todos');
    assert.equal(plain.length, 1);
    assert.equal(typeof a.realtime.ajaxSync, 'function');
    assert.notEqual(a.realtime.ajaxSync, a.Backbone.sync);
  });

  it('a realtime object goes through ajax for one call given {realtime: false}', async () => {
    const calls = [];
    a.Backbone.ajax = (params) => { calls.push(params.url); params.success([]); return {}; };
    const list = new (a.Backbone.Collection.extend({ url: '/todos', realtime: true }))();
    await new Promise((resolve) => list.fetch({ realtime: false, success: resolve }));
    assert.deepEqual(calls, ['/todos']);
  });

  it('a model that sets realtime: false stays on ajax inside a realtime collection', async () => {
    const calls = [];
    a.Backbone.ajax = (params) => { calls.push([params.type, params.url]); params.success({ id: 5 }); return {}; };
    const Rest = a.Backbone.Model.extend({ realtime: false });
    const list = new (a.Backbone.Collection.extend({ url: '/todos', realtime: true, model: Rest }))();
    await new Promise((resolve) => list.create({ title: 'x' }, { success: resolve }));
    assert.deepEqual(calls, [['POST', '/todos']]);
  });
});

'use strict';
// The iobind dialect (docs/PROTOCOL.md): the unchanged npm package
// backbone.iobind 0.4.9 with real Backbone and jQuery (in jsdom), and a real
// socket.io-client 4 as `window.socket`, against the real server binary.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('../support/server');
const { ioV4, connected, ack, recorder, withTimeout, sleep, closeAll } = require('./lib/clients');
const { backbonePage, backboneCall } = require('./lib/backbone');

function connect(url) {
  return ioV4(url, { transports: ['websocket'], forceNew: true, reconnection: false });
}

// ioBind()s `event` on a Backbone model or collection and records what it hears.
function ioBindRecorder(target, event) {
  const seen = [];
  const waiters = [];
  target.ioBind(event, (...args) => {
    seen.push(args);
    for (const w of waiters.slice()) {
      if (seen.length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(seen[w.count - 1]);
      }
    }
  });
  return {
    seen,
    // Resolves with the arguments of the n-th event heard.
    nth(count) {
      if (seen.length >= count) return Promise.resolve(seen[count - 1]);
      return withTimeout(new Promise((resolve) => waiters.push({ count, resolve })), 5000,
        `ioBind '${event}' event #${count} (heard ${seen.length})`);
    },
  };
}

// A model read in the native dialect; `data.id` makes it a model read even
// when the model does not exist (then it fails with not_found).
async function nativeRead(socket, collectionUrl, id) {
  return ack(socket, 'read', { url: `${collectionUrl}/${encodeURIComponent(id)}`, data: { id } });
}

// Backbone runs inside the jsdom realm; compare its objects as plain JSON.
function plain(value) {
  return JSON.parse(JSON.stringify(value));
}

for (const collectionUrl of ['todos', '/todos']) {
  describe(`backbone.iobind with a collection whose url is '${collectionUrl}'`, () => {
    let server;
    let native; // a plain socket.io-client speaking the native dialect
    let writerSocket;
    let listenerSocket;
    let writerPage;
    let listenerPage;

    before(async () => {
      server = await startServer();
      native = connect(server.url);
      writerSocket = connect(server.url);
      listenerSocket = connect(server.url);
      await Promise.all([connected(native), connected(writerSocket), connected(listenerSocket)]);
      writerPage = backbonePage(writerSocket);
      listenerPage = backbonePage(listenerSocket);
    });

    after(async () => {
      closeAll(native, writerSocket, listenerSocket);
      if (writerPage) writerPage.close();
      if (listenerPage) listenerPage.close();
      if (server) await server.stop();
    });

    function collectionIn(page) {
      const Todos = page.Backbone.Collection.extend({ url: collectionUrl });
      return new Todos();
    }

    it('fetches into a collection the models another client created', async () => {
      const [err] = await ack(native, 'create', { url: '/todos', data: { id: 'first', title: 'Created natively' } });
      assert.equal(err, null);

      const todos = collectionIn(writerPage);
      const response = await backboneCall('collection.fetch()', (o) => todos.fetch(o));
      assert.ok(Array.isArray(response), `a collection read acks an array; got ${JSON.stringify(response)}`);
      assert.equal(todos.length, 1);
      assert.deepEqual(plain(todos.get('first').toJSON()), { id: 'first', title: 'Created natively' });
    });

    it('creates, saves, patches and destroys a model through the server', async () => {
      const todos = collectionIn(writerPage);
      await backboneCall('collection.fetch()', (o) => todos.fetch(o));

      const created = await backboneCall('collection.create()',
        (o) => todos.create({ title: 'Write tests', done: false }, { ...o, wait: true }));
      assert.equal(typeof created.id, 'string', `the server assigns an id; got ${JSON.stringify(created)}`);
      const model = todos.get(created.id);
      assert.ok(model, 'the created model is in the collection under the server-assigned id');
      let [err, stored] = await nativeRead(native, '/todos', created.id);
      assert.equal(err, null, `the created model can be read natively; got ${JSON.stringify(err)}`);
      assert.deepEqual(stored.data, { id: created.id, title: 'Write tests', done: false });
      assert.equal(stored.version, 1);

      await backboneCall('model.save()', (o) => model.save({ done: true }, o));
      [err, stored] = await nativeRead(native, '/todos', created.id);
      assert.equal(err, null);
      assert.deepEqual(stored.data, { id: created.id, title: 'Write tests', done: true }, 'save() replaced the model');
      assert.equal(stored.version, 2);

      const patched = await backboneCall('model.save({patch: true})',
        (o) => model.save({ title: 'Write more tests' }, { ...o, patch: true }));
      assert.deepEqual(patched, { id: created.id, title: 'Write more tests', done: true },
        'a patch acks the whole model after the merge');
      [err, stored] = await nativeRead(native, '/todos', created.id);
      assert.equal(err, null);
      assert.deepEqual(stored.data, { id: created.id, title: 'Write more tests', done: true });
      assert.equal(stored.version, 3);

      await backboneCall('model.destroy()', (o) => model.destroy({ ...o, wait: true }));
      [err] = await nativeRead(native, '/todos', created.id);
      assert.ok(err, 'the destroyed model is gone from the server');
      assert.equal(err.code, 'not_found');
      assert.equal(todos.get(created.id), undefined);
    });

    it('reports a server error to the error callback of Backbone', async () => {
      const todos = collectionIn(writerPage);
      const ghost = todos.add({ id: 'ghost', title: 'Never stored' });
      await assert.rejects(
        backboneCall('model.save({patch: true}) of a missing model',
          (o) => ghost.save({ title: 'Still missing' }, { ...o, patch: true })),
        (e) => {
          assert.equal(e.serverError && e.serverError.code, 'not_found');
          return true;
        });
    });

    it("hears another client's create, update and delete through ioBind", async () => {
      const todos = collectionIn(listenerPage);
      // Fetching makes this socket a listener of the 'todos' namespace.
      await backboneCall('collection.fetch()', (o) => todos.fetch(o));
      const creates = ioBindRecorder(todos, 'create');

      let [err, result] = await ack(native, 'create', { url: '/todos', data: { title: 'Pushed' } });
      assert.equal(err, null);
      const id = result.data.id;
      const [createdAttrs] = await creates.nth(1);
      assert.deepEqual(createdAttrs, { id, title: 'Pushed' });

      todos.add(createdAttrs);
      const model = todos.get(id);
      const updates = ioBindRecorder(model, 'update');
      const deletes = ioBindRecorder(model, 'delete');
      const modelUrl = `/todos/${encodeURIComponent(id)}`;

      [err] = await ack(native, 'update', { url: modelUrl, data: { title: 'Pushed again' } });
      assert.equal(err, null);
      assert.deepEqual((await updates.nth(1))[0], { id, title: 'Pushed again' });

      [err] = await ack(native, 'patch', { url: modelUrl, data: { done: true } });
      assert.equal(err, null);
      assert.deepEqual((await updates.nth(2))[0], { id, title: 'Pushed again', done: true },
        'a patch is pushed as an update carrying the whole model');

      // A write made through backbone.iobind on another page is heard too.
      const writerTodos = collectionIn(writerPage);
      await backboneCall('collection.fetch()', (o) => writerTodos.fetch(o));
      const writerModel = writerTodos.get(id);
      assert.ok(writerModel, 'the other page fetched the model');
      await backboneCall('model.save()', (o) => writerModel.save({ title: 'Saved by the other page' }, o));
      assert.deepEqual((await updates.nth(3))[0], { id, title: 'Saved by the other page', done: true });

      [err] = await ack(native, 'delete', { url: modelUrl });
      assert.equal(err, null);
      assert.deepEqual((await deletes.nth(1))[0], { id, title: 'Saved by the other page', done: true });

      await sleep(200);
      assert.equal(creates.seen.length, 1, 'each create is heard once');
      assert.equal(updates.seen.length, 3, 'each update or patch is heard once');
      assert.equal(deletes.seen.length, 1, 'each delete is heard once');
    });

    it('pushes writes made through backbone.iobind to native subscribers', async () => {
      const [err] = await ack(native, 'subscribe', { url: '/todos' });
      assert.equal(err, null);
      const changes = recorder(native, 'change');

      const todos = collectionIn(writerPage);
      const created = await backboneCall('collection.create()',
        (o) => todos.create({ title: 'From iobind' }, { ...o, wait: true }));
      const [change] = await changes.waitFor(1);
      assert.equal(change.url, '/todos');
      assert.equal(change.op, 'create');
      assert.equal(change.id, created.id);
      assert.deepEqual(change.data, { id: created.id, title: 'From iobind' });
      assert.equal(change.version, 1);
      assert.ok(Number.isInteger(change.seq));
    });
  });
}

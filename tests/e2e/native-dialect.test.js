'use strict';
// The native dialect (docs/PROTOCOL.md) spoken by real npm socket.io clients
// against the real server binary: one client subscribes to /todos, another
// writes, and the subscriber — only the subscriber — hears every change.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('../support/server');
const {
  FLAVOURS, connected, ack, recorder, transportName, upgraded, sleep, closeAll,
} = require('./lib/clients');

function assertSuccess(args, what) {
  assert.equal(args.length, 2, `${what}: a success ack has two arguments (null, result); got ${JSON.stringify(args)}`);
  assert.equal(args[0], null, `${what}: the first ack argument is null on success; got ${JSON.stringify(args)}`);
  assert.equal(typeof args[1], 'object', `${what}: the result is an object`);
  return args[1];
}

function assertFailure(args, code, what) {
  assert.equal(args.length, 1, `${what}: a failure ack has exactly one argument (error); got ${JSON.stringify(args)}`);
  const [err] = args;
  assert.ok(err && typeof err === 'object', `${what}: the error is an object; got ${JSON.stringify(args)}`);
  assert.equal(err.code, code, `${what}: error code; got ${JSON.stringify(err)}`);
  assert.equal(typeof err.message, 'string', `${what}: the error has a message`);
  assert.ok(err.message.length > 0, `${what}: the error message is not empty`);
  return err;
}

for (const flavour of FLAVOURS) {
  describe(`native dialect with ${flavour.name}`, () => {
    let server;
    let writer;
    let subscriber;
    let subscriberChanges;
    let writerChanges;

    before(async () => {
      server = await startServer();
      writer = flavour.connect(server.url);
      subscriber = flavour.connect(server.url);
      writerChanges = recorder(writer, 'change');
      subscriberChanges = recorder(subscriber, 'change');
      await Promise.all([connected(writer), connected(subscriber)]);
    });

    after(async () => {
      closeAll(writer, subscriber);
      if (server) await server.stop();
    });

    it(`connects over ${flavour.transports.join(' then upgrades to ')}`, async () => {
      for (const socket of [writer, subscriber]) {
        if (flavour.transports.includes('websocket')) await upgraded(socket);
        // a round trip, so that a stray upgrade would have been seen
        assertSuccess(await ack(socket, 'read', { url: '/todos' }), 'read');
        assert.deepEqual(socket.transports, flavour.transports);
        assert.equal(transportName(socket), flavour.transports.at(-1));
      }
    });

    it('delivers create, update, patch and delete of /todos to the subscriber, with the acks the writer got', async () => {
      const sub = assertSuccess(await ack(subscriber, 'subscribe', { url: '/todos' }), 'subscribe');
      assert.equal(sub.url, '/todos', 'subscribe acks the normalised collection url');
      assert.ok(Number.isInteger(sub.seq) && sub.seq >= 0, `subscribe acks the current seq; got ${JSON.stringify(sub)}`);

      // create — the url without a leading slash names the same collection
      const created = assertSuccess(
        await ack(writer, 'create', { url: 'todos', data: { title: 'Buy milk', done: false } }), 'create');
      const id = created.data.id;
      assert.equal(typeof id, 'string', `the server assigns a string id; got ${JSON.stringify(created)}`);
      assert.ok(id.length > 0);
      assert.deepEqual(created.data, { id, title: 'Buy milk', done: false });
      assert.equal(created.version, 1, 'a new model has version 1');
      assert.ok(Number.isInteger(created.seq) && created.seq > sub.seq,
        `the write's seq (${created.seq}) is after the subscribe seq (${sub.seq})`);

      const modelUrl = `/todos/${encodeURIComponent(id)}`;

      // update replaces the attributes
      const updated = assertSuccess(
        await ack(writer, 'update', { url: modelUrl, data: { title: 'Buy oat milk', done: false }, version: 1 }),
        'update');
      assert.deepEqual(updated.data, { id, title: 'Buy oat milk', done: false });
      assert.equal(updated.version, 2);
      assert.ok(updated.seq > created.seq, 'seq grows with every write');

      // patch merges top-level keys
      const patched = assertSuccess(
        await ack(writer, 'patch', { url: modelUrl, data: { done: true }, version: 2 }), 'patch');
      assert.deepEqual(patched.data, { id, title: 'Buy oat milk', done: true });
      assert.equal(patched.version, 3);
      assert.ok(patched.seq > updated.seq, 'seq grows with every write');

      // delete acks the last state and the version of the deletion
      const deleted = assertSuccess(await ack(writer, 'delete', { url: modelUrl, version: 3 }), 'delete');
      assert.deepEqual(deleted.data, { id, title: 'Buy oat milk', done: true });
      assert.equal(deleted.version, 4);
      assert.ok(deleted.seq > patched.seq, 'seq grows with every write');

      const changes = await subscriberChanges.waitFor(4);
      assert.deepEqual(changes, [
        { url: '/todos', op: 'create', id, data: created.data, version: 1, seq: created.seq, prev: sub.last },
        { url: '/todos', op: 'update', id, data: updated.data, version: 2, seq: updated.seq, prev: created.seq },
        { url: '/todos', op: 'patch', id, data: patched.data, version: 3, seq: patched.seq, prev: updated.seq },
        { url: '/todos', op: 'delete', id, data: deleted.data, version: 4, seq: deleted.seq, prev: patched.seq },
      ]);
      // Each push names the channel's change before it, as the writer's acks do.
      assert.deepEqual([created.prev, updated.prev, patched.prev, deleted.prev],
        [sub.last, created.seq, updated.seq, patched.seq]);

      // The writer's acks carry the same information: it is not sent its own changes.
      assertSuccess(await ack(writer, 'read', { url: '/todos' }), 'read after the writes');
      await sleep(200);
      assert.deepEqual(writerChanges.seen, [], 'the writer receives none of its own changes');
      assert.equal(subscriberChanges.seen.length, 4, 'the subscriber receives each change exactly once');
    });

    it('answers a stale version with a conflict error carrying the current model, and pushes nothing', async () => {
      const before = subscriberChanges.seen.length;
      const created = assertSuccess(
        await ack(writer, 'create', { url: '/todos', data: { id: 7, title: 'Walk the dog' } }), 'create with an id');
      assert.deepEqual(created.data, { id: 7, title: 'Walk the dog' }, 'a client-supplied numeric id is kept as a number');
      await subscriberChanges.waitFor(before + 1);

      const err = assertFailure(
        await ack(writer, 'update', { url: '/todos/7', data: { title: 'Stale write' }, version: 5 }),
        'conflict', 'update with a stale version');
      assert.deepEqual(err.current, { data: { id: 7, title: 'Walk the dog' }, version: 1 },
        'a conflict carries the stored model and its version');

      assertFailure(await ack(writer, 'delete', { url: '/todos/does-not-exist' }), 'not_found',
        'delete of a missing model');

      const read = assertSuccess(await ack(subscriber, 'read', { url: '/todos/7' }), 'model read');
      assert.deepEqual(read.data, { id: 7, title: 'Walk the dog' }, 'the failed write changed nothing');
      assert.equal(read.version, 1);

      await sleep(200);
      assert.equal(subscriberChanges.seen.length, before + 1, 'failed writes push no change');
      assert.deepEqual(writerChanges.seen, []);
    });

    it('stops pushing to a socket that unsubscribed', async () => {
      const unsub = assertSuccess(await ack(subscriber, 'unsubscribe', { url: '/todos' }), 'unsubscribe');
      assert.deepEqual(unsub, { url: '/todos' });
      const before = subscriberChanges.seen.length;
      assertSuccess(await ack(writer, 'create', { url: '/todos', data: { title: 'Unheard' } }), 'create');
      // a round trip on the subscriber's own socket gives a stray push time to arrive first
      assertSuccess(await ack(subscriber, 'read', { url: '/todos' }), 'read');
      await sleep(200);
      assert.equal(subscriberChanges.seen.length, before, 'no change after unsubscribe');
    });
  });
}

describe('native dialect across client versions', () => {
  let server;
  const sockets = [];

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    closeAll(...sockets);
    if (server) await server.stop();
  });

  for (const [writerFlavour, subscriberFlavour] of [[FLAVOURS[0], FLAVOURS[3]], [FLAVOURS[3], FLAVOURS[1]]]) {
    it(`pushes a write of ${writerFlavour.name} to a subscriber on ${subscriberFlavour.name}`, async () => {
      const writer = writerFlavour.connect(server.url);
      const subscriber = subscriberFlavour.connect(server.url);
      sockets.push(writer, subscriber);
      const changes = recorder(subscriber, 'change');
      await Promise.all([connected(writer), connected(subscriber)]);
      assertSuccess(await ack(subscriber, 'subscribe', { url: '/mixed' }), 'subscribe');
      const created = assertSuccess(
        await ack(writer, 'create', { url: '/mixed', data: { title: writerFlavour.name } }), 'create');
      const [change] = await changes.waitFor(1);
      assert.deepEqual(change, {
        url: '/mixed', op: 'create', id: created.data.id, data: created.data, version: 1, seq: created.seq,
        prev: created.prev,
      });
      writer.close();
      subscriber.close();
    });
  }
});

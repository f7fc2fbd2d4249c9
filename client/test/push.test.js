'use strict';
// Pushes: a realtime collection subscribes on its first fetch and applies
// the changes other clients make, with the usual Backbone events.

const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { tab, record, next, sleep, startServer, twoTabs, stopTwoTabs } = require('../test-support');

describe('pushed changes', { timeout: 60000 }, () => {
  let server, a, b, peek;

  beforeEach(async () => {
    ({ server, a, b, peek } = await twoTabs());
  });
  afterEach(() => stopTwoTabs({ server, a, b, peek }));

  const Todos = (t, extra = {}) => t.Backbone.Collection.extend({ url: '/todos', realtime: true, ...extra });

  it('adds a model another client created, triggering add and a push event on Backbone.realtime', async () => {
    const mine = new (Todos(a))();
    await mine.fetch();
    const theirs = new (Todos(b))();
    const added = next(mine, 'add');
    const pushed = next(a.realtime, 'push');
    await new Promise((resolve) => theirs.create({ title: 'from b' }, { success: resolve }));
    const [model, collection, options] = await added;
    assert.equal(collection, mine);
    assert.equal(model.get('title'), 'from b');
    assert.equal(options.realtime, true);
    const [change] = await pushed;
    assert.equal(change.op, 'create');
    assert.equal(change.url, '/todos');
    assert.equal(a.realtime.version(model), 1, 'the push teaches the version');
  });

  it('merges another client\'s update into the existing model, triggering change', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    const mine = new (Todos(a))();
    await mine.fetch();
    const changed = next(mine.get(1), 'change:title');
    await peek.ok('update', { url: '/todos/1', data: { title: 'b' } });
    const [model, value] = await changed;
    assert.equal(value, 'b');
    assert.equal(model, mine.get(1));
    assert.equal(a.realtime.version(model), 2);
    // and our next save goes over the pushed version, without a conflict
    await model.save({ title: 'c' });
  });

  it('removes a model another client deleted, triggering destroy on the model and remove on the collection', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    const mine = new (Todos(a))();
    await mine.fetch();
    const model = mine.get(1);
    const destroyed = next(model, 'destroy');
    const removed = next(mine, 'remove');
    await peek.ok('delete', { url: '/todos/1' });
    await destroyed;
    await removed;
    assert.equal(mine.length, 0);
  });

  it('applies a patch push as the whole model it carries', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a', done: false } });
    const mine = new (Todos(a))();
    await mine.fetch();
    const changed = next(mine.get(1), 'change');
    await peek.ok('patch', { url: '/todos/1', data: { done: true } });
    await changed;
    assert.deepEqual(mine.get(1).toJSON(), { id: 1, title: 'a', done: true });
  });

  it('runs the model\'s parse on pushed data, not the collection\'s', async () => {
    const Todo = a.Backbone.Model.extend({ parse: (resp) => ({ id: resp.id, title: String(resp.title).toUpperCase() }) });
    const mine = new (Todos(a, { model: Todo, parse: (resp) => resp.items || resp }))();
    await mine.fetch();
    const added = next(mine, 'add');
    await peek.ok('create', { url: '/todos', data: { id: 5, title: 'shout' } });
    const [model] = await added;
    assert.equal(model.get('title'), 'SHOUT');
    const changed = next(model, 'change:title');
    await peek.ok('update', { url: '/todos/5', data: { title: 'again' } });
    await changed;
    assert.equal(model.get('title'), 'AGAIN');
  });

  it('applies a push that overtakes a read after the read, so the read does not undo it', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'old' } });
    const seq = (await peek.ok('read', { url: '/todos' })).seq;
    const mine = new (Todos(a))();
    const fetching = mine.fetch();
    // A newer change arriving before the read's ack, as a racing push would.
    a.socket.listeners('change').forEach((fn) => fn({ url: '/todos', op: 'update', id: 1, data: { id: 1, title: 'newer' }, version: 2, seq: seq + 1 }));
    await fetching;
    assert.equal(mine.get(1).get('title'), 'newer');
  });

  it('keeps a sorted collection sorted when a push changes the sort key', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, order: 1 } });
    await peek.ok('create', { url: '/todos', data: { id: 2, order: 2 } });
    const mine = new (Todos(a, { comparator: 'order' }))();
    await mine.fetch();
    const sorted = next(mine, 'sort');
    await peek.ok('update', { url: '/todos/1', data: { order: 3 } });
    await sorted;
    assert.deepEqual(mine.pluck('id'), [2, 1]);
  });

  it('ignores a push older than what a model already reflects', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
    const mine = new (Todos(a))();
    await mine.fetch();
    const model = mine.get(1);
    await model.save({ title: 'newer' });
    const seq = (await peek.ok('read', { url: '/todos/1' })).seq;
    // A late, stale change as a racing push would deliver it.
    a.socket.listeners('change').forEach((fn) => fn({ url: '/todos', op: 'update', id: 1, data: { id: 1, title: 'stale' }, version: 1, seq: seq - 1 }));
    assert.equal(model.get('title'), 'newer');
  });

  it('stops applying pushes after collection.stopRealtime() and tells the server to unsubscribe', async () => {
    const mine = new (Todos(a))();
    await mine.fetch();
    const sent = [];
    const emit = a.socket.emit;
    a.socket.emit = function (event, payload, ...rest) { sent.push([event, payload]); return emit.call(this, event, payload, ...rest); };
    mine.stopRealtime();
    assert.deepEqual(sent[0], ['unsubscribe', { url: '/todos' }]);
    let received = 0;
    a.socket.on('change', () => { received++; });
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'unseen' } });
    await sleep(200);
    assert.equal(mine.length, 0);
    assert.equal(received, 0, 'the server no longer pushes to us');
  });

  it('subscribes only on the first fetch or startRealtime(), so a derived collection ignores pushes', async () => {
    const Todo = Todos(a);
    const derived = new Todo([{ id: 'x', title: 'copy' }]);
    const live = new Todo();
    live.startRealtime();
    // One round trip on the same socket: the server handles a socket's
    // events in order, so the subscription is in place after it.
    await new Promise((resolve) => a.socket.emit('read', { url: '/elsewhere' }, resolve));
    const added = next(live, 'add');
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'new' } });
    await added;
    await sleep(50);
    assert.deepEqual(derived.pluck('id'), ['x']);
  });

  it('keeps a standalone realtime model in step with changes to it alone', async () => {
    await peek.ok('create', { url: '/notes', data: { id: 'n1', text: 'hello' } });
    await peek.ok('create', { url: '/notes', data: { id: 'n2', text: 'other' } });
    const Note = a.Backbone.Model.extend({ urlRoot: '/notes', realtime: true });
    const note = new Note({ id: 'n1' });
    await note.fetch();
    const events = record(note);
    const changed = next(note, 'change:text');
    await peek.ok('update', { url: '/notes/n2', data: { text: 'not mine' } });
    await peek.ok('update', { url: '/notes/n1', data: { text: 'world' } });
    await changed;
    assert.equal(note.get('text'), 'world');
    assert.equal(events.names().filter((n) => n === 'change').length, 1);
    const destroyed = next(note, 'destroy');
    await peek.ok('delete', { url: '/notes/n1' });
    await destroyed;
  });

  it('works the same with socket.io-client 2', async () => {
    const ioV2 = require('socket.io-client-v2');
    const old = tab(server, { io: ioV2, socketOptions: { transports: ['websocket'] } });
    try {
      await peek.ok('create', { url: '/todos', data: { id: 1, title: 'a' } });
      const mine = new (Todos(old))();
      await mine.fetch();
      const added = next(mine, 'add');
      await peek.ok('create', { url: '/todos', data: { id: 2, title: 'b' } });
      await added;
      const model = mine.get(1);
      await model.save({ title: 'saved over v2' });
      assert.equal((await peek.ok('read', { url: '/todos/1' })).data.title, 'saved over v2');
      const conflict = await new Promise((resolve) => {
        old.realtime._known()['/todos/1'].version = 1;
        model.save({ title: 'x' }, { error: (m, e) => resolve(e) });
      });
      assert.equal(conflict.code, 'conflict');
    } finally {
      old.close();
    }
  });
});

// The inspector's injected `change` is sent with an acknowledgement request; the
// adapter answers whether it applied it (docs/PROTOCOL.md, Injected changes), so
// the Inject panel can tell a push the page ignored from one it showed.
describe('answering an injected change', { timeout: 60000 }, () => {
  const TOKEN = 'inject-answers';
  let server, a, b;

  beforeEach(async () => {
    server = await startServer({ args: ['--token', TOKEN] });
    a = tab(server);
    b = tab(server, { io: require('socket.io-client-v2'), socketOptions: { transports: ['websocket'] } });
  });
  afterEach(async () => {
    a.close();
    b.close();
    await server.stop();
  });

  async function inject(target, change) {
    const res = await fetch(`${server.url}/_syncscope/command`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'emit', target, event: 'change', args: [change] }),
    });
    const body = await res.json();
    assert.equal(body.result, 'ok', JSON.stringify(body));
    return body.value;
  }

  it('says which pages applied it and why the others did not (socket.io-client 4 and 2)', async () => {
    const Todos = (t) => t.Backbone.Collection.extend({ url: '/todos', realtime: true });
    const onA = new (Todos(a))();
    const onB = new (Todos(b))();
    await onA.fetch();
    await onB.fetch();
    const change = { url: '/todos', op: 'create', id: 'x1', data: { id: 'x1', title: 'injected' }, version: 1 };
    const sent = await inject({ to: 'channel', url: '/todos' }, change);
    assert.equal(sent.recipients, 2);
    assert.deepEqual(sent.answers.applied.length, 2, JSON.stringify(sent.answers));
    assert.deepEqual(sent.answers.not_applied, []);
    assert.equal(onA.get('x1').get('title'), 'injected');
    assert.equal(onB.get('x1').get('title'), 'injected');

    // The shape the issue found broken: a model url and no top-level id.
    const broken = await inject({ to: 'channel', url: '/todos' }, { url: '/todos/x1', op: 'update', data: { title: 'never' } });
    assert.deepEqual(broken.answers.applied, []);
    assert.deepEqual(broken.answers.not_applied.map((n) => n.reason), [
      'nothing on this page listens to /todos/x1',
      'nothing on this page listens to /todos/x1',
    ]);
    const noId = await inject({ to: 'channel', url: '/todos' }, { url: '/todos', op: 'update', data: { title: 'never' } });
    assert.deepEqual(noId.answers.not_applied.map((n) => n.reason), ['the change has no id', 'the change has no id']);
    assert.equal(onA.get('x1').get('title'), 'injected');
  });

  it('counts a client that does not answer as silent, not as a failure', async () => {
    const io = require('socket.io-client');
    const plain = io(server.url, { transports: ['websocket'], forceNew: true });
    try {
      await new Promise((resolve) => plain.once('connect', resolve));
      const got = new Promise((resolve) => plain.once('change', (c) => resolve(c)));
      const sent = await inject({ to: 'socket', id: plain.id }, { url: '/todos', op: 'delete', id: '1' });
      assert.equal((await got).id, '1');
      assert.deepEqual(sent.answers, { applied: [], not_applied: [], silent: [plain.id] });
    } finally {
      plain.close();
    }
  });
});

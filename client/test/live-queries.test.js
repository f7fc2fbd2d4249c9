'use strict';
// Live queries (issue 16): `collection.fetch({data})` on a realtime collection
// reads only the matching models, and its subscription carries the query, so
// the collection follows models into ('add') and out of ('remove') its result
// as other tabs write, also across a reconnect. Each "tab" is its own
// Backbone + adapter + socket against the real server.

const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { tab, next, until, outcome, connected, twoTabs, stopTwoTabs } = require('../test-support');

describe('live queries', { timeout: 60000 }, () => {
  let server, a, b, peek;

  beforeEach(async () => {
    ({ server, a, b, peek } = await twoTabs({ args: ['--max-data', '4096'] }));
  });
  afterEach(() => stopTwoTabs({ server, a, b, peek }));

  const Todos = (t, extra = {}) => t.Backbone.Collection.extend({ url: '/todos', realtime: true, ...extra });
  const titles = (list) => list.pluck('title');
  const fetch = (list, options) => new Promise((resolve, reject) =>
    list.fetch({ ...options, success: resolve, error: (c, e) => reject(e) }));
  const save = (model, attrs, options = {}) => new Promise((resolve, reject) =>
    model.save(attrs, { ...options, success: resolve, error: (m, e) => reject(e) }));
  // What a fresh read of the query gives, in the collection's spelling.
  const fresh = async (query) => (await peek.ok('read', { url: '/todos', query })).data.map((m) => m.title);

  it('shows only matches and follows models into and out of its filter as another tab writes', async () => {
    const all = new (Todos(b))();
    await fetch(all);
    const milk = await new Promise((resolve) => all.create({ title: 'milk', done: false }, { wait: true, success: resolve }));
    await new Promise((resolve) => all.create({ title: 'bread', done: true }, { wait: true, success: resolve }));
    await new Promise((resolve) => all.create({ title: 'eggs', done: 'true' }, { wait: true, success: resolve }));

    const done = new (Todos(a))();
    await fetch(done, { data: { done: true } });
    assert.deepEqual(titles(done), ['bread'], 'only exact matches: "true" is not true');

    // Starts matching: an add.
    const added = next(done, 'add');
    await save(milk, { done: true });
    const [model] = await added;
    assert.equal(model.get('title'), 'milk');
    assert.deepEqual(titles(done), ['bread', 'milk']);

    // Changes within the filter: a merge.
    const renamed = next(done.get(milk.id), 'change:title');
    await save(milk, { title: 'oat milk' }, { patch: true });
    await renamed;
    assert.equal(done.get(milk.id).get('title'), 'oat milk');

    // Stops matching: a remove, and the model is not pushed any more.
    const removed = next(done, 'remove');
    await save(milk, { done: false });
    const [gone] = await removed;
    assert.equal(gone.id, milk.id);
    assert.deepEqual(titles(done), ['bread']);
    await save(milk, { title: 'milk again' });

    // A model deleted elsewhere leaves too; one outside the filter is not heard of.
    const bread = all.findWhere({ title: 'bread' });
    const removedAgain = next(done, 'remove');
    await new Promise((resolve) => bread.destroy({ wait: true, success: resolve }));
    await removedAgain;
    assert.deepEqual(titles(done), []);
    assert.deepEqual(await fresh({ done: true }), []);
  });

  it('catches up after a reconnect: what left the filter meanwhile is removed, what entered is added', async () => {
    for (const [id, done] of [[1, true], [2, true], [3, false]]) {
      await peek.ok('create', { url: '/todos', data: { id, title: `t${id}`, done } });
    }
    const done = new (Todos(a))();
    await fetch(done, { data: { done: true } });
    assert.deepEqual(titles(done), ['t1', 't2']);

    const away = next(a.realtime, 'disconnect');
    a.socket.disconnect();
    await away;
    await peek.ok('patch', { url: '/todos/1', data: { done: false } });
    await peek.ok('patch', { url: '/todos/3', data: { done: true } });
    await peek.ok('patch', { url: '/todos/2', data: { title: 't2 changed' } });
    await peek.ok('create', { url: '/todos', data: { id: 4, title: 'not done', done: false } });

    const resynced = next(a.realtime, 'resync');
    a.socket.connect();
    const [info] = await resynced;
    assert.deepEqual(info.query, { done: true });
    assert.deepEqual(titles(done).sort(), ['t2 changed', 't3']);
    assert.deepEqual(titles(done).sort(), (await fresh({ done: true })).sort());

    // And it keeps following afterwards.
    const removed = next(done, 'remove');
    await peek.ok('patch', { url: '/todos/3', data: { done: false } });
    await removed;
    assert.deepEqual(titles(done), ['t2 changed']);
  });

  it('sorts, pages and keeps a window live: models entering or leaving it are added and removed in order', async () => {
    for (const title of ['d', 'b', 'e', 'a']) await peek.ok('create', { url: '/todos', data: { title } });
    const list = new (Todos(a))();
    await fetch(list, { data: { _sort: 'title', _order: 'desc', _start: 1, _limit: 2 } });
    assert.deepEqual(titles(list), ['d', 'b']);
    assert.deepEqual(await fresh({ _sort: 'title' }), ['a', 'b', 'd', 'e']);
    assert.deepEqual(await fresh({ _sort: '-title', _limit: '1' }), ['e']);

    // 'c' sorts into the window, which pushes 'b' out of it.
    const added = next(list, 'add');
    const removed = next(list, 'remove');
    const other = new (Todos(b))();
    await fetch(other);
    await new Promise((resolve) => other.create({ title: 'c' }, { wait: true, success: resolve }));
    const [[inModel], [outModel]] = await Promise.all([added, removed]);
    assert.equal(inModel.get('title'), 'c');
    assert.equal(outModel.get('title'), 'b');
    assert.deepEqual(titles(list), ['d', 'c']);

    // A rename that moves a model inside the window reorders it.
    const d = other.findWhere({ title: 'd' });
    await save(d, { title: 'ca' });
    await until(() => titles(list).join() === 'ca,c', `the window reordered, got ${titles(list)}`);
    assert.deepEqual(titles(list), await fresh({ _sort: 'title', _order: 'desc', _start: 1, _limit: 2 }));
  });

  it('refuses an unsupported parameter with bad_request naming it, locally or from the server', async () => {
    const list = new (Todos(a))();
    const paged = await outcome((o) => list.fetch({ ...o, data: { _page: 2 } }));
    assert.equal(paged.ok, false);
    assert.equal(paged.error.code, 'bad_request');
    assert.equal(paged.error.param, '_page');
    assert.match(paged.error.message, /_page/);

    const { err } = await peek.ask('read', { url: '/todos', query: { views_gte: 10 } });
    assert.equal(err.code, 'bad_request');
    assert.equal(err.param, 'views_gte');
    const sub = await peek.ask('subscribe', { url: '/todos', query: { q: 'milk' } });
    assert.equal(sub.err.param, 'q');

    const text = await outcome((o) => list.fetch({ ...o, data: 'done=true' }));
    assert.equal(text.error.code, 'bad_request');
    assert.equal(text.error.field, 'query');
  });

  it('moves a model out of the writer\'s own filtered collection, and keeps a second query of the same url apart', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'one', done: false } });
    await peek.ok('create', { url: '/todos', data: { id: 2, title: 'two', done: true } });
    const active = new (Todos(a))();
    const completed = new (Todos(a))();
    await fetch(active, { data: { done: false } });
    await fetch(completed, { data: { done: true } });
    assert.deepEqual(titles(active), ['one']);
    assert.deepEqual(titles(completed), ['two']);

    // Toggled through the filtered collection itself, in the same tab.
    const left = next(active, 'remove');
    const entered = next(completed, 'add');
    await save(active.get(1), { done: true });
    await Promise.all([left, entered]);
    assert.deepEqual(titles(active), []);
    assert.deepEqual(titles(completed), ['two', 'one']);

    // Created through a filtered collection it does not match: it leaves it.
    const created = next(active, 'remove');
    await new Promise((resolve) => active.create({ title: 'three', done: true }, { wait: false, success: resolve }));
    await created;
    assert.deepEqual(titles(active), []);
    await until(() => completed.length === 3, 'the create in the other query');

    // Refetching with another query switches the subscription.
    await fetch(active, { data: { title: 'two' } });
    assert.deepEqual(titles(active), ['two']);
    const renamed = next(active, 'remove');
    await peek.ok('patch', { url: '/todos/2', data: { title: 'deux' } });
    await renamed;
  });

  it('maps a custom idAttribute in a query, and learns --max-data from the subscribe answer', async () => {
    await peek.ok('create', { url: '/todos', data: { id: 'x', title: 'mongo' } });
    const Todo = a.Backbone.Model.extend({ idAttribute: '_id' });
    const list = new (Todos(a, { model: Todo }))();
    await fetch(list, { data: { _id: 'x' } });
    assert.deepEqual(list.toJSON(), [{ _id: 'x', title: 'mongo' }]);

    // The subscribe answer said the limit: the first too-large write is refused
    // here, without reaching the server (whose answer would carry no `size`).
    const sentBefore = [];
    const emit = a.socket.emit;
    a.socket.emit = function (event, ...rest) { sentBefore.push(event); return emit.call(this, event, ...rest); };
    const big = await outcome((o) => list.create({ title: 'x'.repeat(5000) }, { ...o, wait: true }));
    assert.equal(big.error.code, 'too_large');
    assert.equal(big.error.limit, 4096);
    assert.equal(big.error.size > 4096, true);
    assert.deepEqual(sentBefore, [], 'nothing was sent');
    await connected(a.socket);
    assert.equal(a.socket.connected, true);
  });

  it('stays correct without gap loops while another tab writes to the url outside the filter', async () => {
    // Query pushes carry no `prev` (docs/PROTOCOL.md, *Queries and gaps*): the
    // writes another tab makes outside the filter must not look like gaps.
    await peek.ok('create', { url: '/todos', data: { id: 1, title: 'milk', done: false } });
    const all = new (Todos(a))();
    await fetch(all);
    const active = new (Todos(a))();
    await fetch(active, { data: { done: false } });
    const gaps = [];
    a.realtime.on('gap', (gap) => gaps.push(gap));
    const sent = [];
    a.socket.onAnyOutgoing((event) => sent.push(event));
    const queryPushes = [];
    a.socket.on('change', (change) => { if (change.query) queryPushes.push(change); });

    const other = new (Todos(b))();
    await fetch(other);
    for (const title of ['bread', 'eggs', 'jam']) {
      await new Promise((resolve) => other.create({ title, done: true }, { wait: true, success: resolve }));
    }
    await save(other.findWhere({ title: 'bread' }), { title: 'rye' }, { patch: true });
    // The last write enters the filter: once it is here, every push before it is too.
    const added = next(active, 'add');
    await save(other.findWhere({ title: 'eggs' }), { done: false }, { patch: true });
    await added;
    await until(() => all.length === 4 && all.findWhere({ title: 'rye' }), 'the whole collection to follow');

    assert.deepEqual(gaps, [], 'no gap on either channel');
    assert.ok(queryPushes.length > 0 && queryPushes.every((c) => !('prev' in c)), 'query pushes carry no prev');
    assert.deepEqual(sent.filter((e) => e === 'subscribe'), [], 'no resubscribe');
    assert.deepEqual(titles(active), ['milk', 'eggs']);
    assert.deepEqual(await fresh({ done: false }), ['milk', 'eggs']);
  });
});

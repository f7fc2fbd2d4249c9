'use strict';
// The adapter works with every Backbone it claims: 1.2, 1.3, 1.4, 1.5 and 1.6. Each
// version (installed under an npm alias) is loaded in place of `backbone`, with the
// Underscore it shipped with (1.8.3 for 1.2 and 1.3, as the TodoMVC example has it), for
// two "tabs", which then create, update and destroy through the socket and see each
// other's writes arrive as pushes.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const Module = require('node:module');
const path = require('node:path');
const ioV4 = require('socket.io-client');
const { next, startServer } = require('../test-support');

const ADAPTER = require.resolve('../backbone.realtime.js');

/** A fresh Backbone `pkg` (with Underscore `underscorePkg`) and a fresh adapter bound to
 * it; Backbone claims to be `version` when given. */
function loadWith(pkg, underscorePkg, version) {
  const resolve = Module._resolveFilename;
  const aliases = { backbone: pkg, underscore: underscorePkg };
  Module._resolveFilename = function (request, ...rest) {
    return resolve.call(this, aliases[request] || request, ...rest);
  };
  try {
    for (const key of Object.keys(require.cache)) {
      if (key === ADAPTER || key.includes(`${path.sep}node_modules${path.sep}${pkg}${path.sep}`) ||
          key.includes(`${path.sep}node_modules${path.sep}${underscorePkg}${path.sep}`)) {
        delete require.cache[key];
      }
    }
    const _ = require(underscorePkg);
    const Backbone = require(pkg);
    if (version) Backbone.VERSION = version;
    const realtime = require(ADAPTER);
    return { Backbone, _, realtime };
  } finally {
    Module._resolveFilename = resolve;
  }
}

/** A "tab": Backbone `pkg` and its adapter, connected to `server`. */
function tabWith(pkg, underscorePkg, server) {
  const tab = loadWith(pkg, underscorePkg);
  tab.socket = ioV4(server.url, { forceNew: true, transports: ['websocket'] });
  tab.realtime.socket = tab.socket;
  return tab;
}

const VERSIONS = [
  { pkg: 'backbone-1.2', version: '1.2.3', underscorePkg: 'underscore-1.8', underscore: '1.8.3' },
  { pkg: 'backbone-1.3', version: '1.3.3', underscorePkg: 'underscore-1.8', underscore: '1.8.3' },
  { pkg: 'backbone-1.4', version: '1.4.1', underscorePkg: 'underscore', underscore: '1.13' },
  { pkg: 'backbone-1.5', version: '1.5.0', underscorePkg: 'underscore', underscore: '1.13' },
  { pkg: 'backbone', version: '1.6', underscorePkg: 'underscore', underscore: '1.13' },
];

for (const { pkg, version, underscorePkg, underscore } of VERSIONS) {
  describe(`with Backbone ${version} and Underscore ${underscore}`, { timeout: 60000 }, () => {
    let server, a, b;
    before(async () => {
      server = await startServer();
      a = tabWith(pkg, underscorePkg, server);
      b = tabWith(pkg, underscorePkg, server);
    });
    after(async () => {
      a.socket.close();
      b.socket.close();
      await server.stop();
    });

    it('syncs a collection between two tabs: create, save and destroy arrive as pushes', async () => {
      assert.ok(a.Backbone.VERSION.startsWith(version), `loaded Backbone ${a.Backbone.VERSION}`);
      assert.ok(a._.VERSION.startsWith(underscore), `loaded Underscore ${a._.VERSION}`);
      assert.equal(a.realtime, a.Backbone.realtime, 'the adapter attached itself to this Backbone');
      const Todos = (t) => t.Backbone.Collection.extend({ url: '/todos', realtime: true });
      const mine = new (Todos(a))();
      const theirs = new (Todos(b))();
      await mine.fetch();
      await theirs.fetch();

      const added = next(theirs, 'add');
      const model = await new Promise((resolve, reject) =>
        mine.create({ title: 'a' }, { wait: true, success: resolve, error: (m, e) => reject(e) }));
      const [copy] = await added;
      assert.equal(copy.id, model.id);

      const changed = next(copy, 'change:title');
      await model.save({ title: 'b' });
      await changed;
      assert.equal(copy.get('title'), 'b');

      const removed = next(theirs, 'remove');
      await model.destroy({ wait: true });
      await removed;
      assert.equal(theirs.length, 0);
    });

    it('takes the adapter\'s constructor options (Backbone before 1.4 has no preinitialize of its own)', async () => {
      const Todos = a.Backbone.Collection.extend({ url: '/opts' });
      const Theirs = b.Backbone.Model.extend({ urlRoot: '/opts' });
      const list = new Todos([], { realtime: true, timeout: 1234 });
      assert.equal(list.realtime, true);
      assert.equal(list.timeout, 1234);
      const added = next(list, 'add');
      // a plain Backbone.Model too, and it is still a Backbone.Model
      const model = new a.Backbone.Model({ title: 'lone' }, { realtime: true });
      assert.equal(model.realtime, true);
      assert.ok(model instanceof a.Backbone.Model);
      model.urlRoot = '/opts';
      await list.fetch();
      // over the socket: another tab's write arrives as a push
      const theirs = new Theirs({ title: 'from b' }, { realtime: true });
      await theirs.save();
      const [copy] = await added;
      assert.equal(copy.get('title'), 'from b');
      assert.ok(copy instanceof a.Backbone.Model);
      await model.save();
      assert.ok(model.id != null, 'saved over the socket');
    });

    it('follows the page\'s own writes in a second collection, maps idAttribute "_id", and drops removed attributes with one change', async () => {
      const Todo = a.Backbone.Model.extend({ idAttribute: '_id' });
      const Todos = a.Backbone.Collection.extend({ url: '/things', realtime: true, model: Todo });
      const c1 = new Todos();
      const c2 = new Todos();
      await c1.fetch();
      await c2.fetch();
      const added = next(c2, 'add');
      const model = await new Promise((resolve, reject) =>
        c1.create({ title: 'a', tags: ['x'] }, { wait: true, success: resolve, error: (m, e) => reject(e) }));
      const [copy] = await added;
      assert.equal(copy.id, model.id);
      assert.equal(copy.get('_id'), model.id);
      const events = [];
      // (Backbone 1.4 and 1.5 also fire 'changeId' on every set that names the id.)
      copy.on('all', (name) => { if (name !== 'changeId') events.push(name); });
      const untagged = next(copy, 'change:tags');
      model.unset('tags');
      await model.save({ title: 'b' });
      await untagged;
      assert.deepEqual(copy.toJSON(), { _id: model.id, title: 'b' });
      assert.deepEqual(events.sort(), ['change', 'change:tags', 'change:title']);
    });
  });
}

describe('with a Backbone older than 1.2', () => {
  it('says at load, in the console, which versions it supports, and keeps quiet for the supported ones', () => {
    const warnings = [];
    const warn = console.warn;
    console.warn = (...args) => warnings.push(args.join(' '));
    try {
      for (const { pkg, underscorePkg } of VERSIONS) loadWith(pkg, underscorePkg);
      assert.deepEqual(warnings, []);
      loadWith('backbone-1.2', 'underscore-1.8', '1.1.2');
    } finally {
      console.warn = warn;
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /supports Backbone 1\.2 to 1\.6; this page has Backbone 1\.1\.2/);
  });
});


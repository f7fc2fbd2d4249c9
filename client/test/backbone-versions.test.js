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

/** Backbone `pkg` (with Underscore `underscorePkg`) and a fresh adapter bound to it,
 * connected to `server`. */
function tabWith(pkg, underscorePkg, server) {
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
    const realtime = require(ADAPTER);
    const socket = ioV4(server.url, { forceNew: true, transports: ['websocket'] });
    realtime.socket = socket;
    return { Backbone, _, realtime, socket };
  } finally {
    Module._resolveFilename = resolve;
  }
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

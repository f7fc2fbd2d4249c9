'use strict';
// One file, every way of loading it: CommonJS, a plain script tag with
// globals, AMD, an ES module import. Loading never opens a socket by itself.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { execFileSync } = require('node:child_process');
const { freshBackbone, ADAPTER } = require('../test-support');

const source = fs.readFileSync(ADAPTER, 'utf8');
const underscoreSource = fs.readFileSync(require.resolve('underscore/underscore-umd.js'), 'utf8');
const backboneSource = fs.readFileSync(require.resolve('backbone/backbone.js'), 'utf8');

// A browser-like global scope: window, document with the adapter's script
// element as currentScript, and a fake `io` recording how it is called.
function browserScope({ src = 'http://127.0.0.1:4555/backbone.realtime.js', io } = {}) {
  const window = {
    location: { origin: 'http://127.0.0.1:9999' },
    document: {
      currentScript: null,
      getElementsByTagName: () => [],
    },
    setTimeout, clearTimeout, Promise,
  };
  window.window = window;
  window.self = window;
  const context = vm.createContext(window);
  vm.runInContext(underscoreSource, context, { filename: 'underscore.js' });
  vm.runInContext(backboneSource.replace(/^/, ''), context, { filename: 'backbone.js' });
  if (io) window.io = io;
  window.document.currentScript = { src };
  vm.runInContext(source, context, { filename: 'backbone.realtime.js' });
  window.document.currentScript = null;
  return window;
}

function fakeIo() {
  const calls = [];
  const io = (url, opts) => {
    calls.push({ url, opts });
    const handlers = {};
    return {
      connected: false,
      on(event, fn) { (handlers[event] || (handlers[event] = [])).push(fn); },
      emit() {},
      handlers,
    };
  };
  io.calls = calls;
  return io;
}

describe('loading the adapter', () => {
  it('as CommonJS, exports Backbone.realtime and installs its sync as Backbone.sync', () => {
    const { Backbone, realtime } = freshBackbone();
    assert.equal(realtime, Backbone.realtime);
    assert.equal(Backbone.sync, realtime.sync);
    assert.equal(typeof realtime.ajaxSync, 'function');
    assert.notEqual(realtime.ajaxSync, realtime.sync);
    assert.equal(realtime.socket, null, 'no socket until first use');
  });

  it('as a plain script, uses the globals Backbone, _ and io, and connects to the origin that served it on first use', () => {
    const io = fakeIo();
    const window = browserScope({ io });
    assert.equal(typeof window.Backbone.realtime, 'object');
    assert.equal(window.Backbone.sync, window.Backbone.realtime.sync);
    assert.equal(io.calls.length, 0);
    const Todos = window.Backbone.Collection.extend({ url: '/todos', realtime: true });
    new Todos().fetch();
    assert.equal(io.calls.length, 1);
    assert.equal(io.calls[0].url, 'http://127.0.0.1:4555');
    new Todos().fetch();
    assert.equal(io.calls.length, 1, 'one shared socket');
  });

  it('as a plain script, prefers Backbone.realtime.url and passes socketOptions', () => {
    const io = fakeIo();
    const window = browserScope({ io });
    window.Backbone.realtime.url = 'http://127.0.0.1:4000';
    window.Backbone.realtime.socketOptions = { transports: ['websocket'] };
    const model = new window.Backbone.Model({ id: 1 }, { realtime: true });
    model.urlRoot = '/todos';
    model.fetch();
    // (objects of the vm's realm: compare as JSON; a loopback host gets the short
    // reconnection back-off, under the app's own options)
    const { url, opts } = JSON.parse(JSON.stringify(io.calls[0]));
    assert.equal(url, 'http://127.0.0.1:4000');
    assert.deepEqual(opts.transports, ['websocket']);
    assert.equal(opts.reconnectionDelay, 100);
    assert.equal(opts.reconnectionDelayMax, 1000);
    // The tab's client id, for the server to tell this tab across reconnects: in
    // the query and, with the page, in the auth the socket sends on each connect.
    const id = window.Backbone.realtime.clientId();
    assert.match(id, /^tab-/);
    assert.deepEqual(opts.query, { client: id });
    const auth = io.calls[0].opts.auth;
    assert.equal(typeof auth, 'function');
    let sent = null;
    auth((value) => { sent = JSON.parse(JSON.stringify(value)); });
    assert.deepEqual(sent, { page: { title: null, url: 'http://127.0.0.1:9999' }, client: id });
  });

  it("as a plain script, keeps the app's own auth function and adds the client id and the page to what it gives", () => {
    const io = fakeIo();
    const window = browserScope({ io });
    window.Backbone.realtime.url = 'http://127.0.0.1:4000';
    window.Backbone.realtime.socketOptions = { auth: (cb) => cb({ token: 't-1' }) };
    new (window.Backbone.Collection.extend({ url: '/todos', realtime: true }))().fetch();
    const id = window.Backbone.realtime.clientId();
    let sent = null;
    io.calls[0].opts.auth((value) => { sent = JSON.parse(JSON.stringify(value)); });
    assert.deepEqual(sent, { page: { title: null, url: 'http://127.0.0.1:9999' }, client: id, token: 't-1' });
  });

  it('as a plain script loaded twice, keeps the first copy and its state', () => {
    const window = browserScope({ io: fakeIo() });
    const first = window.Backbone.realtime;
    vm.runInContext(source, vm.createContext(window));
    assert.equal(window.Backbone.realtime, first);
  });

  it('as an AMD module, asks for backbone and underscore and returns Backbone.realtime', () => {
    const { Backbone } = freshBackbone();
    delete Backbone.realtime;
    const _ = require('underscore');
    let deps, result;
    const define = (d, factory) => { deps = d; result = factory(Backbone, _); };
    define.amd = {};
    const context = vm.createContext({ define, setTimeout, clearTimeout, Promise, io: fakeIo() });
    vm.runInContext(source, context);
    assert.equal(JSON.stringify(deps), '["backbone","underscore"]');
    assert.equal(result, Backbone.realtime);
    assert.equal(typeof result.sync, 'function');
  });

  it('as an ES module import, gives Backbone.realtime as the default export', () => {
    // In a child process: an ES module graph of its own, as an app has.
    const mjs = path.join(path.dirname(ADAPTER), 'backbone.realtime.mjs');
    const code = `
      import realtime, { sync, ajaxSync, pending } from ${JSON.stringify(mjs)};
      import Backbone from 'backbone';
      console.log(JSON.stringify({
        isDefault: realtime === Backbone.realtime,
        sync: sync === Backbone.sync && sync === realtime.sync,
        ajaxSync: typeof ajaxSync === 'function' && ajaxSync !== sync,
        pending: pending === realtime.pending && Array.isArray(pending()),
      }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
      cwd: path.join(path.dirname(ADAPTER), '..'), encoding: 'utf8',
    });
    assert.deepEqual(JSON.parse(out), { isDefault: true, sync: true, ajaxSync: true, pending: true });
  });

  it('with no socket.io client and no socket, says what to load on first use', () => {
    const window = browserScope({});
    const Todos = window.Backbone.Collection.extend({ url: '/todos', realtime: true });
    assert.throws(() => new Todos().fetch(), /socket\.io/);
  });

  it('ships a .d.ts beside it that declares the module', () => {
    const dts = fs.readFileSync(path.join(path.dirname(ADAPTER), 'backbone.realtime.d.ts'), 'utf8');
    for (const name of ['RealtimeOptions', 'onConflict', 'ajaxSync', 'stopRealtime', 'startRealtime', "'resync'"]) {
      assert.ok(dts.includes(name), `${name} is declared`);
    }
  });
});

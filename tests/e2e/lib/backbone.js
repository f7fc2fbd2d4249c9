'use strict';
// A browser-like page in jsdom with real jQuery, Underscore, Backbone and the
// npm package backbone.iobind 0.4.9 (its iosync part replaces Backbone.sync,
// its iobind part adds ioBind), talking to the server through `window.socket`.

const fs = require('node:fs');
const { JSDOM } = require('jsdom');
const { jQueryFactory } = require('jquery/factory');
const { withTimeout } = require('./clients');

const SCRIPTS = [
  require.resolve('underscore/underscore-umd.js'),
  require.resolve('backbone'),
  require.resolve('backbone.iobind/dist/backbone.iosync.js'),
  require.resolve('backbone.iobind/dist/backbone.iobind.js'),
];

// Returns the jsdom window with Backbone (synced over `socket`) loaded.
function backbonePage(socket) {
  const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', {
    runScripts: 'outside-only',
    url: 'http://app.test/',
  });
  const { window } = dom;
  const $ = jQueryFactory(window);
  window.jQuery = window.$ = $;
  if (typeof $.Deferred !== 'function') throw new Error('jQuery loaded without $.Deferred');
  window.socket = socket;
  for (const file of SCRIPTS) window.eval(fs.readFileSync(file, 'utf8'));
  if (!window.Backbone || typeof window.Backbone.Model.prototype.ioBind !== 'function') {
    throw new Error('backbone.iobind did not load into the page');
  }
  return window;
}

// Turns a Backbone call taking {success, error} options into a promise of
// the success response; an error callback rejects with the server's error.
function backboneCall(what, start) {
  return withTimeout(new Promise((resolve, reject) => {
    start({
      success: (_model, response) => resolve(response),
      error: (_model, err) => reject(Object.assign(
        new Error(`${what} failed: ${JSON.stringify(err)}`), { serverError: err })),
    });
  }), 5000, what);
}

// Resolves with the arguments of the next `event` triggered on a Backbone object.
function nextBackboneEvent(target, event, what = event) {
  return withTimeout(new Promise((resolve) => {
    target.once(event, (...args) => resolve(args));
  }), 5000, what);
}

module.exports = { backbonePage, backboneCall, nextBackboneEvent };

//     backbone.realtime.js 0.1.0
//     (c) the Syncscope authors
//     Syncs Backbone models and collections over a Socket.IO connection,
//     speaking the native dialect of the Syncscope server (docs/PROTOCOL.md).
//     Opt-in per object: only models and collections with `realtime: true`
//     leave the original `Backbone.sync`.

(function(factory) {

  // Establish the root object, `window` (`self`) in the browser, or `global`
  // on the server. `globalThis` first, because an ES module import of this
  // file runs it with `this` undefined.
  var root = typeof globalThis === 'object' && globalThis ||
             typeof self === 'object' && self.self === self && self ||
             typeof global === 'object' && global.global === global && global;

  // Remember the script's own origin now: `document.currentScript` is only
  // set while the script runs, and the socket is created later, on first use.
  var origin = scriptOrigin(root);

  // AMD: Backbone and Underscore are modules; socket.io-client is optional
  // there, as the global `io` of its own script tag is the common setup.
  if (typeof define === 'function' && define.amd) {
    define(['backbone', 'underscore'], function(Backbone, _) {
      return factory(root, Backbone, _, root.io, origin);
    });

  // CommonJS (Node, bundlers). socket.io-client is optional: an app that
  // hands the adapter its own socket needs no `io` at all.
  } else if (typeof module === 'object' && module.exports) {
    var io;
    try { io = require('socket.io-client'); } catch (e) { io = root.io; }
    module.exports = factory(root, require('backbone'), require('underscore'), io, origin);

  // Plain script tag (and a side-effect ES module import in a browser):
  // globals `Backbone`, `_` and `io`.
  } else {
    factory(root, root.Backbone, root._, root.io, origin);
  }

  function scriptOrigin(root) {
    var doc = root && root.document;
    if (!doc) return null;
    var script = doc.currentScript;
    if (!script || !script.src) {
      var scripts = doc.getElementsByTagName('script');
      for (var i = scripts.length - 1; i >= 0; i--) {
        if (/backbone\.realtime(\.min)?\.m?js/.test(scripts[i].src)) { script = scripts[i]; break; }
      }
    }
    var src = script && script.src;
    var match = src && /^(https?:\/\/[^\/?#]+)/i.exec(src);
    if (match) return match[1];
    return root.location && root.location.origin || null;
  }

})(function(root, Backbone, _, io, scriptOrigin) {
  'use strict';

  if (!Backbone || !_) throw new Error('backbone.realtime.js needs Backbone and Underscore loaded first');
  // Loaded twice (a script tag and a bundle): keep the first, which owns the
  // sockets and the state of every subscription.
  if (Backbone.realtime && Backbone.realtime.VERSION) return Backbone.realtime;
  warnIfUnsupported(root, Backbone);

  // Backbone 1.2 to 1.6 are tested. An older one loads, but the app is told
  // at once, in the console, rather than by some odd failure later.
  function warnIfUnsupported(root, Backbone) {
    var match = /^(\d+)\.(\d+)/.exec(String(Backbone.VERSION || ''));
    var tooOld = match && (+match[1] < 1 || (+match[1] === 1 && +match[2] < 2));
    var console = root && root.console;
    if (tooOld && console && console.warn) {
      console.warn('backbone.realtime.js supports Backbone 1.2 to 1.6; this page has Backbone ' + Backbone.VERSION +
        '. Syncing may fail: load Backbone 1.2 or newer.');
    }
  }

  // Backbone.realtime
  // -----------------

  // The namespace is also an event bus: the app listens to 'connect',
  // 'disconnect', 'resync', 'push', 'error', 'queued' and 'sent' on it, e.g.
  // to show "offline" and what waits to be sent.
  var realtime = Backbone.realtime = _.extend({}, Backbone.Events, {
    VERSION: '0.1.0',

    // The `Backbone.sync` that was installed before us, usually the REST one.
    // Objects that are not realtime keep using it, and the `fallback: 'ajax'`
    // option sends there while the socket is offline.
    ajaxSync: Backbone.sync,

    // The shared socket. Set it to use your own; otherwise one is created on
    // first use, connected to `realtime.url`, or to the origin that served
    // this script (Syncscope serves it next to `/socket.io/socket.io.js`).
    socket: null,
    url: null,
    socketOptions: null,
    io: io || null,

    // Report the round trips of CRUD requests, as this page measured them, to a
    // server that asks for them (Syncscope's Stats panel; docs/PROTOCOL.md,
    // *Client latency*). Set to false to never send them.
    reportLatency: true,

    // Defaults of every per-call / per-object option (see docs/ADAPTER.md).
    defaults: {
      timeout: 10000,     // ms before an unanswered request fails with `timeout`
      queue: true,        // queue requests while offline, else fail with `offline`
      fallback: null,     // 'ajax': while offline, use `ajaxSync` instead
      onConflict: null,   // null | 'theirs' | 'ours' | function(error, model, options)
      updates: 'replace', // 'merge': an `update` from the server leaves other attributes be
      maxData: null       // bytes of `data` refused locally; null: learned from the server
    }
  });

  var ajaxSync = realtime.ajaxSync;
  var methods = ['create', 'read', 'update', 'patch', 'delete'];
  var optionNames = ['socket', 'timeout', 'queue', 'fallback', 'onConflict', 'updates', 'maxData'];

  // The transport's largest message (the server's, as Node's
  // `maxHttpBufferSize`): a bigger one closes the whole connection, so it is
  // refused before it is sent.
  var MAX_MESSAGE = 1000000;

  // Helpers
  // -------

  function isCollection(obj) {
    return obj instanceof Backbone.Collection ||
      !!(obj && _.isArray(obj.models) && typeof obj.add === 'function');
  }

  // An error shaped like the server's, so apps branch on `code` alone.
  function localError(code, message, extra) {
    return _.extend({code: code, message: message}, extra);
  }

  // Urls are compared the way the server normalises them: a leading `/`,
  // no trailing `/`. An absolute url loses its origin: the socket decides
  // where requests go, and the server only wants the path.
  function normalizeUrl(url) {
    url = String(url).replace(/^[a-z][a-z0-9+.\-]*:\/\/[^\/]*/i, '');
    if (url.charAt(0) !== '/') url = '/' + url;
    return url.replace(/\/+$/, '') || '/';
  }

  function modelKey(collectionUrl, id) {
    return normalizeUrl(collectionUrl) + '/' + encodeURIComponent(id);
  }

  // Is this object synced over the socket? A per-call `realtime` option wins,
  // then the object's own `realtime` (property or constructor option), then,
  // for a model, the collection it belongs to.
  function isRealtime(obj, options) {
    if (options && options.realtime != null) return !!options.realtime;
    if (!obj) return false;
    var own = _.result(obj, 'realtime');
    if (own != null) return !!own;
    if (obj.collection) return isRealtime(obj.collection);
    return false;
  }

  // An option is looked up on the call, the object, its collection, then
  // `realtime.defaults`.
  function option(name, obj, options) {
    if (options && options[name] !== undefined) return options[name];
    for (var o = obj; o; o = o.collection) {
      if (o[name] !== undefined) return o[name];
      if (o === o.collection) break;
    }
    return realtime.defaults[name];
  }

  // Keep an exception thrown by the app's callbacks from unwinding into
  // socket.io's packet handling, yet let it surface (console, test runner).
  function safely(fn) {
    try { fn(); } catch (e) { setTimeout(function() { throw e; }, 0); }
  }

  // A Promise that jQuery-era code can also call `done`/`fail`/`always` on,
  // since `save` and `fetch` return whatever sync returns. It never reports
  // an unhandled rejection by itself: `options.error` is the primary channel,
  // as with jqXHR.
  function makeThenable() {
    var settle = {};
    var promise = new Promise(function(resolve, reject) {
      settle.resolve = resolve; settle.reject = reject;
    });
    promise['catch'](function() {});
    promise.done = function(fn) { promise.then(fn, function() {}); return promise; };
    promise.fail = function(fn) { promise.then(null, fn); return promise; };
    promise.always = function(fn) { promise.then(fn, fn); return promise; };
    settle.promise = promise;
    return settle;
  }

  // Ids
  // ---

  // The server keeps a model's id in `id`. A model whose `idAttribute` is
  // another key (MongoDB's `_id`, `uuid`, `slug`) has it mapped both ways,
  // so the app never sees the wire's spelling.
  function idAttributeOf(obj) {
    var proto = isCollection(obj) ? obj.model && obj.model.prototype : obj;
    var attr = proto && proto.idAttribute;
    if (attr == null) return 'id';
    if (typeof attr !== 'string' || !attr) {
      throw new Error('backbone.realtime: idAttribute must be the name of a top-level attribute (a non-empty string), not ' + String(attr));
    }
    return attr;
  }

  // Attributes as the server stores them. Returns a local error when the
  // model has both its id attribute and an `id` attribute: the two would
  // land on the same key.
  function toWire(data, attr) {
    if (attr === 'id' || !data || typeof data !== 'object') return {data: data};
    if (_.has(data, 'id')) {
      return {error: localError('bad_request', 'This model has an "id" attribute besides its idAttribute "' + attr +
        '"; the server keeps the id in "id", so rename one of them.', {field: 'id'})};
    }
    var wire = _.clone(data);
    if (_.has(wire, attr)) { wire.id = wire[attr]; delete wire[attr]; }
    return {data: wire};
  }

  // Attributes as the app's models spell them.
  function fromWire(data, attr) {
    if (attr === 'id' || !data || typeof data !== 'object' || _.isArray(data)) return data;
    var attrs = _.clone(data);
    if (_.has(attrs, 'id')) { attrs[attr] = attrs.id; delete attrs.id; }
    return attrs;
  }

  // Live queries
  // ------------

  // `collection.fetch({data: {...}})` on a realtime collection is a live
  // query (docs/PROTOCOL.md, *Queries*): the read answers the matching
  // models, and the collection's subscription carries the query, so models
  // that start matching arrive ('add'), those that stop matching leave
  // ('remove') and the others merge. The query goes as the app wrote it,
  // but for the model's idAttribute, which the server spells `id`.
  function queryOf(collection, options) {
    var data = options && options.data;
    if (data == null) return {query: null};
    if (typeof data !== 'object' || _.isArray(data)) {
      return {error: localError('bad_request', 'fetch({data}) of a realtime collection takes an object of query ' +
        'parameters such as {done: true, _sort: "title"}; got ' + JSON.stringify(data) + '.', {field: 'query'})};
    }
    var attr = idAttributeOf(collection), query = {};
    _.each(data, function(value, key) {
      if (key === '_sort' && attr !== 'id' && (value === attr || value === '-' + attr)) value = value.replace(attr, 'id');
      query[key === attr ? 'id' : key] = value;
    });
    return {query: _.isEmpty(query) ? null : query};
  }

  // The key of a channel: its url, and for a query its parameters in one
  // order, whatever order the app wrote them in. Pushes carry their query
  // back, and find their channel by the same key.
  function channelKey(url, query) {
    var key = normalizeUrl(url);
    if (!query) return key;
    return key + '?' + JSON.stringify(_.map(_.keys(query).sort(), function(k) { return [k, query[k]]; }));
  }

  // Sizes
  // -----

  // UTF-8 bytes of a string: what the server counts.
  function byteLength(str) {
    var bytes = 0;
    for (var i = 0; i < str.length; i++) {
      var c = str.charCodeAt(i);
      if (c < 0x80) bytes += 1;
      else if (c < 0x800) bytes += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) { bytes += 4; i++; }
      else bytes += 3;
    }
    return bytes;
  }

  // Server state
  // ------------

  // Attributes the server no longer has, to unset when an `update` (which
  // replaces the model) comes back: every key but the id.
  function removedKeys(model, attrs) {
    if (!attrs || typeof attrs !== 'object') return [];
    return _.filter(_.keys(model.attributes), function(key) {
      return key !== model.idAttribute && !_.has(attrs, key);
    });
  }

  // Run several `set`s of one model as one change: each attribute fires its
  // `change:attr`, and 'change' fires once at the end, as for a single
  // `set` (this is Backbone's own nesting of sets, entered from outside).
  function inOneChange(model, options, fn) {
    if (model._changing) return fn();
    model._changing = true;
    model._previousAttributes = _.clone(model.attributes);
    model.changed = {};
    try {
      fn();
    } finally {
      if (!options.silent) {
        while (model._pending) {
          var pending = model._pending;
          model._pending = false;
          model.trigger('change', model, pending);
        }
      }
      model._pending = false;
      model._changing = false;
    }
  }

  // Give a model the server's state: `set` (through `apply`, which may be a
  // collection's merge), and for a replacing op, unset what is gone too.
  function setAsServer(model, attrs, op, options, apply) {
    var removed = op === 'update' && option('updates', model, options) !== 'merge' ? removedKeys(model, attrs) : [];
    if (!removed.length) return apply();
    inOneChange(model, options, function() {
      var unset = {};
      _.each(removed, function(key) { unset[key] = undefined; });
      model.set(unset, _.extend({}, options, {unset: true}));
      apply();
    });
  }

  // Links: one per socket
  // ---------------------

  // A link wraps one socket: its queue of requests waiting for a connection,
  // the requests waiting for an ack, and its channels (collection urls this
  // client listens to), which it resubscribes after every reconnect.
  var links = [];

  function Link(socket) {
    this.socket = socket;
    // What this socket's server has told of each stored model, keyed by its
    // normalised model url: the `version` to send with the next write
    // (optimistic concurrency), from the newest thing known (the highest
    // `seq`). Per socket: two servers, or two sockets of one server, never
    // mix up their records.
    this.known = {};
    // The server's `--max-data`, once a `too_large` answer told it.
    this.maxData = null;
    this.queue = [];
    this.inflight = [];
    this.busy = {};
    this.channels = {};
    this.everConnected = !!socket.connected;
    // Round trips waiting to be reported; `reporting` is the server's opt-in.
    this.reporting = null;
    this.trips = {};
    this.tripCount = 0;
    this.reportTimer = null;
    var link = this;
    socket.on('connect', function() { link.onConnect(); });
    socket.on('disconnect', function(reason) { link.onDisconnect(reason); });
    socket.on('change', function(change, answer) { link.onChange(change, answer); });
  }

  function linkFor(socket) {
    for (var i = 0; i < links.length; i++) if (links[i].socket === socket) return links[i];
    var link = new Link(socket);
    links.push(link);
    return link;
  }

  // The socket of an object: its own (property or constructor option), its
  // collection's, the shared `realtime.socket`, or a new shared one.
  function socketFor(obj, options) {
    var socket = options && options.socket;
    for (var o = obj; !socket && o; o = o.collection) {
      socket = _.result(o, 'socket');
      if (o === o.collection) break;
    }
    return socket || realtime.connect();
  }

  // Which tab is which: the page in the CONNECT packet
  // ---------------------------------------------------

  // Syncscope's inspector names each socket by the page it serves: `auth.page =
  // {title, url}` (socket.io-client 3 and later send `auth`; 2 has none). A
  // function, so that each reconnect tells the page as it is then; the app's own
  // `auth` (an object or a function) is kept and wins. The url is the path and
  // a `#/route`, without the query string or another fragment, which may hold
  // secrets and end up in recorded sessions.
  function withPage(options) {
    var given = options.auth;
    options.auth = function(cb) {
      var done = function(auth) {
        var page = pageNow();
        cb(page ? _.extend({page: page}, auth) : _.extend({}, auth));
      };
      if (typeof given === 'function') given(done);
      else done(given);
    };
    return options;
  }

  function pageNow() {
    var doc = root.document, loc = root.location;
    if (!doc || !loc) return null;
    var hash = /^#[\/!]/.test(loc.hash || '') ? loc.hash : '';
    return {title: doc.title || null, url: (loc.origin || '') + (loc.pathname || '') + hash};
  }

  // Create (once) and return the shared socket.
  realtime.connect = function() {
    if (realtime.socket) return realtime.socket;
    var ioFn = realtime.io || root.io;
    if (!ioFn) throw new Error('backbone.realtime: no socket.io client; load /socket.io/socket.io.js first or set Backbone.realtime.socket');
    var url = realtime.url || scriptOrigin;
    if (!url) throw new Error('backbone.realtime: no server url; set Backbone.realtime.url or Backbone.realtime.socket');
    // The client id first, so that `auth` is still the app's object (or
    // function) there; withPage then wraps it and adds the page on each connect.
    realtime.socket = ioFn(url, withPage(withLoopbackBackoff(url, withClientId(_.extend({}, realtime.socketOptions)))));
    linkFor(realtime.socket);
    return realtime.socket;
  };

  // Client identity
  // ---------------
  // One id per browser tab, kept in sessionStorage so that it survives reloads and
  // reconnects: the server (Syncscope) groups a tab's sockets by it, and its faults
  // can target the tab (`offline`, rules on `client`). Sent as `auth.client` (the
  // Socket.IO handshake) and as `client` in the query (socket.io-client 2 has no
  // auth; the Engine.IO handshake, where an offline tab is refused, sees only the
  // query). An app's own `auth.client` or `query.client` wins.
  var tabClientId = null;
  realtime.clientId = function() {
    if (tabClientId) return tabClientId;
    var key = 'backbone.realtime.client';
    var store = null;
    try { store = root.sessionStorage || null; } catch (e) { store = null; }
    var id = null;
    try { id = store && store.getItem(key); } catch (e) { id = null; }
    if (!id) {
      id = 'tab-' + Math.random().toString(36).slice(2, 10) + Date.now().toString(36).slice(-4);
      try { if (store) store.setItem(key, id); } catch (e) { /* private mode: per page */ }
    }
    tabClientId = id;
    return id;
  };

  function withClientId(options) {
    var id = realtime.clientId();
    var given = options.auth;
    if (typeof given === 'function') {
      // The app's own function: ask it on each connect, its `client` wins.
      options.auth = function(cb) {
        given(function(auth) { cb(_.extend({client: id}, auth)); });
      };
    } else {
      options.auth = _.extend({client: id}, given);
    }
    if (typeof options.query === 'string') {
      if (!/(^|&)client=/.test(options.query)) options.query += (options.query ? '&' : '') + 'client=' + encodeURIComponent(id);
    } else {
      options.query = _.extend({client: id}, options.query);
    }
    return options;
  }

  // Reconnecting to a server on this machine
  // ----------------------------------------

  // socket.io-client waits 1 s, then up to 5 s (±50%) between attempts: after
  // a restart of a server on this machine, which listens again within a
  // second, the app stayed offline for about 4 s. For a loopback host the
  // adapter's own socket retries after 100 ms, doubling up to 1 s. A server
  // elsewhere keeps socket.io's back-off, which spares a real network and
  // a server that is struggling. The app's `socketOptions` win.
  var LOOPBACK_RECONNECT = {reconnectionDelay: 100, reconnectionDelayMax: 1000};

  function withLoopbackBackoff(url, options) {
    return isLoopback(hostOf(url)) ? _.defaults(options, LOOPBACK_RECONNECT) : options;
  }

  // The host a socket.io url points at; a url without one (a path) is the
  // page's own host, as socket.io takes it.
  function hostOf(url) {
    var match = /^(?:[a-z][a-z0-9+.\-]*:)?\/\/(?:[^\/?#@]*@)?(\[[^\]]*\]|[^\/?#:]*)/i.exec(String(url || ''));
    if (match) return match[1].toLowerCase();
    var location = root.location;
    return location && location.hostname ? String(location.hostname).toLowerCase() : '';
  }

  // localhost (and *.localhost), 127.0.0.0/8 and ::1.
  function isLoopback(host) {
    host = host.replace(/^\[|\]$/g, '');
    return /^(.+\.)?localhost\.?$/.test(host) ||
      /^127(\.\d{1,3}){3}$/.test(host) || host === '::1' || /^(0+:){7}0*1$/.test(host);
  }

  realtime.isConnected = function(socket) {
    socket = socket || realtime.socket;
    return !!(socket && socket.connected);
  };

  // The link of an object's socket, without creating a socket.
  function existingLinkFor(obj, options) {
    var socket = options && options.socket;
    for (var o = obj; !socket && o; o = o.collection) {
      socket = _.result(o, 'socket');
      if (o === o.collection) break;
    }
    socket = socket || realtime.socket;
    if (!socket) return null;
    for (var i = 0; i < links.length; i++) if (links[i].socket === socket) return links[i];
    return null;
  }

  // The version the adapter would send for a model, or undefined.
  realtime.version = function(model, options) {
    var url;
    try { url = _.result(model, 'url'); } catch (e) { return undefined; }
    var link = url && existingLinkFor(model, options);
    var entry = link && link.known[normalizeUrl(url)];
    return entry && entry.version != null ? entry.version : undefined;
  };

  _.extend(Link.prototype, {

    // Learn a model's version, unless something newer is known already.
    remember: function(key, version, seq) {
      var entry = this.known[key] || (this.known[key] = {version: null, seq: -1});
      if (seq != null && seq < entry.seq) return entry;
      if (version != null) entry.version = version;
      if (seq != null) entry.seq = seq;
      return entry;
    },

    // Requests are sent in the order the app makes them, and the server
    // handles them in that order. While offline they wait in `queue`, unless
    // the app opted out of queueing. A socket that never connected yet is
    // still "connecting", not offline: the request waits for it, bounded by
    // its timeout.
    request: function(req) {
      if (!this.socket.connected && !req.queue) {
        if (this.everConnected) {
          return req.fail(localError('offline', 'The realtime connection is offline and this request was not queued.'));
        }
        req.startTimer(this);
      }
      this.queue.push(req);
      if (!this.socket.connected) reportQueued(req);
      this.pump();
    },

    // Send what can go. A write waits for the ack of the previous write of
    // the same model, since the version it must carry is only known then
    // (two quick saves, or two queued offline, would otherwise conflict with
    // each other); everything after it waits too, to keep the order.
    pump: function() {
      while (this.socket.connected && this.queue.length) {
        var req = this.queue[0];
        if (req.serial && this.busy[req.url]) return;
        this.queue.shift();
        this.send(req);
      }
    },

    send: function(req) {
      var link = this;
      if (req.done) return;
      if (req.serial) {
        this.busy[req.url] = req;
        req.fillVersion();
      }
      this.inflight.push(req);
      if (req.write) req.write.state = 'inflight';
      req.startTimer(this);
      var sentAt = clock();
      this.socket.emit(req.method, req.payload, function(err, result) {
        link.measured(req.method, clock() - sentAt);
        link.forget(req);
        if (req.done) {
          // Too late: the app was told `timeout`. Still learn the version, so
          // the next write of this model does not conflict with ourselves,
          // and show the write in the page's other objects of the url, as
          // the server will not push it to this socket.
          if (!err && result) {
            req.learn(result);
            req.fanOut(result)();
          }
          return;
        }
        req.answer(err, result);
      });
    },

    // A request is over: the next write of its model may go.
    complete: function(req) {
      this.forget(req);
      if (req.serial && this.busy[req.url] === req) {
        delete this.busy[req.url];
        this.pump();
      }
    },

    forget: function(req) {
      var i = _.indexOf(this.inflight, req);
      if (i >= 0) this.inflight.splice(i, 1);
      i = _.indexOf(this.queue, req);
      if (i >= 0) this.queue.splice(i, 1);
    },

    // On (re)connect: first rejoin every channel, with `since` so the server
    // sends what we missed, then send the queued requests in their order.
    // The server handles one socket's events in order, so catch-up changes
    // reflect the state before our queued writes, whose acks follow.
    onConnect: function() {
      var reconnect = this.everConnected;
      this.everConnected = true;
      _.each(this.channels, function(channel) { channel.subscribe(); });
      this.pump();
      realtime.trigger('connect', this.socket, {reconnect: reconnect});
    },

    // Requests already sent will never be answered on this connection: the
    // server sees a new socket after a reconnect. Fail them now; whether a
    // write was applied shows in the resync that follows.
    onDisconnect: function(reason) {
      // The next connection is a new socket of the server: it asks again.
      this.stopReporting();
      _.each(this.channels, function(channel) { channel.reset(); });
      var inflight = this.inflight;
      this.inflight = [];
      this.busy = {};
      _.each(inflight, function(req) {
        req.fail(localError('disconnected', 'The connection closed before the server answered; the request may or may not have been applied.', {reason: reason}));
      });
      realtime.trigger('disconnect', reason, this.socket);
      // What was waiting to be sent now waits for the connection.
      _.each(this.queue.slice(), reportQueued);
    },

    // A `change` sent with an acknowledgement request (Syncscope's injected
    // pushes) is answered with whether this page applied it, and why not:
    // the inspector can then tell a push the page ignored from one it showed.
    onChange: function(change, answer) {
      var reply = typeof answer === 'function' ? answer : null;
      if (!change || change.url == null) {
        if (reply) reply({applied: false, reason: 'the change has no url'});
        return;
      }
      var channel = this.channels[channelKey(change.url, change.query)];
      if (channel) channel.push(change, reply);
      else if (reply) reply({applied: false, reason: 'nothing on this page listens to ' + change.url + (change.query ? ' with that query' : '')});
    },

    channel: function(url, query) {
      var key = channelKey(url, query);
      return this.channels[key] || (this.channels[key] = new Channel(this, normalizeUrl(url), query));
    },

    // Client latency
    // --------------
    // A server that wants the round trips its requests took as this page saw
    // them (network and queues included, which the server cannot see) says so
    // in its subscribe acks: `clientLatency: {interval, samples}`. From then on,
    // for this connection, the round trip of each CRUD request (emit to ack
    // callback) is kept, and sent as `client_latency {samples: {method: [ms…]}}`
    // at most every `interval` ms, or as soon as `samples` of them wait. A
    // server that does not ask (an older one, another Socket.IO server) is never
    // sent any.
    optIn: function(asked) {
      if (!realtime.reportLatency || !asked || typeof asked !== 'object') return;
      var interval = +asked.interval, samples = Math.floor(+asked.samples);
      if (!(interval > 0) || !(samples > 0)) return;
      this.reporting = {interval: Math.max(interval, 100), samples: samples};
    },

    measured: function(method, ms) {
      if (!this.reporting || !(ms >= 0)) return;
      var list = this.trips[method] || (this.trips[method] = []);
      list.push(Math.round(ms * 100) / 100);
      this.tripCount++;
      if (this.tripCount >= this.reporting.samples) return this.report();
      if (!this.reportTimer) {
        var link = this;
        this.reportTimer = setTimeout(function() { link.report(); }, this.reporting.interval);
        // In Node, a report due must not keep the process alive.
        if (this.reportTimer && this.reportTimer.unref) this.reportTimer.unref();
      }
    },

    report: function() {
      clearTimeout(this.reportTimer);
      this.reportTimer = null;
      var trips = this.trips;
      this.trips = {};
      this.tripCount = 0;
      if (!this.reporting || !this.socket.connected || _.isEmpty(trips)) return;
      this.socket.emit('client_latency', {samples: trips});
    },

    stopReporting: function() {
      clearTimeout(this.reportTimer);
      this.reportTimer = null;
      this.reporting = null;
      this.trips = {};
      this.tripCount = 0;
    }
  });

  // Milliseconds for round trips: the page's monotonic clock where there is one.
  function clock() {
    var perf = root.performance;
    return perf && typeof perf.now === 'function' ? perf.now() : Date.now();
  }

  // Requests
  // --------

  // One CRUD request of `Backbone.sync`, from the call until the app hears
  // of its outcome through `options.success` or `options.error` (never both,
  // never twice) and the returned promise.
  function Request(method, model, options) {
    this.method = method;
    this.model = model;
    this.options = options;
    this.collection = isCollection(model) ? model : model.collection;
    this.timeout = option('timeout', model, options);
    this.queue = !!option('queue', model, options);
    this.attempts = 0;
    this.done = false;
    this.timer = null;
    this.serial = method === 'update' || method === 'patch' || method === 'delete';

    var url = options.url || _.result(model, 'url');
    if (!url) throw new Error('A "url" property or function must be specified');
    this.url = normalizeUrl(url);

    // Serialise now: `save({..}, {wait: true})` only shows the new
    // attributes on the model during this call.
    this.idAttribute = idAttributeOf(model);
    this.error = null;
    var payload = {url: this.url};
    if (method === 'create' || method === 'update' || method === 'patch') {
      var wire = toWire(options.attrs || model.toJSON(options), this.idAttribute);
      if (wire.error) this.error = wire.error;
      payload.data = wire.data;
    } else if (method === 'read' && !isCollection(model) && model.id != null) {
      payload.data = {id: model.id};
    }
    this.payload = payload;
    this.settle = makeThenable();
  }

  _.extend(Request.prototype, {

    // The version goes in when the write is sent, as the previous write of
    // the same model may have changed it since the call.
    fillVersion: function() {
      var entry = this.link.known[this.url];
      if (entry && entry.version != null) this.payload.version = entry.version;
      else delete this.payload.version;
    },

    startTimer: function(link) {
      var req = this;
      if (this.timer || !(this.timeout > 0) || this.timeout === Infinity) return;
      this.timer = setTimeout(function() {
        link.forget(req);
        req.fail(localError('timeout', 'The server did not answer ' + req.method + ' ' + req.url +
          ' within ' + req.timeout + ' ms.', {timeout: req.timeout}));
      }, this.timeout);
    },

    // Too big to send? The server's data limit once known (or the
    // `maxData` option), and always the transport's message limit, which
    // would close the connection and fail every request on it.
    tooLarge: function() {
      var data = this.payload.data;
      if (data === undefined) return null;
      var limit = option('maxData', this.model, this.options) || this.link.maxData;
      var dataBytes = byteLength(JSON.stringify(data) || '');
      if (limit && dataBytes > limit) {
        return localError('too_large', 'data is ' + dataBytes + ' bytes; the limit is ' + limit + ' bytes', {limit: limit, size: dataBytes});
      }
      // The packet adds its type and ack id to the event's JSON.
      var messageBytes = byteLength(JSON.stringify([this.method, this.payload])) + 24;
      if (messageBytes > MAX_MESSAGE) {
        return localError('too_large', 'the message is ' + messageBytes + ' bytes; the transport closes the connection over ' +
          MAX_MESSAGE + ' bytes', {limit: MAX_MESSAGE, size: messageBytes});
      }
      return null;
    },

    // The change a write made, as a push would carry it: the url of its
    // collection, the id as the key it is stored under.
    changeOf: function(result) {
      var method = this.method;
      if (method !== 'create' && method !== 'update' && method !== 'patch' && method !== 'delete') return null;
      var url = this.url, id;
      if (method === 'create') {
        id = result.data && result.data.id;
      } else {
        var slash = url.lastIndexOf('/');
        id = decodeURIComponent(url.slice(slash + 1));
        url = url.slice(0, slash) || '/';
      }
      if (id == null || result.seq == null) return null;
      return {url: url, op: method, id: String(id), data: result.data, version: result.version, seq: result.seq, prev: result.prev};
    },

    // Every other object of this page that follows the url applies an acked
    // write as it would a push: one page behaves like several tabs. Whoever
    // made the write (the model, its collection) shows it already.
    // Returns the delivery to call once the writer has applied the ack;
    // the writers are marked at once, so no change held meanwhile is
    // applied to them twice.
    fanOut: function(result) {
      var change = this.changeOf(result);
      var channel = change && this.link.channels[change.url];
      if (!channel) return function() {};
      // Our own write is the channel's next change too: the next push names it.
      var gap = channel.follow(change);
      var writers = [this.model, this.model.collection];
      channel.reflected(change, writers);
      return function() {
        channel.local(change, writers);
        if (gap) channel.recover(gap);
      };
    },

    // Record what an ack teaches about versions.
    learn: function(result) {
      var method = this.method, model = this.model, link = this.link;
      if (method === 'read' && isCollection(model)) {
        var base = this.url;
        _.each(result.versions || {}, function(version, id) {
          link.remember(modelKey(base, id), version, result.seq);
        });
        return;
      }
      var key = this.url;
      if (method === 'create') {
        var id = result.data && result.data.id;
        if (id == null) return;
        key = modelKey(this.url, id);
      }
      link.remember(key, result.version, result.seq);
    },

    // A model read whose snapshot (`seq`) is older than a change this page
    // already holds for the model.
    staleRead: function(result) {
      if (this.method !== 'read' || isCollection(this.model) || result.seq == null) return false;
      var entry = this.link.known[this.url];
      return !!entry && entry.seq > result.seq;
    },

    // The error-first ack.
    answer: function(err, result) {
      if (err) {
        if (err.code === 'conflict') return this.conflict(err);
        if (err.code === 'too_large' && err.limit > 0) this.link.maxData = err.limit;
        return this.fail(err);
      }
      result = result || {};
      this.learn(result);
      var req = this, model = this.model, attr = this.idAttribute;
      var data = _.isArray(result.data) ?
        _.map(result.data, function(attrs) { return fromWire(attrs, attr); }) :
        fromWire(result.data, attr);
      if (this.staleRead(result)) {
        // A push of a newer change reached the model before this answer (a
        // model's fetch holds no pushes back): the model already shows more
        // than the read's snapshot. The fetch succeeds with what it shows.
        data = _.clone(model.attributes);
        this.options.parse = false;
      }
      var deliver = this.fanOut(result);
      this.finish(function() {
        // An update replaces the stored model: the writer drops what the
        // server no longer has (e.g. a `save(null, {attrs})` of a few keys).
        if (req.method === 'update' && req.options.success) {
          var parsed = req.options.parse === false ? data : model.parse(_.clone(data), req.options);
          var removed = option('updates', model, req.options) !== 'merge' ? removedKeys(model, parsed) : [];
          if (removed.length) {
            var unset = {};
            _.each(removed, function(key) { unset[key] = undefined; });
            model.set(unset, {unset: true});
          }
        }
        if (req.options.success) req.options.success(data);
        req.settle.resolve(data);
      });
      if (this.hold) this.hold.release(result.seq, model);
      deliver();
      reportSent(this);
      if (isCollection(model)) return;
      if (this.method === 'delete') model.stopRealtime();
      else autoStart(model);
    },

    fail: function(err) {
      var req = this;
      if (this.hold) this.hold.release(null, this.model);
      this.finish(function() {
        if (req.options.error) req.options.error(err);
        req.settle.reject(err);
      });
    },

    finish: function(fn) {
      if (this.done) return;
      this.done = true;
      untrackWrite(this);
      clearTimeout(this.timer);
      safely(fn);
      if (this.link) this.link.complete(this);
    },

    // A stale `version`. Without a policy the app gets the error, whose
    // `current` holds the server's model; `fetch()` takes theirs and a retry
    // with `{onConflict: 'ours'}` forces ours. With a policy we resolve it.
    conflict: function(err) {
      var req = this;
      // The app sees the stored model in its own id spelling.
      var appErr = err;
      if (this.idAttribute !== 'id' && err.current && err.current.data) {
        appErr = _.extend({}, err, {current: _.extend({}, err.current, {data: fromWire(err.current.data, this.idAttribute)})});
      }
      var policy = option('onConflict', this.model, this.options);
      var decision = typeof policy === 'function' ?
        policy.call(this.model, appErr, this.model, this.options) : policy;
      Promise.resolve(decision).then(function(decision) {
        req.resolve(err, decision, appErr);
      }, function(e) {
        req.fail(appErr);
        setTimeout(function() { throw e; }, 0);
      });
    },

    resolve: function(err, decision, appErr) {
      var current = err.current;
      var model = this.model;
      var write = this.method === 'update' || this.method === 'patch' || this.method === 'delete';
      if (current && current.version != null && this.attempts < 3 && write &&
          (decision === 'ours' || (_.isObject(decision) && !_.isFunction(decision)))) {
        // Ours, or a merge the app computed: write again over the server's
        // version.
        this.attempts++;
        this.payload = _.extend({}, this.payload);
        if (_.isObject(decision) && decision !== 'ours' && this.method !== 'delete') {
          var wire = toWire(decision, this.idAttribute);
          if (wire.error) return this.fail(wire.error);
          this.payload.data = wire.data;
        }
        this.link.remember(this.url, current.version);
        clearTimeout(this.timer);
        this.timer = null;
        var link = this.link;
        delete link.busy[this.url];
        link.queue.unshift(this);
        if (this.write) this.write.state = 'queued';
        if (!link.socket.connected) reportQueued(this);
        return link.pump();
      }
      if (decision === 'theirs' && current && !isCollection(model)) {
        // Theirs: the model shows the server's state and learns its version.
        // The write did not happen, so the app still hears of the conflict.
        var key = this.method === 'create' && current.data && current.data.id != null ?
          modelKey(this.url, current.data.id) : this.url;
        this.link.remember(key, current.version);
        var opts = {realtime: true, conflict: appErr || err};
        if (current.data) model.set(model.parse(fromWire(current.data, this.idAttribute), opts), opts);
        if (this.method === 'delete' && this.collection && !this.collection.get(model)) {
          this.collection.add(model, opts);
        }
      }
      this.fail(appErr || err);
    }
  });

  // Channels
  // --------

  // A channel is a collection url this client listens to through one
  // socket, with the collections and models (its listeners) that apply its
  // changes. It remembers the last `seq` the server sent on it, the `since`
  // of the next subscribe.
  //
  // Each listener keeps its own record of what it reflects: `floor`, the
  // seq of its last whole read (every change up to it is in), and `seqs`,
  // per model id, the seq of the last change it shows. A change is applied
  // to a listener once, when it is newer than both. Per listener, because
  // the listeners of one url do not learn the same things at the same time:
  // one collection's read, or its own write, does not show in another.
  // Why `apply` left a change alone, in the words of the inspector's answer.
  function notApplied(change) {
    if (!change.reset && change.id == null) return 'the change has no id';
    return 'the page already shows this change or a newer one';
  }

  function Channel(link, url, query) {
    this.link = link;
    this.url = url;
    // A live query's channel hears only what concerns the query's result.
    this.query = query || null;
    this.key = channelKey(url, query);
    this.listeners = [];
    this.records = [];
    this.seq = null;
    // The seq of the channel's latest change we hold, from the subscribe ack's
    // `last` and each push or write ack whose `prev` is it (see `follow`);
    // null when unknown (a server without `prev`, or a resubscribe pending).
    this.last = null;
    this.everSubscribed = false;
    this.subscribed = false;
    this.subscribing = false;
    this.epoch = 0;
    this.holds = 0;
    this.held = [];
  }

  _.extend(Channel.prototype, {

    add: function(listener, seqs) {
      if (_.indexOf(this.listeners, listener) < 0) {
        this.listeners.push(listener);
        this.records.push({listener: listener, floor: -1, seqs: seqs || {}});
      }
      if (!this.subscribed && !this.subscribing && this.link.socket.connected) this.subscribe();
    },

    remove: function(listener) {
      var i = _.indexOf(this.listeners, listener);
      if (i >= 0) { this.listeners.splice(i, 1); this.records.splice(i, 1); }
      if (this.listeners.length) return;
      delete this.link.channels[this.key];
      if (this.link.socket.connected && (this.subscribed || this.subscribing)) {
        var payload = {url: this.url};
        if (this.query) payload.query = this.query;
        this.link.socket.emit('unsubscribe', payload, function() {});
      }
      this.subscribed = false;
    },

    // A channel that has not subscribed yet asks, at its first subscribe,
    // for the changes after `seq`.
    startAt: function(seq) {
      if (!this.everSubscribed && !this.subscribing && this.seq == null) this.seq = seq;
    },

    record: function(listener) {
      var i = _.indexOf(this.listeners, listener);
      return i >= 0 ? this.records[i] : null;
    },

    // While a subscribe or a collection read is answered, changes wait: the
    // ack's snapshot may be older than a push that overtook it, and must not
    // undo it. They are applied after; the reader, whose snapshot holds
    // those up to its seq, skips them. A hold belongs to one connection: a
    // disconnect drops them all.
    hold: function() {
      var channel = this, epoch = this.epoch, released = false;
      this.holds++;
      return {
        release: function(snapshotSeq, reader) {
          if (released || epoch !== channel.epoch) return;
          released = true;
          var record = reader && channel.record(reader);
          if (record && snapshotSeq != null) {
            record.floor = Math.max(record.floor, snapshotSeq);
            // Marks the snapshot covers are no longer needed.
            _.each(_.keys(record.seqs), function(id) {
              if (record.seqs[id] <= record.floor) delete record.seqs[id];
            });
          }
          channel.holds--;
          if (!channel.holds) channel.flushHeld();
        }
      };
    },

    flushHeld: function() {
      var held = this.held;
      this.held = [];
      for (var i = 0; i < held.length; i++) this.deliver(held[i]);
    },

    deliver: function(item) {
      if (this.holds) return this.held.push(item);
      if (item.exclude) {
        this.apply(item.change, {realtime: true, push: item.change, local: true}, item.exclude);
        return;
      }
      var applied = this.apply(item.change, {realtime: true, push: item.change});
      if (applied) realtime.trigger('push', item.change);
      if (item.reply) item.reply(applied ? {applied: true} : {applied: false, reason: notApplied(item.change)});
    },

    // The connection is gone: its subscription and holds with it.
    reset: function() {
      this.epoch++;
      this.last = null;
      this.subscribed = this.subscribing = false;
      this.holds = 0;
      this.flushHeld();
    },

    subscribe: function() {
      var channel = this, link = this.link;
      var since = this.seq;
      var payload = {url: this.url};
      if (since != null) payload.since = since;
      if (this.query) payload.query = this.query;
      this.subscribing = true;
      var hold = this.hold();
      var epoch = this.epoch;
      var timer = null, answered = false;
      var timeout = realtime.defaults.timeout;
      var socket = link.socket;
      if (timeout > 0 && timeout !== Infinity) {
        timer = setTimeout(function() {
          answered = true;
          if (epoch !== channel.epoch) return;
          channel.subscribing = false;
          hold.release();
          realtime.trigger('error', localError('timeout', 'The server did not answer subscribe ' + channel.url + '.'), {url: channel.url});
        }, timeout);
      }
      socket.emit('subscribe', payload, function(err, result) {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        if (epoch !== channel.epoch) return;
        channel.subscribing = false;
        if (err) {
          hold.release();
          realtime.trigger('error', err, {url: channel.url});
          return;
        }
        result = result || {};
        // The server's `--max-data`: writes over it are refused before sending.
        if (result.maxData > 0) link.maxData = result.maxData;
        // The server takes this page's round trips (*Client latency*).
        if (result.clientLatency) link.optIn(result.clientLatency);
        var first = !channel.everSubscribed;
        channel.subscribed = channel.everSubscribed = true;
        channel.caughtUp(since, result, first);
        hold.release();
      });
    },

    // The subscribe ack: nothing to do the first time; after a reconnect,
    // apply the changes we missed, or replace our state with the server's
    // when our `since` is out of its change log.
    caughtUp: function(since, result, first) {
      var channel = this, link = this.link;
      if (result.last != null) this.last = result.last;
      if (since == null) {
        if (result.seq != null) this.seen(result.seq);
        return;
      }
      if (first && !result.reset) {
        // Not a reconnect: a model that began to follow after its sync gets
        // the changes since that sync, as the pushes they are.
        _.each(result.changes || [], function(change) { channel.push(change); });
        if (result.seq != null) this.seen(result.seq);
        return;
      }
      var info = {url: this.url, since: since, seq: result.seq, reset: !!result.reset, changes: []};
      if (this.query) info.query = this.query;
      if (result.reset && this.query) {
        // A query's result whole: what left it while offline is removed.
        this.applyResult(result, {realtime: true, resync: info});
        if (result.seq != null) this.seq = result.seq;
      } else if (result.reset) {
        // The server's state replaces ours whole, seqs included: the
        // database may have been replaced, its seqs started over.
        var prefix = this.url + '/';
        _.each(_.keys(link.known), function(key) {
          if (key.slice(0, prefix.length) === prefix && key.indexOf('/', prefix.length) < 0) delete link.known[key];
        });
        _.each(result.versions || {}, function(version, id) {
          link.known[modelKey(channel.url, id)] = {version: version, seq: result.seq};
        });
        _.each(this.records, function(record) {
          record.floor = result.seq != null ? result.seq : -1;
          record.seqs = {};
        });
        _.each(this.listeners, function(listener) {
          safely(function() { listener.realtimeReset(result.data || [], {realtime: true, resync: info}); });
        });
        if (result.seq != null) this.seq = result.seq;
      } else {
        _.each(result.changes || [], function(change) {
          if (channel.apply(change, {realtime: true, resync: info})) info.changes.push(change);
        });
        if (result.seq != null) this.seen(result.seq);
      }
      _.each(this.listeners, function(listener) {
        if (isCollection(listener)) listener.trigger('resync', listener, info);
      });
      realtime.trigger('resync', info);
    },

    seen: function(seq) {
      if (seq != null && (this.seq == null || seq > this.seq)) this.seq = seq;
    },

    // A pushed change. It is the server's newest word on this url: the
    // `since` of a resubscribe starts from it.
    push: function(change, reply) {
      var gap = this.follow(change);
      this.seen(change.seq);
      this.deliver({change: change, reply: reply});
      if (gap) this.recover(gap);
    },

    // Gaps
    // ----
    // Every push and write ack names the channel's change before it
    // (`prev`). When that is not the last one we hold, changes of this
    // channel were lost on the way (a dropped push): ask for them again with
    // `subscribe since`. A change we already hold (a duplicate) moves
    // nothing; `apply` shows it once. Called in the order the socket
    // received things, since the server sends them in channel order.
    // Returns the gap to recover, or null.
    // A live query's channel has no chain (docs/PROTOCOL.md, *Queries and
    // gaps*): it hears only what concerns its result, so another tab's write
    // elsewhere in the url would look like a gap at every push.
    follow: function(change) {
      if (this.query) return null;
      if (change.prev == null || change.seq == null || this.last == null) return null;
      if (change.seq <= this.last) return null;
      if (change.prev === this.last) {
        this.last = change.seq;
        return null;
      }
      var gap = {url: this.url, since: this.last, prev: change.prev, seq: change.seq};
      // Unknown until the resubscribe answers with the channel's `last`.
      this.last = null;
      return gap;
    },

    recover: function(gap) {
      realtime.trigger('gap', gap);
      // The catch-up starts at the last change before the gap, not at the
      // newest seq seen: that one came after what was lost.
      this.seq = gap.since;
      if (this.subscribed && !this.subscribing && this.link.socket.connected) this.subscribe();
    },

    // A write of this page was acked: its writers (`exclude`) already show
    // it; every other listener applies it as a push, in turn with the
    // pushes. It does not move `seq`: a push of another client's older
    // change may still be on its way, and a resubscribe must not skip it.
    local: function(change, exclude) {
      this.deliver({change: change, exclude: exclude});
    },

    // The writers of a change show it already: never apply it to them.
    reflected: function(change, writers) {
      _.each(this.records, function(record) {
        if (_.indexOf(writers, record.listener) < 0) return;
        var seq = record.seqs[change.id];
        if (seq == null || change.seq > seq) record.seqs[change.id] = change.seq;
      });
    },

    // Apply a change to every listener that does not reflect it yet (a
    // push that raced a read, our own write coming back in a catch-up, a
    // write of this page already shown by its writer). Returns whether any
    // listener applied it.
    apply: function(change, options, exclude) {
      if (change.reset) return this.applyResult(change, options);
      if (change.id == null) return false;
      var id = String(change.id);
      this.link.remember(modelKey(this.url, id), change.version, change.seq);
      var applied = false;
      _.each(this.records.slice(), function(record) {
        var reflects = change.seq != null &&
          (change.seq <= record.floor || (record.seqs[id] != null && change.seq <= record.seqs[id]));
        if (exclude && _.indexOf(exclude, record.listener) >= 0) reflects = true;
        if (change.seq != null && (record.seqs[id] == null || change.seq > record.seqs[id])) record.seqs[id] = change.seq;
        if (reflects) return;
        applied = true;
        safely(function() {
          // A query's model that is no longer in its result leaves it.
          if (change.match === false) record.listener.realtimeLeave(change, options);
          else record.listener.realtimeApply(change, options);
        });
      });
      return applied;
    },

    // A live query's result whole (its window changed, or a catch-up): each
    // listener that has not read anything newer shows exactly it.
    applyResult: function(result, options) {
      var channel = this, link = this.link, applied = false;
      _.each(result.versions || {}, function(version, id) {
        link.remember(modelKey(channel.url, id), version, result.seq);
      });
      _.each(this.records.slice(), function(record) {
        if (result.seq != null && result.seq <= record.floor) return;
        if (result.seq != null) record.floor = result.seq;
        applied = true;
        safely(function() { record.listener.realtimeResult(result.data || [], options); });
      });
      return applied;
    }
  });

  // Pending writes
  // --------------

  // A write made through the socket is only local until the server acks it.
  // The app can show that: `realtime.pending(obj)` lists the writes not
  // acknowledged yet, 'queued' says that a write is held because the
  // socket is offline, and 'sent' that the server has acknowledged a write
  // (any write, queued or not). Both fire on the model (and so on its
  // collection) and on `Backbone.realtime`, with `(model, write)`. A write
  // leaves `pending()` with 'sent', or with the model's 'error' (Backbone's,
  // from `options.error`) when it fails.
  var pendingWrites = [];
  var writeMethods = ['create', 'update', 'patch', 'delete'];

  function trackWrite(req) {
    if (!_.contains(writeMethods, req.method)) return;
    // What the app sees of it; `state` follows the request.
    req.write = {
      model: req.model,
      method: req.method,
      url: req.url,
      data: req.payload.data,
      state: 'queued',
      offline: false
    };
    pendingWrites.push(req);
  }

  function untrackWrite(req) {
    var i = _.indexOf(pendingWrites, req);
    if (i >= 0) pendingWrites.splice(i, 1);
  }

  // A write waits for the connection: said once per write.
  function reportQueued(req) {
    var write = req.write;
    if (!write || req.done || write.offline) return;
    write.offline = true;
    safely(function() { req.model.trigger('queued', req.model, write); });
    safely(function() { realtime.trigger('queued', req.model, write); });
  }

  // The server acknowledged a write; the model shows its answer already.
  function reportSent(req) {
    var write = req.write;
    if (!write) return;
    write.state = 'sent';
    safely(function() { req.model.trigger('sent', req.model, write); });
    safely(function() { realtime.trigger('sent', req.model, write); });
  }

  // The writes not acknowledged yet, oldest first: all of them, a model's,
  // or those of a collection's models (and of the collection itself).
  realtime.pending = function(obj) {
    var writes = [];
    _.each(pendingWrites, function(req) {
      if (obj && req.model !== obj && req.collection !== obj) return;
      writes.push(req.write);
    });
    return writes;
  };

  // Start listening to pushes of the model's collection url once a realtime
  // model outside a realtime collection has been synced.
  function autoStart(model) {
    if (model._realtimeStopped || model._realtimeChannel) return;
    if (model.collection && isRealtime(model.collection)) return;
    if (!isRealtime(model) || model.isNew()) return;
    model.startRealtime();
  }

  // The sync
  // --------

  // The one `Backbone.sync`: realtime objects go over the socket, every
  // other object to the sync that was there before.
  realtime.sync = function(method, model, options) {
    options = options || {};
    if (!isRealtime(model, options)) return ajaxSync.apply(this, arguments);
    return realtime.socketSync(method, model, options);
  };

  // Always over the socket; usable as a `sync` of your own objects.
  realtime.socketSync = function(method, model, options) {
    options = options || {};
    if (!_.contains(methods, method)) throw new Error('backbone.realtime: unknown sync method ' + method);
    var socket = socketFor(model, options);
    var link = linkFor(socket);
    if (!socket.connected && link.everConnected && option('fallback', model, options) === 'ajax') {
      return ajaxSync.call(this, method, model, options);
    }
    var req = new Request(method, model, options);
    req.link = link;

    // A collection's first fetch starts its subscription, sent before the
    // read so that no change falls between the two; pushes then wait for
    // the read's answer.
    if (method === 'read' && isCollection(model)) {
      var query = queryOf(model, options);
      if (query.error) {
        req.error = query.error;
      } else {
        if (query.query) req.payload.query = query.query;
        switchQuery(model, query.query, req.url);
        if (!model._realtimeStopped && !model._realtimeChannel) model.startRealtime({socket: socket});
        var channel = model._realtimeChannel;
        if (channel && channel.link === link && channel.key === channelKey(req.url, query.query)) req.hold = channel.hold();
      }
    }

    var promise = req.settle.promise;
    options.xhr = promise;
    // Refused here, as the server would, without touching the socket (and,
    // for a message over the transport's limit, without closing it).
    var refusal = req.error || req.tooLarge();
    // Pending from the start: a 'request' handler already sees it.
    if (!refusal) trackWrite(req);
    model.trigger('request', model, promise, options);
    if (refusal) {
      if (req.hold) req.hold.release(null, model);
      req.hold = null;
      Promise.resolve().then(function() { req.fail(refusal); });
      return promise;
    }
    link.request(req);
    return promise;
  };

  Backbone.sync = realtime.sync;

  // Collections
  // -----------

  // A fetch with another query (or none) than the collection's channel has:
  // the collection leaves that channel for the new query's.
  function switchQuery(collection, query, url) {
    collection._realtimeQuery = query;
    var channel = collection._realtimeChannel;
    if (!channel || channel.key === channelKey(url, query)) return;
    channel.remove(collection);
    delete collection._realtimeChannel;
  }

  // Leaving a channel is the same for a collection and a lone model.
  function stopRealtime() {
    this._realtimeStopped = true;
    if (this._realtimeChannel) this._realtimeChannel.remove(this);
    delete this._realtimeChannel;
    return this;
  }

  var CollectionProto = Backbone.Collection.prototype;
  var ModelProto = Backbone.Model.prototype;

  // Constructor options: `new Todos([], {realtime: true, socket: s})`.
  // Backbone keeps no unknown options, so pick ours before `initialize`.
  // (A class that defines its own `preinitialize` should call this one.)
  function pickOptions(obj, options) {
    if (!options) return;
    if (options.realtime != null) obj.realtime = options.realtime;
    for (var i = 0; i < optionNames.length; i++) {
      var name = optionNames[i];
      if (options[name] !== undefined) obj[name] = options[name];
    }
  }

  // Backbone before 1.4
  // -------------------

  // Backbone 1.2 and 1.3 (TodoMVC's, and still many a real app's) have no
  // `preinitialize`: their constructors never call one, so constructor
  // options would be lost. The adapter installs constructors that call it
  // first, as 1.4 does. They share the originals' prototypes, so
  // `instanceof` holds either way and classes extended from them get it
  // too; a class extended before the adapter loaded keeps the original
  // constructor (set the options as properties there).
  if (typeof ModelProto.preinitialize !== 'function') {
    var OriginalModel = Backbone.Model;
    Backbone.Model = callingPreinitialize(OriginalModel);
    Backbone.Collection = callingPreinitialize(Backbone.Collection);
    if (CollectionProto.model === OriginalModel) CollectionProto.model = Backbone.Model;
  }

  function callingPreinitialize(Base) {
    var Constructor = function() {
      this.preinitialize.apply(this, arguments);
      return Base.apply(this, arguments);
    };
    Constructor.prototype = Base.prototype;
    _.extend(Constructor, Base);
    return Constructor;
  }

  var collectionPreinitialize = CollectionProto.preinitialize;
  CollectionProto.preinitialize = function(models, options) {
    pickOptions(this, options);
    if (collectionPreinitialize) return collectionPreinitialize.apply(this, arguments);
  };

  var modelPreinitialize = ModelProto.preinitialize;
  ModelProto.preinitialize = function(attrs, options) {
    pickOptions(this, options);
    if (modelPreinitialize) return modelPreinitialize.apply(this, arguments);
  };

  _.extend(CollectionProto, {

    // Listen to the pushes of this collection's url. Called by the first
    // fetch; call it yourself for a collection that is never fetched (e.g.
    // bootstrapped from the page). Collections derived from a realtime one
    // (`new Todos(todos.where({done: true}))`) do not subscribe until asked.
    startRealtime: function(options) {
      delete this._realtimeStopped;
      if (this._realtimeChannel) return this;
      var url = _.result(this, 'url');
      if (!url) throw new Error('A "url" property or function must be specified');
      var link = linkFor(socketFor(this, options));
      this._realtimeChannel = link.channel(url, this._realtimeQuery);
      this._realtimeChannel.add(this);
      return this;
    },

    // Leave the channel: pushes stop; syncing still goes over the socket.
    stopRealtime: stopRealtime,

    realtimeApply: function(change, options) {
      var existing = this.get(change.id);
      if (change.op === 'delete') {
        if (!existing) return;
        // As `model.destroy()` does locally, so that views bound to the
        // model's 'destroy' remove themselves.
        existing.stopListening();
        existing.trigger('destroy', existing, this, options);
        return;
      }
      var data = fromWire(change.data, idAttributeOf(this));
      // `parse` is the model's: a change carries one model, not a
      // collection response.
      if (existing) {
        var collection = this, attrs = existing.parse(data, options);
        setAsServer(existing, attrs, change.op, options, function() {
          collection.add(attrs, _.extend({merge: true}, options));
        });
      } else {
        var model = this._prepareModel(data, _.extend({parse: true}, options));
        if (model) this.add(model, options);
      }
    },

    realtimeReset: function(data, options) {
      var attr = idAttributeOf(this);
      this.reset(_.map(data, function(attrs) { return fromWire(attrs, attr); }), _.extend({parse: true}, options));
    },

    // A live query's model that is no longer in its result.
    realtimeLeave: function(change, options) {
      var existing = this.get(change.id);
      if (existing) this.remove(existing, options);
    },

    // A live query's result whole: models enter ('add'), leave ('remove'),
    // take the server's state and its order, as a fetch would give them.
    realtimeResult: function(data, options) {
      var collection = this, attr = idAttributeOf(this);
      var list = _.map(data, function(attrs) { return fromWire(attrs, attr); });
      _.each(list, function(attrs) {
        var existing = attrs && collection.get(attrs[attr]);
        if (!existing) return;
        var parsed = existing.parse(_.clone(attrs), options);
        setAsServer(existing, parsed, 'update', options, function() { existing.set(parsed, options); });
      });
      this.set(list, _.extend({parse: true, merge: true, add: true, remove: true}, options));
    }
  });

  // Models
  // ------

  _.extend(ModelProto, {

    // Listen to the pushes of this model alone (outside a realtime
    // collection): started after its first sync.
    startRealtime: function(options) {
      delete this._realtimeStopped;
      if (this._realtimeChannel || this.isNew()) return this;
      var link = linkFor(socketFor(this, options));
      this._realtimeChannel = link.channel(collectionUrlOf(this));
      // It shows what its own last sync brought, whose seq the link knows.
      var seqs = {}, entry;
      try { entry = link.known[normalizeUrl(_.result(this, 'url'))]; } catch (e) { entry = null; }
      if (entry && entry.seq >= 0) {
        seqs[String(this.id)] = entry.seq;
        // It subscribes after that sync: a new channel asks for what was
        // committed since, so that no change falls between the two.
        this._realtimeChannel.startAt(entry.seq);
      }
      this._realtimeChannel.add(this, seqs);
      return this;
    },

    stopRealtime: stopRealtime,

    realtimeApply: function(change, options) {
      if (String(change.id) !== String(this.id)) return;
      if (change.op === 'delete') {
        this.stopRealtime();
        this.stopListening();
        this.trigger('destroy', this, this.collection, options);
        return;
      }
      var model = this, attrs = this.parse(fromWire(change.data, idAttributeOf(this)), options);
      setAsServer(this, attrs, change.op, options, function() { model.set(attrs, options); });
    },

    realtimeReset: function(data, options) {
      var self = this;
      var mine = _.find(data, function(attrs) { return attrs && String(attrs.id) === String(self.id); });
      if (!mine) return;
      var attrs = this.parse(fromWire(mine, idAttributeOf(this)), options);
      setAsServer(this, attrs, 'update', options, function() { self.set(attrs, options); });
    }
  });

  function collectionUrlOf(model) {
    var base = _.result(model, 'urlRoot') || (model.collection && _.result(model.collection, 'url'));
    if (base) return base;
    return normalizeUrl(_.result(model, 'url')).replace(/\/[^\/]*$/, '');
  }

  realtime.normalizeUrl = normalizeUrl;
  // For tests and tools: what is known of versions through a socket (the
  // shared one by default).
  realtime._known = function(socket) {
    var link = existingLinkFor(null, {socket: socket || realtime.socket});
    return link ? link.known : {};
  };

  return realtime;
});

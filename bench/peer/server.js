// The reference peer of `make bench`: what a Backbone developer would write from the
// "Backbone Realtime" note instead of running Syncscope — the npm `socket.io` 4 server
// and `better-sqlite3` (WAL, synchronous=NORMAL, the durability Syncscope has), speaking
// the same native dialect (docs/PROTOCOL.md): create/read/update/patch/delete with
// error-first acks sent after the commit, versions with conflicts, a seq per write, and
// subscribe + `change` pushes to the channel's other members.
//
// It exists so Syncscope's figures have something to be compared with, measured by the
// same load generator on the same machine in the same run. It is deliberately plain
// (no batching, no caching beyond prepared statements): the code an app developer
// would write in an afternoon, not a tuned server.
//
// Usage: node bench/peer/server.js PORT DB_FILE

'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { Server } = require('socket.io');
const Database = require('better-sqlite3');

const port = Number(process.argv[2] || 4100);
const dbFile = process.argv[3] || 'peer.sqlite';
const RETAIN = 10000;

const db = new Database(dbFile);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`
  CREATE TABLE IF NOT EXISTS models (
    url TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, version INTEGER NOT NULL,
    created INTEGER NOT NULL, PRIMARY KEY (url, id));
  CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, id TEXT NOT NULL,
    op TEXT NOT NULL, data TEXT NOT NULL, version INTEGER NOT NULL);
`);

const q = {
  get: db.prepare('SELECT data, version FROM models WHERE url = ? AND id = ?'),
  list: db.prepare('SELECT id, data, version FROM models WHERE url = ? ORDER BY created'),
  insert: db.prepare('INSERT INTO models (url, id, data, version, created) VALUES (?, ?, ?, ?, ?)'),
  put: db.prepare('UPDATE models SET data = ?, version = ? WHERE url = ? AND id = ?'),
  del: db.prepare('DELETE FROM models WHERE url = ? AND id = ?'),
  log: db.prepare('INSERT INTO changes (url, id, op, data, version) VALUES (?, ?, ?, ?, ?)'),
  lastSeq: db.prepare("SELECT COALESCE(MAX(seq), 0) AS seq FROM changes"),
  prune: db.prepare('DELETE FROM changes WHERE seq <= ?'),
};
let created = Date.now() * 1000;
let writes = 0;

class Failure extends Error {
  constructor(code, message, extra) {
    super(message);
    this.body = { code, message, ...extra };
  }
}

// '/todos/42' -> { collection: '/todos', id: '42' }
function parseUrl(raw) {
  if (typeof raw !== 'string' || raw.length === 0) throw new Failure('bad_request', 'url is required', { field: 'url' });
  const url = ('/' + raw).replace(/^\/+/, '/').replace(/\/+$/, '');
  if (url === '' || url.includes('?')) throw new Failure('bad_request', 'invalid url', { field: 'url' });
  const cut = url.lastIndexOf('/');
  return { url, collection: cut > 0 ? url.slice(0, cut) : null, id: decodeURIComponent(url.slice(cut + 1)) };
}

function requireData(data) {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new Failure('bad_request', 'data must be an object', { field: 'data' });
  }
}

function current(collection, id) {
  const row = q.get.get(collection, id);
  return row && { data: JSON.parse(row.data), version: row.version };
}

// One write in one transaction: checks the version, stores, logs the change.
const write = db.transaction((op, collection, id, data, expected) => {
  const cur = current(collection, id);
  if (op === 'create' && cur) throw new Failure('conflict', 'exists', { current: cur });
  if (op !== 'create' && !cur && !(op === 'update' && expected === undefined)) {
    throw new Failure('not_found', 'no such model', { url: `${collection}/${id}` });
  }
  if (cur && expected !== undefined && expected !== cur.version) {
    throw new Failure('conflict', 'stale version', { current: cur });
  }
  let next = data;
  if (op === 'patch') next = { ...cur.data, ...data };
  if (op === 'delete') next = cur.data;
  const version = cur ? cur.version + 1 : 1;
  const text = JSON.stringify(next);
  if (op === 'delete') q.del.run(collection, id);
  else if (cur) q.put.run(text, version, collection, id);
  else q.insert.run(collection, id, text, version, created++);
  const seq = Number(q.log.run(collection, id, op, text, version).lastInsertRowid);
  if (++writes % 1000 === 0) q.prune.run(seq - RETAIN);
  return { data: next, version, seq };
});

function handleWrite(socket, op, arg) {
  const { url, collection, id } = parseUrl(arg.url);
  let target = { collection, id };
  if (op === 'create') {
    requireData(arg.data);
    const given = arg.data.id;
    const newId = given === undefined || given === null ? crypto.randomUUID() : String(given);
    const data = given === undefined || given === null ? { ...arg.data, id: newId } : arg.data;
    target = { collection: url, id: newId };
    arg = { ...arg, data };
  } else {
    if (!collection) throw new Failure('bad_request', 'a model url is needed', { field: 'url' });
    if (op !== 'delete') requireData(arg.data);
  }
  const data = op === 'update' ? { ...arg.data, id: arg.data.id ?? target.id } : arg.data;
  const result = write(op, target.collection, target.id, data, arg.version);
  socket.to(target.collection).emit('change', { url: target.collection, op, id: target.id, ...result });
  return result;
}

function handleRead(arg) {
  const { url, collection, id } = parseUrl(arg.url);
  const seq = q.lastSeq.get().seq;
  const model = collection && current(collection, id);
  if (model) return { ...model, seq };
  const rows = q.list.all(url);
  const versions = {};
  for (const r of rows) versions[r.id] = r.version;
  return { data: rows.map((r) => JSON.parse(r.data)), versions, seq };
}

const httpServer = http.createServer();
const io = new Server(httpServer, { cors: { origin: true } });

io.on('connection', (socket) => {
  const on = (event, fn) =>
    socket.on(event, (arg, ack) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      try {
        if (arg === null || typeof arg !== 'object') throw new Failure('bad_request', 'argument must be an object', { field: 'arg' });
        reply(null, fn(arg));
      } catch (err) {
        if (err instanceof Failure) reply(err.body);
        else reply({ code: 'internal', message: String(err && err.message) });
      }
    });
  for (const op of ['create', 'update', 'patch', 'delete']) on(op, (arg) => handleWrite(socket, op, arg));
  on('read', handleRead);
  on('subscribe', (arg) => {
    const { url } = parseUrl(arg.url);
    socket.join(url);
    return { url, seq: q.lastSeq.get().seq };
  });
  on('unsubscribe', (arg) => {
    const { url } = parseUrl(arg.url);
    socket.leave(url);
    return { url };
  });
});

httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write(`peer listening on http://127.0.0.1:${port}\n`);
});

'use strict';
// Client latency (docs/PROTOCOL.md, *Client latency*): the adapter measures each CRUD
// request's round trip as the page sees it (emit to ack callback) and reports them in
// small batches, `client_latency {samples: {method: [ms…]}}`, only to a server that
// asked for them in its subscribe ack (`clientLatency`). Against the real server, a
// delay fault on `update` shows in the round trips the server then holds; against a
// Socket.IO server that does not ask (an older Syncscope, someone else's server, here
// Node's real `socket.io` answering the native dialect), nothing is ever sent.

const { control: controlWithToken } = require('../../tests/support/server');
const http = require('node:http');
const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { Server } = require('socket.io');
const { tab, until, sleep, startServer, connected, outcome } = require('../test-support');

const TOKEN = 'client-latency-token';
const Todos = (t) => t.Backbone.Collection.extend({ url: '/todos', realtime: true });

const control = (server, pathname, body) => controlWithToken(server, TOKEN, pathname, body);

// Node's socket.io server speaking enough of the native dialect for a collection's
// fetch and create; `clientLatency` is what its subscribe ack says (undefined: it
// says nothing, as a server before client latency). It keeps every event it gets.
async function nodeServer(clientLatency) {
  const httpServer = http.createServer();
  const io = new Server(httpServer);
  const events = [];
  let seq = 0;
  io.on('connection', (socket) => {
    socket.onAny((event, arg) => events.push([event, arg]));
    socket.on('subscribe', (arg, ack) => ack(null, {
      url: arg.url, seq, last: 0, maxData: 262144,
      ...(clientLatency ? { clientLatency } : {}),
    }));
    socket.on('read', (arg, ack) => ack(null, { data: [], versions: {}, seq }));
    socket.on('create', (arg, ack) => {
      seq++;
      ack(null, { data: { ...arg.data, id: `m${seq}` }, version: 1, seq, prev: seq - 1 });
    });
  });
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${httpServer.address().port}`,
    events,
    reports: () => events.filter(([e]) => e === 'client_latency').map(([, arg]) => arg),
    stop: () => new Promise((resolve) => { io.close(); httpServer.close(() => resolve()); }),
  };
}

describe('client latency reports', { timeout: 60000 }, () => {
  let server, a;
  afterEach(async () => {
    if (a) a.close();
    a = null;
    if (server) await server.stop();
    server = null;
  });

  it('reports each round trip to Syncscope, which holds them for the Stats panel; a delayed update shows its delay', async () => {
    server = await startServer({ args: ['--token', TOKEN] });
    const rule = await control(server, '/command', {
      command: 'fault_add', rule: { when: { event: 'update' }, action: 'delay', ms: 400 },
    });
    assert.equal(rule.result, 'ok', JSON.stringify(rule));
    a = tab(server, { reportLatency: true });
    const reports = [];
    a.socket.onAnyOutgoing((event, arg) => { if (event === 'client_latency') reports.push(arg); });
    const todos = new (Todos(a))();
    await new Promise((resolve, reject) => todos.fetch({ success: resolve, error: (c, e) => reject(e) }));
    await connected(a.socket);
    const created = await outcome((o) => todos.create({ title: 'milk' }, { ...o, wait: true }));
    assert.equal(created.ok, true);
    const saved = await outcome((o) => todos.first().save({ title: 'oat milk' }, o));
    assert.equal(saved.ok, true);

    // The page sent its round trips, the update's with the server's delay in it.
    await until(() => reports.some((r) => r.samples.update), 'a report with the update', 5000);
    const sent = { read: [], create: [], update: [] };
    for (const r of reports) for (const [op, list] of Object.entries(r.samples)) sent[op].push(...list);
    assert.equal(sent.read.length, 1, JSON.stringify(reports));
    assert.equal(sent.create.length, 1);
    assert.equal(sent.update.length, 1);
    assert.ok(sent.update[0] >= 350, `the update took ${sent.update[0]} ms as the page saw it, the delay is 400 ms`);
    assert.ok(sent.create[0] < sent.update[0], 'the create was not delayed');

    // The server keeps them: per socket and overall.
    const stats = await control(server, '/stats');
    assert.equal(stats.client_latency.reporting, 1, JSON.stringify(stats.client_latency));
    assert.equal(stats.client_latency.count, 3);
    const update = stats.client_latency.ops.find((o) => o.op === 'update');
    assert.ok(update && update.p99_us >= 350000, JSON.stringify(stats.client_latency.ops));
    const sockets = await control(server, '/sockets');
    const mine = sockets.find((s) => s.id === a.socket.id);
    assert.equal(mine.client_latency.count, 3);
    // Reports are not requests: the socket's counters and the log leave them out.
    assert.equal(mine.events_in, 4, 'subscribe, read, create, update');
    const { records } = await control(server, '/events?event=client_latency&limit=10');
    assert.deepEqual(records, []);
  });

  it('sends nothing to a server that does not ask, and reports once the same server asks', async () => {
    for (const asks of [false, true]) {
      const node = await nodeServer(asks ? { interval: 200, samples: 50 } : undefined);
      try {
        a = tab(node, { reportLatency: true });
        const todos = new (Todos(a))();
        await new Promise((resolve, reject) => todos.fetch({ success: resolve, error: (c, e) => reject(e) }));
        await connected(a.socket);
        for (const title of ['a', 'b', 'c']) {
          const r = await outcome((o) => todos.create({ title }, { ...o, wait: true }));
          assert.equal(r.ok, true);
        }
        if (asks) {
          await until(() => node.reports().reduce((n, r) => n + (r.samples.create || []).length, 0) === 3,
            'the three creates reported', 5000);
          const ops = new Set(node.reports().flatMap((r) => Object.keys(r.samples)));
          assert.deepEqual([...ops].sort(), ['create', 'read'], 'CRUD requests only, not the subscribe');
        } else {
          // Several report intervals of the server that does ask (200 ms), and of
          // Syncscope's (1 s).
          await sleep(1500);
          assert.deepEqual(node.reports(), [], 'no report to a server that did not ask');
          assert.deepEqual(node.events.map(([e]) => e), ['subscribe', 'read', 'create', 'create', 'create']);
        }
      } finally {
        a.close();
        a = null;
        await node.stop();
      }
    }
  });

  it('sends nothing when the app says so (reportLatency: false)', async () => {
    const node = await nodeServer({ interval: 200, samples: 50 });
    try {
      a = tab(node, { reportLatency: false });
      const todos = new (Todos(a))();
      await new Promise((resolve, reject) => todos.fetch({ success: resolve, error: (c, e) => reject(e) }));
      const r = await outcome((o) => todos.create({ title: 'a' }, { ...o, wait: true }));
      assert.equal(r.ok, true);
      await sleep(800);
      assert.deepEqual(node.reports(), []);
    } finally {
      a.close();
      a = null;
      await node.stop();
    }
  });
});

'use strict';
// A subscriber that stops reading (its TCP socket paused, as a frozen tab or a
// stalled network would) while a writer sends many large updates: the server
// must not keep every push for it in memory, nor drop pushes for it silently.
// Past --max-queued-bytes its connection is cut with a `slow_consumer` record;
// its client then sees a transport close and reconnects; the other subscriber
// gets every change. Server RSS is reported, not asserted: most of what it
// grows by here is the inspector's own record buffers (every 200 KB update is
// recorded three times), not the queue of the paused socket.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const ioV4 = require('socket.io-client');
const { startServer, control: controlWithToken } = require('../support/server');
const { ack, withTimeout } = require('./lib/clients');

const TOKEN = 'slow-consumer-token-0123456789';
const LIMIT = 2 * 1024 * 1024;
const MAX_UPDATES = 1000;
const PAYLOAD = 'x'.repeat(200 * 1024);

function rssKb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

const control = (server, pathname) => controlWithToken(server, TOKEN, pathname);

function connect(server) {
  return ioV4(server.url, {
    forceNew: true, transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 200,
  });
}

function once(socket, event, what) {
  return withTimeout(new Promise((resolve) => socket.once(event, (...a) => resolve(a))), 20000, what);
}

describe('a subscriber that stops reading', () => {
  let server;
  const sockets = [];

  before(async () => {
    server = await startServer({ args: ['--token', TOKEN, '--max-queued-bytes', String(LIMIT)] });
  });

  after(async () => {
    for (const s of sockets) s.close();
    await server.stop();
  });

  it('is cut with a slow_consumer record once more than the bound waits for it; the others get every change', async (t) => {
    const slow = connect(server);
    const healthy = connect(server);
    const writer = connect(server);
    sockets.push(slow, healthy, writer);
    await Promise.all([slow, healthy, writer].map((s) => once(s, 'connect', 'connect')));
    for (const s of [slow, healthy]) {
      const [err] = await ack(s, 'subscribe', { url: '/big' });
      assert.equal(err, null);
    }
    const got = [];
    healthy.on('change', (c) => got.push(c.seq));
    const [, created] = await ack(writer, 'create', { url: '/big', data: { id: 'm', body: '' } });
    assert.ok(created);
    const slowId = slow.id;
    const slowGone = new Promise((resolve) => slow.once('disconnect', resolve));
    const back = new Promise((resolve) => slowGone.then(() => slow.once('connect', resolve)));

    // Stop reading: the kernel buffers fill, then the server's queue for it grows.
    slow.io.engine.transport.ws._socket.pause();
    const rssBefore = rssKb(server.proc.pid);
    let rssMax = rssBefore;
    const seqs = [];
    const started = Date.now();
    // Until the cut (the kernel's buffers take several MB first), then 20 more; the
    // client must not stay paused so long that its own ping timeout fires.
    let slowRecord;
    let more = 20;
    for (let i = 0; i < MAX_UPDATES && more > 0; i++) {
      const [err, result] = await ack(writer, 'update', { url: '/big/m', data: { id: 'm', n: i, body: PAYLOAD } });
      assert.equal(err, null, `update ${i}`);
      seqs.push(result.seq);
      if (slowRecord) more--;
      if (i % 10 === 0) {
        rssMax = Math.max(rssMax, rssKb(server.proc.pid));
        if (!slowRecord) {
          const found = await control(server, '/events?limit=10&kinds=slow_consumer');
          slowRecord = found.records.find((r) => r.socket === slowId);
        }
      }
    }
    const updates = seqs.length;
    const tookMs = Date.now() - started;
    rssMax = Math.max(rssMax, rssKb(server.proc.pid));
    assert.ok(slowRecord, `a slow_consumer record names the socket that stopped reading (after ${updates} updates)`);
    const records = (await control(server, '/events?limit=5000&kinds=push_out')).records;
    assert.ok(slowRecord.queued_bytes <= LIMIT && slowRecord.queued_bytes + slowRecord.push_bytes > LIMIT,
      `it went over the bound of ${LIMIT} bytes: ${JSON.stringify(slowRecord)}`);
    assert.equal(slowRecord.limit_bytes, LIMIT);
    const after = records.filter((r) => r.kind === 'push_out' && r.seq > slowRecord.seq);
    assert.ok(after.length > 0);
    for (const push of after) {
      assert.ok(!push.to.includes(slowId), `push_out #${push.seq} does not count the cut socket`);
      assert.equal(push.recipients, push.to.length);
    }

    // Reading again, the slow client drains what its kernel held, then sees the
    // end of its connection, and reconnects by itself.
    const pausedMs = Date.now() - started;
    slow.io.engine.transport.ws._socket.resume();
    const reason = await withTimeout(slowGone, 20000, 'the slow socket to be disconnected');
    // A client that heard nothing for pingInterval + pingTimeout (45 s) gives up by
    // itself first: only on a machine too loaded to send the updates sooner.
    const reasons = pausedMs < 40000 ? ['transport close', 'transport error'] : ['transport close', 'transport error', 'ping timeout'];
    assert.ok(reasons.includes(reason), `a transport close: got "${reason}" after ${pausedMs} ms paused`);
    await withTimeout(back, 20000, `the slow client to reconnect (it disconnected with "${reason}")`);
    const gone = (await control(server, '/events?limit=100&kinds=disconnect')).records.find((r) => r.socket === slowId);
    if (reason !== 'ping timeout') {
      assert.equal(gone.origin, 'server', 'the server cut it, not the client nor the inspector');
      assert.match(gone.reason, /slow consumer \(\d+ bytes waited to be sent, limit 2097152\)/);
    }
    // (From a few changes back: a catch-up of every 200 KB change would be one ack of
    // tens of MB.)
    const since = seqs[seqs.length - 4];
    const [err, caught] = await ack(slow, 'subscribe', { url: '/big', since });
    assert.equal(err, null);
    assert.deepEqual(caught.changes.map((c) => c.seq), seqs.slice(-3), 'it catches up to the last change');

    await withTimeout((async () => { while (got.length < updates + 1) await new Promise((r) => setTimeout(r, 20)); })(),
      20000, 'every push at the healthy subscriber');
    assert.deepEqual(got, [created.seq, ...seqs], 'the healthy subscriber got every change, in order');

    const mb = (kb) => (kb / 1024).toFixed(1);
    t.diagnostic(`server RSS ${mb(rssBefore)} MB before, at most ${mb(rssMax)} MB while ${updates} × 200 KB updates ` +
      `went out in ${tookMs} ms (${(updates * PAYLOAD.length / 1048576).toFixed(0)} MB of pushes per subscriber); ` +
      `cut with ${slowRecord.queued_bytes} bytes queued (limit ${LIMIT})`);
  });
});

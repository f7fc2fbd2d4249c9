'use strict';
// Bandwidth and slicing fault rules (docs/FAULTS.md), at the transport layer: the
// server paces what a matching socket's TCP connection writes. Real server binary,
// real socket.io-client 4 (websocket and long-polling) and 2 (websocket).
//
// Timing: a 1 MB read under a 256 KB/s limit takes about 4 s; the test prints the
// figure and asserts only a wide lower bound (2 s) that an unlimited read on
// loopback never comes near. No upper bound: a loaded machine may be slower.

const { control: controlWithToken } = require('../support/server');
const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startServer } = require('../support/server');
const { ioV4, ioV2, connected, withTimeout, closeAll } = require('./lib/clients');

const TOKEN = 'shaping-test-token';
const BIN = process.env.SYNCSCOPE_BIN || path.join(os.homedir(), '.cache', 'syncscope', 'target', 'debug', 'syncscope');
const LIMIT = 256 * 1024;
const servers = [];
const sockets = [];

after(async () => {
  closeAll(...sockets);
  for (const s of servers) await s.stop();
});

async function start() {
  const server = await startServer({ args: ['--token', TOKEN] });
  servers.push(server);
  return server;
}

const control = (server, pathname, body) => controlWithToken(server, TOKEN, pathname, body);

async function command(server, body) {
  const res = await control(server, '/command', body);
  assert.equal(res.result, 'ok', `${JSON.stringify(body)} → ${JSON.stringify(res)}`);
  return res.value;
}

function cli(server, ...args) {
  const out = spawnSync(BIN, ['fault', '--url', server.url, '--token', TOKEN, ...args], { encoding: 'utf8' });
  assert.equal(out.status, 0, `syncscope fault ${args.join(' ')}: ${out.stderr}${out.stdout}`);
  return out.stdout;
}

// Acks may take seconds under a limit: a long timeout, and the time it took.
async function timedAck(socket, event, payload) {
  const t0 = process.hrtime.bigint();
  const args = await withTimeout(new Promise((resolve) => socket.emit(event, payload, (...a) => resolve(a))),
    60000, `the ack of ${event}`);
  return { args, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

// Four models of 250 KB: a read of the collection is about 1 MB.
async function fillBlobs(server) {
  const writer = ioV4(server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.push(writer);
  await connected(writer);
  const blobs = [];
  for (let i = 1; i <= 4; i++) {
    const body = String(i).repeat(250 * 1024);
    const { args: [err] } = await timedAck(writer, 'create', { url: '/blobs', data: { id: i, body } });
    assert.equal(err, null);
    blobs.push(body);
  }
  writer.close();
  return blobs;
}

const FLAVOURS = [
  { name: 'socket.io-client 4 over websocket', client: 'slow-v4-ws', connect: (url, client) => ioV4(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { client }, query: { client } }) },
  { name: 'socket.io-client 4 over long-polling', client: 'slow-v4-poll', connect: (url, client) => ioV4(url, { transports: ['polling'], forceNew: true, reconnection: false, auth: { client }, query: { client } }) },
  { name: 'socket.io-client 2 over websocket', client: 'slow-v2-ws', connect: (url, client) => ioV2(url, { transports: ['websocket'], forceNew: true, reconnection: false, query: { client } }) },
];

describe('bandwidth: a rule limits the bytes per second written to a client', { timeout: 180000 }, () => {
  for (const flavour of FLAVOURS) {
    it(`a 1 MB read at ${LIMIT / 1024} KB/s takes seconds (${flavour.name}), printed beside an unlimited socket's read`, async () => {
      const server = await start();
      const blobs = await fillBlobs(server);
      const rule = await command(server, {
        command: 'fault_add',
        rule: { when: { client: flavour.client }, action: 'bandwidth', bytes_per_sec: LIMIT },
      });
      const slow = flavour.connect(server.url, flavour.client);
      const fast = ioV4(server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
      sockets.push(slow, fast);
      await Promise.all([connected(slow), connected(fast)]);

      const limited = await timedAck(slow, 'read', { url: '/blobs' });
      const free = await timedAck(fast, 'read', { url: '/blobs' });
      const [err, { data: models }] = limited.args;
      assert.equal(err, null);
      assert.ok(models.length === 4 && models.every((m, i) => m.body === blobs[i]), `the whole payload, intact (got ${JSON.stringify(models).slice(0, 200)})`);
      const bytes = JSON.stringify(models).length;
      console.log(`  ${flavour.name}: ${(bytes / 1e6).toFixed(2)} MB read in ${Math.round(limited.ms)} ms under ${LIMIT} B/s `
        + `(${Math.round(bytes / (limited.ms / 1000) / 1024)} KB/s measured); the same read by an unlimited socket: ${Math.round(free.ms)} ms`);
      assert.ok(limited.ms >= 2000, `a 1 MB read at 256 KB/s takes about 4 s; it took ${limited.ms} ms`);

      const [shown] = (await control(server, '/faults')).filter((r) => r.id === rule.id);
      assert.ok(shown.fired > 1, `the rule counts the paced writes (${shown.fired})`);
      const { records } = await control(server, '/events?kinds=fault&limit=100');
      const mine = records.filter((r) => r.rule === rule.id);
      assert.ok(mine.length >= 1, 'a fault record when the rule started pacing the connection');
      assert.equal(mine[0].action, 'bandwidth');
      assert.equal(mine[0].event, 'write');
      closeAll(slow, fast);
    });
  }
});

describe('slice: a rule splits what is written into small TCP writes', { timeout: 120000 }, () => {
  it('set by one CLI line, the client still gets the full payload, and the rule counts the writes', async () => {
    const server = await start();
    const writer = ioV4(server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    sockets.push(writer);
    await connected(writer);
    const body = Array.from({ length: 20000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    await timedAck(writer, 'create', { url: '/notes', data: { id: 'n1', body } });

    const out = cli(server, 'add', 'slice', '--bytes', '256', '--delay-ms', '2', '--client', 'sliced');
    assert.match(out, /Added rule \d+: connections from client sliced → slice writes into 256 bytes, 2 ms apart/);
    const client = ioV4(server.url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { client: 'sliced' } });
    sockets.push(client);
    await connected(client);
    const before = (await control(server, '/faults'))[0].fired;
    const { args: [err, { data: model }], ms } = await timedAck(client, 'read', { url: '/notes/n1' });
    assert.equal(err, null);
    assert.ok(model.body === body, `every byte, in order, once the slices are put together (got ${JSON.stringify(model).slice(0, 200)})`);
    // The count moves as each piece is written: the last ones may be counted just after
    // the client has put the payload together.
    let writes = 0;
    for (let i = 0; i < 40 && writes < Math.ceil(body.length / 256); i++) {
      if (i) await new Promise((r) => setTimeout(r, 50));
      writes = (await control(server, '/faults'))[0].fired - before;
    }
    console.log(`  a ${body.length}-byte model read in ${writes} TCP writes of at most 256 bytes, ${Math.round(ms)} ms`);
    assert.ok(writes >= Math.ceil(body.length / 256), `at least ${Math.ceil(body.length / 256)} writes, counted ${writes}`);
    assert.match(cli(server, 'list'), /slice writes into 256 bytes, 2 ms apart/);
    // The other new actions, one CLI line each, and a missing field said plainly.
    cli(server, 'add', 'bandwidth', '--bytes-per-sec', '262144', '--client', 'tab-x');
    cli(server, 'add', 'push_delay', '--url', '/todos', '--delay-ms', '300', '--jitter-ms', '100');
    cli(server, 'add', 'push_drop', '--url', '/todos', '--client', 'tab-x', '--times', '1');
    const listed = cli(server, 'list');
    assert.match(listed, /connections from client tab-x → limit to 262144 bytes\/s/);
    assert.match(listed, /change pushes on \/todos → delay the push 300 ± 100 ms/);
    assert.match(listed, /change pushes on \/todos to client tab-x → drop the push, next one only/);
    const missing = spawnSync(BIN, ['fault', '--url', server.url, '--token', TOKEN, 'add', 'bandwidth'], { encoding: 'utf8' });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /bandwidth needs --bytes-per-sec/);
    client.close();
    writer.close();
  });
});

describe('connection rules refuse fields that do not apply', () => {
  it('answers bad_request with what to change, and the server goes on', async () => {
    const server = await start();
    const bad = [
      [{ action: 'bandwidth', bytes_per_sec: 0 }, /at least 1/],
      [{ action: 'bandwidth' }, /bytes_per_sec/],
      [{ action: 'slice', bytes: 0, delay_ms: 1 }, /at least 1/],
      [{ action: 'bandwidth', bytes_per_sec: 1000, when: { event: 'read' } }, /by `socket` or `client` only/],
      [{ action: 'slice', bytes: 10, delay_ms: 1, times: 1 }, /do not apply/],
      [{ action: 'push_drop', when: { event: 'update' } }, /`event` may only be "change"/],
      [{ action: 'push_delay', delay_ms: 10000000 }, /at most/],
      [{ action: 'bandwidth', bytes_per_sec: -5 }, /./],
    ];
    for (const [rule, message] of bad) {
      const res = await control(server, '/command', { command: 'fault_add', rule });
      assert.equal(res.result, 'error', JSON.stringify(rule));
      assert.match(res.message, message, JSON.stringify(res));
    }
    assert.deepEqual(await control(server, '/faults'), []);
  });
});

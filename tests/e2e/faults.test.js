'use strict';
// Fault rules as a developer uses them, against the real server binary and real
// socket.io-client 4 and 2: rules that last (database, CLI, export/import), faults
// paired with their request, seeded toxicity, stall, clients across reconnects, and
// a client taken offline for a while.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startServer, controlStatus } = require('../support/server');
const { ioV4, ioV2, connected, ack, sleep, closeAll } = require('./lib/clients');

const TOKEN = 'fault-test-token';
// What socket.io-client says when its connection is cut (not `io server disconnect`).
const TRANSPORT_REASONS = ['transport close', 'transport error'];
const BIN = process.env.SYNCSCOPE_BIN || path.join(os.homedir(), '.cache', 'syncscope', 'target', 'debug', 'syncscope');

const servers = [];
const sockets = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-faults-'));

after(async () => {
  closeAll(...sockets);
  for (const s of servers) {
    if (s.proc.exitCode === null && s.proc.signalCode === null) await s.kill();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(args = []) {
  const server = await startServer({ args: ['--token', TOKEN, ...args] });
  servers.push(server);
  return server;
}

const control = (server, pathname, body) => controlStatus(server, TOKEN, pathname, body);

async function command(server, body) {
  const { status, body: res } = await control(server, '/command', body);
  assert.equal(res.result, 'ok', `${JSON.stringify(body)} → ${status} ${JSON.stringify(res)}`);
  return res.value;
}

async function records(server, kinds) {
  const { body } = await control(server, `/events?kinds=${kinds}&limit=1000`);
  return body.records;
}

function cli(server, ...args) {
  const out = spawnSync(BIN, ['fault', '--url', server.url, '--token', TOKEN, ...args], { encoding: 'utf8' });
  assert.equal(out.status, 0, `syncscope fault ${args.join(' ')}: ${out.stderr}${out.stdout}`);
  return out.stdout;
}

function v4(url, opts = {}) {
  const s = ioV4(url, { transports: ['websocket'], forceNew: true, reconnection: false, ...opts });
  sockets.push(s);
  return s;
}

// Waits until `fn` returns something truthy (state that settles without a clock).
async function until(fn, what) {
  for (let i = 0; i < 200; i++) {
    const v = await fn();
    if (v) return v;
    await sleep(50);
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('rules that last', () => {
  it('survive a restart on the same database, each switched as it was left', async () => {
    const db = path.join(dir, 'rules.db');
    let server = await start(['--db', db]);
    const a = await command(server, { command: 'fault_add', rule: { when: { event: 'update', url: '/todos' }, action: 'fail', code: 'conflict', message: 'x', times: 1 } });
    const b = await command(server, { command: 'fault_add', rule: { action: 'delay', ms: 5, toxicity: 0.5, seed: 9 } });
    await command(server, { command: 'fault_set', id: b.id, enabled: false });
    await server.stop();

    server = await start(['--db', db]);
    const { body: rules } = await control(server, '/faults');
    assert.deepEqual(rules.map((r) => [r.id, r.enabled, r.action]), [[a.id, true, 'fail'], [b.id, false, 'delay']]);
    assert.equal(rules[1].toxicity, 0.5);
    assert.equal(rules[1].seed, 9);
    const socket = v4(server.url);
    await connected(socket);
    const [error] = await ack(socket, 'update', { url: '/todos/1', data: { t: 1 } });
    assert.equal(error.code, 'conflict', 'the kept rule still fires after the restart');
    const next = await control(server, '/faults');
    assert.equal(next.body[0].enabled, false, 'spent, and kept so');
    await server.stop();
  });

  it('are driven by the CLI: add, list, off, on, edit, export, import, rm, clear', async () => {
    const server = await start();
    assert.match(cli(server, 'add', 'fail', '--code', 'conflict', '--event', 'update', '--event', 'patch', '--url', '/todos', '--times', '1'), /Added rule 1: update or patch on \/todos → fail with conflict/);
    cli(server, 'add', 'delay', '--ms', '200', '--client', 'tab-a', '--toxicity', '0.25');
    const listed = cli(server, 'list');
    assert.match(listed, /1\s+on\s+0\s+update or patch on \/todos/);
    assert.match(listed, /2\s+on\s+0\s+any request from client tab-a → delay 200 ms, every time, 25% of matches/);
    cli(server, 'off', '2');
    assert.match(cli(server, 'list'), /2\s+off/);
    cli(server, 'on', '2');
    assert.match(cli(server, 'edit', '2', 'stall', '--socket', 'abc'), /Changed rule 2: any request from socket abc → stall/);
    const file = path.join(dir, 'rules.json');
    cli(server, 'export', file);
    const exported = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(exported.format, 'syncscope-faults');
    assert.equal(exported.rules.length, 2);
    cli(server, 'rm', '1');
    assert.doesNotMatch(cli(server, 'list'), /update or patch/);
    cli(server, 'clear');
    assert.match(cli(server, 'list'), /No fault rule/);
    assert.match(cli(server, 'import', file), /2 rule\(s\) now/);
    const { body: rules } = await control(server, '/faults');
    assert.deepEqual(rules.map((r) => r.action), ['fail', 'stall']);
    const changes = (await records(server, 'fault_rules')).map((r) => r.change);
    assert.deepEqual(changes, ['added', 'added', 'off', 'on', 'edited', 'removed', 'cleared', 'imported']);
    await server.stop();
  });

  it('are edited in place: same id and place, armed again', async () => {
    const server = await start();
    const a = await command(server, { command: 'fault_add', rule: { action: 'drop', times: 1 } });
    const b = await command(server, { command: 'fault_add', rule: { action: 'delay', ms: 1 } });
    const edited = await command(server, { command: 'fault_edit', id: a.id, rule: { when: { event: 'read' }, action: 'fail', code: 'internal', message: 'edited' } });
    assert.equal(edited.id, a.id);
    const { body: rules } = await control(server, '/faults');
    assert.deepEqual(rules.map((r) => r.id), [a.id, b.id]);
    const socket = v4(server.url);
    await connected(socket);
    const [error] = await ack(socket, 'read', { url: '/todos' });
    assert.equal(error.message, 'edited');
    const missing = await control(server, '/command', { command: 'fault_edit', id: 999, rule: { action: 'drop' } });
    assert.equal(missing.status, 404);
    assert.match(missing.body.message, /no fault rule 999/);
    await server.stop();
  });
});

describe('a fault paired with its request', () => {
  it('names the request it acted on, and a delayed ack names its rule', async () => {
    const server = await start();
    const rule = await command(server, { command: 'fault_add', rule: { when: { event: 'read' }, action: 'delay', ms: 50 } });
    const socket = v4(server.url);
    await connected(socket);
    const [e, value] = await ack(socket, 'read', { url: '/todos' });
    assert.equal(e, null);
    assert.ok(Array.isArray(value.data) || value.data !== undefined);
    // The records reach the log off the request path: wait until all three are there.
    const all = await until(async () => {
      const got = await records(server, 'event_in,fault,ack_out');
      return ['event_in', 'fault', 'ack_out'].every((k) => got.some((r) => r.kind === k)) && got;
    }, 'the request, fault and ack records');
    const request = all.find((r) => r.kind === 'event_in' && r.event === 'read');
    const fault = all.find((r) => r.kind === 'fault');
    const answer = all.find((r) => r.kind === 'ack_out');
    assert.equal(fault.request_seq, request.seq);
    assert.equal(answer.request_seq, request.seq);
    assert.equal(answer.fault, rule.id, 'the late ack carries the rule that held it');
    assert.equal(answer.error, null);
    await server.stop();
  });
});

describe('toxicity', () => {
  async function run(seed, toxicity, n = 30) {
    const server = await start(['--fault-seed', String(seed)]);
    await command(server, { command: 'fault_add', rule: { when: { event: 'read' }, action: 'fail', code: 'injected', message: 't', toxicity } });
    const socket = v4(server.url);
    await connected(socket);
    const out = [];
    for (let i = 0; i < n; i++) {
      const [error] = await ack(socket, 'read', { url: '/todos' });
      out.push(error ? 1 : 0);
    }
    const { body: stats } = await control(server, '/stats');
    assert.equal(stats.fault_seed, seed);
    const { body: rules } = await control(server, '/faults');
    socket.close();
    await server.stop();
    return { out, rule: rules[0] };
  }

  it('0 never fires, 1 always does', async () => {
    assert.deepEqual((await run(1, 0)).out, new Array(30).fill(0));
    assert.deepEqual((await run(1, 1)).out, new Array(30).fill(1));
  });

  it('the same seed gives the same sequence on two fresh servers; times counts only affected requests', async () => {
    const first = await run(42, 0.5);
    const second = await run(42, 0.5);
    assert.deepEqual(first.out, second.out);
    const hits = first.out.reduce((a, b) => a + b, 0);
    assert.ok(hits > 0 && hits < 30, `some but not all fired: ${first.out.join('')}`);
    assert.equal(first.rule.fired, hits);
    assert.equal(first.rule.matched, 30);
  });
});

describe('the seed in the session', () => {
  it('a session recorded with rules in effect names the fault seed in its exported header', async () => {
    const server = await start(['--fault-seed', '777']);
    await command(server, { command: 'fault_add', rule: { action: 'delay', ms: 1, toxicity: 0.5 } });
    const session = await command(server, { command: 'record_start', name: 'flaky' });
    await command(server, { command: 'record_stop' });
    const res = await fetch(`${server.url}/_syncscope/sessions/${session.id}/export`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const [header, first] = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(header.fault_seed, 777);
    assert.equal(first.kind, 'fault_rules');
    assert.equal(first.change, 'snapshot');
    await server.stop();
  });
});

describe('stall (formerly offline)', () => {
  it('holds a socket’s requests unanswered while on and answers them in order once off; the old name is accepted', async () => {
    const server = await start();
    const socket = v4(server.url);
    await connected(socket);
    const rule = await command(server, { command: 'fault_add', rule: { when: { socket: socket.id }, action: 'offline' } });
    assert.equal(rule.action, 'stall');
    const answers = [];
    const first = ack(socket, 'create', { url: '/todos', data: { n: 1 } }).then((a) => answers.push(a[1].data.n));
    const second = ack(socket, 'create', { url: '/todos', data: { n: 2 } }).then((a) => answers.push(a[1].data.n));
    await until(async () => (await control(server, '/faults')).body[0].fired === 1, 'the rule to hold the first request');
    assert.deepEqual(answers, [], 'nothing answered while stalled');
    assert.ok(socket.connected, 'the connection stays open');
    await command(server, { command: 'fault_set', id: rule.id, enabled: false });
    await Promise.all([first, second]);
    assert.deepEqual(answers, [1, 2]);
    await server.stop();
  });
});

describe('clients across reconnects', () => {
  it('a socket names its client by auth.client, counts its reconnects, and rules may match the client', async () => {
    const server = await start();
    const one = v4(server.url, { auth: { client: 'tab-1' } });
    await connected(one);
    one.close();
    const two = v4(server.url, { auth: { client: 'tab-1' } });
    await connected(two);
    const other = v4(server.url, { auth: { client: 'tab-2' } });
    await connected(other);
    const { body: list } = await until(async () => {
      const r = await control(server, '/sockets');
      return r.body.length === 2 ? r : null;
    }, 'two sockets');
    const mine = list.find((s) => s.id === two.id);
    assert.equal(mine.client, 'tab-1');
    assert.equal(mine.reconnects, 1);
    assert.equal(list.find((s) => s.id === other.id).reconnects, 0);
    await command(server, { command: 'fault_add', rule: { when: { client: 'tab-1' }, action: 'fail', code: 'injected', message: 'tab-1 only' } });
    assert.equal((await ack(two, 'read', { url: '/todos' }))[0].message, 'tab-1 only');
    assert.equal((await ack(other, 'read', { url: '/todos' }))[0], null);
    await server.stop();
  });
});

describe('offline for a while', () => {
  it('socket.io-client 4: cut, reconnects refused with connect_error for N s, then let back; the timeline says so', async () => {
    const server = await start();
    const socket = v4(server.url, { auth: { client: 'tab-off' }, query: { client: 'tab-off' }, reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200 });
    await connected(socket);
    // Read before the cut: socket.io-client forgets its id once disconnected.
    const id = socket.id;
    const errors = [];
    socket.on('connect_error', (e) => errors.push(e.message));
    const gone = new Promise((resolve) => socket.once('disconnect', resolve));
    const value = await command(server, { command: 'offline', client: 'tab-off', secs: 2 });
    assert.deepEqual(value.cut, [id]);
    // The connection is cut as a lost network would be: the client sees the transport
    // close and reconnects by itself (nobody calls connect()).
    const reason = await gone;
    assert.ok(TRANSPORT_REASONS.includes(reason), `a transport close, not a Socket.IO disconnect: got "${reason}"`);
    assert.ok(socket.active, 'socket.io-client keeps trying to reconnect');
    await until(() => errors.length > 0, 'a refused reconnect');
    assert.match(errors[0], /error/i);
    await until(() => socket.connected, 'the client to be let back');
    const kinds = (await records(server, 'offline,online,refused')).map((r) => r.kind);
    assert.equal(kinds[0], 'offline');
    assert.ok(kinds.includes('refused'), kinds.join());
    assert.ok(kinds.indexOf('online') > kinds.indexOf('refused'), kinds.join());
    const cut = await until(async () => (await records(server, 'disconnect')).find((r) => r.reason.includes('client offline for 2 s')), 'the disconnect record saying why');
    assert.equal(cut.origin, 'inspector');
    await server.stop();
  });

  it('socket.io-client 2 (client id in the query): refused while offline, back after', async () => {
    const server = await start();
    const socket = ioV2(server.url, { forceNew: true, transports: ['websocket'], query: { client: 'old-tab' }, reconnectionDelay: 100, reconnectionDelayMax: 200 });
    sockets.push(socket);
    await connected(socket);
    const errors = [];
    socket.on('reconnect_error', (e) => errors.push(String(e && (e.message || e))));
    socket.on('connect_error', (e) => errors.push(String(e && (e.message || e))));
    const gone = new Promise((resolve) => socket.once('disconnect', resolve));
    await command(server, { command: 'offline', client: 'old-tab', secs: 2 });
    // Cut, not told to go: it reconnects by itself.
    const reason = await gone;
    assert.ok(TRANSPORT_REASONS.includes(reason), `a transport close: got "${reason}"`);
    await until(() => errors.length > 0, 'a refused reconnect');
    await until(() => socket.connected, 'the client to be let back');
    const { body: stats } = await control(server, '/stats');
    assert.deepEqual(stats.offline, []);
    await server.stop();
  });

  it('refuses bad requests with what to do', async () => {
    const server = await start();
    const none = await control(server, '/command', { command: 'offline', secs: 5 });
    assert.equal(none.status, 400);
    assert.match(none.body.message, /say which client/);
    const zero = await control(server, '/command', { command: 'offline', client: 'x', secs: 0 });
    assert.match(zero.body.message, /secs must be/);
    const back = await control(server, '/command', { command: 'online', client: 'x' });
    assert.equal(back.status, 404);
    await server.stop();
  });
});

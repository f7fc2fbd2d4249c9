'use strict';
// Numbers come back exactly as JavaScript wrote them: random doubles (Math.random,
// scaled over the whole exponent range), large integers and the extremes, sent by a
// real socket.io-client 4 through create → ack → read → push → session export, and
// compared with Object.is against what the client itself put on the wire
// (JSON.parse(JSON.stringify(x)): JSON has no -0, so a -0 is sent as 0).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, controlRequest } = require('../support/server');
const { ioV4, connected, ack, recorder, sleep, closeAll } = require('./lib/clients');

const TOKEN = 'exact-numbers-token';

function connect(url) {
  return ioV4(url, { transports: ['websocket'], forceNew: true, reconnection: false });
}

function ok(args, what) {
  assert.equal(args[0], null, `${what} succeeds; got ${JSON.stringify(args).slice(0, 300)}`);
  return args[1];
}

function numbers() {
  const list = [1e308, -1e308, 5e-324, -5e-324, Number.MAX_VALUE, Number.MIN_VALUE,
    Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e21,
    123456789012345680000, -0, 0, 0.1 + 0.2, 0.36560839638878484];
  for (let i = 0; i < 1000; i++) list.push(Math.random());
  for (let i = 0; i < 1000; i++) {
    const exponent = Math.floor(Math.random() * 600) - 300;
    list.push((Math.random() < 0.5 ? -1 : 1) * Math.random() * 10 ** exponent);
  }
  return list;
}

// The models to create: 100 numbers each, keyed n0…n99.
function chunks(list) {
  const out = [];
  for (let i = 0; i < list.length; i += 100) {
    const data = {};
    list.slice(i, i + 100).forEach((x, j) => { data[`n${j}`] = x; });
    out.push(data);
  }
  return out;
}

// Every number of `sent` that `got` does not hold exactly, as "where: sent → got".
function differences(where, sent, got) {
  const wire = JSON.parse(JSON.stringify(sent));
  const wrong = [];
  for (const [key, value] of Object.entries(wire)) {
    if (key === 'id') continue;
    if (!got || !Object.is(got[key], value)) {
      wrong.push(`${where} ${key}: ${value} → ${got && got[key]}`);
    }
  }
  return wrong;
}

// The answer as text: the numbers are checked digit for digit, before any parse.
async function control(server, pathname) {
  const res = await controlRequest(server, TOKEN, pathname);
  assert.equal(res.status, 200, `GET ${pathname}`);
  return res.text();
}

describe('numbers through the server', () => {
  let server;
  let writer;
  let listener;

  before(async () => {
    server = await startServer({ args: ['--token', TOKEN] });
    writer = connect(server.url);
    listener = connect(server.url);
    await Promise.all([connected(writer), connected(listener)]);
  });

  after(async () => {
    closeAll(writer, listener);
    if (server) await server.stop();
  });

  it('come back bit for bit in acks, reads, pushes and the exported session', async () => {
    const models = chunks(numbers());
    const pushes = recorder(listener, 'change');
    ok(await ack(listener, 'subscribe', { url: '/numbers' }), 'subscribe');

    const wrong = [];
    const ids = [];
    for (const data of models) {
      const created = ok(await ack(writer, 'create', { url: '/numbers', data }), 'create');
      ids.push(created.data.id);
      wrong.push(...differences('ack', data, created.data));
      const read = ok(await ack(writer, 'read', { url: `/numbers/${created.data.id}` }), 'read');
      wrong.push(...differences('read', data, read.data));
    }
    const changes = await pushes.waitFor(models.length);
    changes.forEach((change, i) => wrong.push(...differences('push', models[i], change.data)));
    const collection = ok(await ack(writer, 'read', { url: '/numbers' }), 'collection read');
    collection.data.forEach((model, i) => wrong.push(...differences('collection read', models[i], model)));

    // The recorder writes on its own task: wait until every create's ack is in the session.
    const sessions = JSON.parse(await control(server, '/sessions'));
    const session = sessions[sessions.length - 1].id;
    let records = [];
    for (let tries = 0; tries < 100; tries++) {
      const text = await control(server, `/sessions/${session}/export`);
      records = text.trim().split('\n').slice(1).map((line) => JSON.parse(line));
      const acks = records.filter((r) => r.kind === 'ack_out' && r.event === 'create');
      if (acks.length >= models.length) break;
      await sleep(100);
    }
    const inbound = records.filter((r) => r.kind === 'event_in' && r.event === 'create');
    const acks = records.filter((r) => r.kind === 'ack_out' && r.event === 'create');
    const pushed = records.filter((r) => r.kind === 'push_out' && r.event === 'change');
    assert.equal(inbound.length, models.length, 'every create is in the exported session');
    assert.equal(acks.length, models.length, 'every ack is in the exported session');
    assert.equal(pushed.length, models.length, 'every push is in the exported session');
    models.forEach((data, i) => {
      wrong.push(...differences('session event_in', data, inbound[i].args.data));
      wrong.push(...differences('session ack_out', data, acks[i].args[1].data));
      wrong.push(...differences('session push_out', data, pushed[i].args[0].data));
    });

    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} numbers changed`);
  });
});

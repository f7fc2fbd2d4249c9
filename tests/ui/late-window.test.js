'use strict';
// The inspector opened after the traffic: what the server already knows about a socket
// shows at once. The last ack's latency comes from the server's socket registry, so it
// is there even when the recording that the live log starts from holds nothing of it.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startAll, openUi, connectClient, go, shot, eventually, command: sendCommand } = require('./support');

const lastAck = (page) => page.$eval('[data-testid=socket-row] [data-testid=socket-last-ack]', (e) => e.textContent.trim());
const logBadge = (page) => page.$eval('[data-testid=nav-log] .count', (e) => Number(e.textContent.replace(/\D/g, '')));

describe('an inspector window opened after the traffic', { timeout: 120000 }, () => {
  let env;
  before(async () => {
    env = await startAll();
  });
  after(async () => {
    await env?.close();
  });

  it('shows the last ack and the recorded events of sockets that were busy before it opened', async () => {
    const app = await connectClient(env);
    assert.equal((await app.call('subscribe', { url: '/todos' })).err, null);
    assert.equal((await app.call('create', { url: '/todos', data: { title: 'before the window' } })).err, null);
    const page = await openUi(env);
    await go(page, 'sockets');
    await eventually(async () => assert.match(await lastAck(page), /µs|ms|s$/), 5000, page);
    // The subscribe, the create and their acks were recorded: the log opens with them.
    await eventually(async () => assert.ok((await logBadge(page)) >= 4, `badge ${await logBadge(page)}`), 5000, page);
    app.close();
    await page.close();
  });

  it('shows the last ack while nothing is recorded, and the log says why it starts empty', async () => {
    assert.equal((await sendCommand(env, { command: 'record_stop' })).result, 'ok');
    const app = await connectClient(env);
    assert.equal((await app.call('subscribe', { url: '/todos' })).err, null);
    assert.equal((await app.call('create', { url: '/todos', data: { title: 'unrecorded' } })).err, null);
    const page = await openUi(env);
    await go(page, 'sockets');
    const row = `[data-testid=socket-row][data-socket="${app.id}"] [data-testid=socket-last-ack]`;
    await eventually(async () => assert.match(await page.$eval(row, (e) => e.textContent.trim()), /µs|ms|s$/), 5000, page);
    await go(page, 'log');
    await eventually(async () => assert.match(
      await page.$eval('[data-testid=log-not-recording]', (e) => e.textContent),
      /Nothing is being recorded/,
    ), 5000, page);
    assert.deepEqual(page.problems, []);
    app.close();
  });
});

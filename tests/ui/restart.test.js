'use strict';
// Restarting the server during development (issue 13): an open inspector tab says it
// lost the server while it is down, comes back by itself once the server listens
// again on the same database and port (the token is kept beside the database), and
// says in its log that the server restarted.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('../support/server');
const { startAll, openUi, connectClient, go, shot, eventually } = require('./support');

describe('an inspector tab across a restart of the server', { timeout: 120000 }, () => {
  let env;

  before(async () => {
    // The token must come from the file beside the database, not from the test.
    delete process.env.SYNCSCOPE_TOKEN;
    env = await startAll({ token: null });
  });
  after(async () => {
    await env?.close();
  });

  it('says it is disconnected, reconnects by itself and shows the restart in its log', async () => {
    const page = await openUi(env);
    await go(page, 'log');
    const before = await connectClient(env, { userAgent: 'before-restart' });
    await before.call('create', { url: '/todos', data: { id: 'old', title: 'before' } });
    await page.waitForSelector('[data-testid=log-row][data-kind=event_in]');
    assert.equal(await page.$('[data-testid=log-restarted]'), null, 'no restart line at first');

    const port = env.server.port;
    before.close();
    await env.server.stop();
    await eventually(async () => {
      const text = await page.textContent('[data-testid=log-disconnected]');
      assert.match(text, /unreachable/);
      assert.match(await page.textContent('[data-testid=connection]'), /disconnected/);
    }, 10000, page);

    env.server = await startServer({ args: ['--db', env.db, '--port', String(port)] });
    // No reload, no new URL: the page finds the server again on its own.
    await eventually(async () => {
      assert.match(await page.getAttribute('[data-testid=connection]', 'class'), /conn-open/);
      const line = await page.textContent('[data-testid=log-restarted]');
      assert.match(line, /Server restarted at .* new launch/);
      assert.equal(await page.$('[data-testid=log-disconnected]'), null);
    }, 15000, page);

    // And it is live on the new launch: a new client's traffic shows up.
    const after = await connectClient(env, { userAgent: 'after-restart' });
    await after.call('create', { url: '/todos', data: { id: 'new', title: 'after' } });
    await eventually(async () => {
      const urls = await page.$$eval('[data-testid=log-row][data-kind=event_in] .c-url', (els) => els.map((e) => e.textContent));
      assert.ok(urls.includes('/todos'), urls.join(','));
      assert.equal(await page.textContent('[data-testid=stat-sockets]'), '1');
    }, 10000, page);
    assert.deepEqual(page.problems.filter((p) => !/ERR_CONNECTION_REFUSED|Failed to load resource|WebSocket/.test(p)), []);
    await shot(page, 'restart');
  });
});

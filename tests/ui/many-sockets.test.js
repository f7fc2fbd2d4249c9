'use strict';
// The Sockets panel with 10,000 connected sockets (the Socket.IO Admin UI becomes
// unresponsive there): the count shows, the list stays virtualized (a small DOM),
// filtering finds one socket among them, and selecting it answers promptly. Times
// are REPORTED, not asserted; the assertions are about what the user sees.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { io } = require('socket.io-client');
const { startAll, openUi, go, shot } = require('./support');

const SOCKETS = Number(process.env.UI_SOCKETS || 10000);
const BATCH = 500;

describe(`the Sockets panel with ${SOCKETS.toLocaleString()} sockets`, { timeout: 300000 }, () => {
  let env, page;
  const sockets = [];
  const timings = {};

  before(async () => {
    env = await startAll();
    const t0 = Date.now();
    for (let i = 0; i < SOCKETS; i += BATCH) {
      await Promise.all(Array.from({ length: Math.min(BATCH, SOCKETS - i) }, (_, j) => new Promise((resolve, reject) => {
        const s = io(env.server.url, {
          forceNew: true,
          reconnection: false,
          transports: ['websocket'],
          extraHeaders: { 'User-Agent': `crowd-${i + j}` },
        });
        sockets.push(s);
        s.once('connect', resolve);
        s.once('connect_error', reject);
      })));
    }
    timings.connect_all_ms = Date.now() - t0;
    page = await openUi(env);
  });

  after(async () => {
    console.log(`# many sockets: ${JSON.stringify(timings)}`);
    for (const s of sockets) s.close();
    if (env) await env.close();
  });

  it('shows the count, keeps the DOM small, filters to one socket and selects it', async () => {
    let t = Date.now();
    await go(page, 'sockets');
    await page.waitForFunction((n) => document.querySelector('[data-testid=panel-sockets]')
      ?.textContent.includes(`${n.toLocaleString()} connected`), SOCKETS, { timeout: 60000 });
    timings.panel_shows_all_ms = Date.now() - t;

    const rows = await page.locator('[data-testid=socket-row]').count();
    assert.ok(rows > 0 && rows < 300, `the list is virtualized: ${rows} rows in the DOM`);

    const needle = `crowd-${SOCKETS - 7}`;
    t = Date.now();
    await page.fill('[data-testid=socket-search]', needle);
    await page.waitForFunction((ua) => {
      const r = [...document.querySelectorAll('[data-testid=socket-row]')];
      return r.length === 1 && r[0].textContent.includes(ua);
    }, needle, { timeout: 30000 });
    timings.filter_ms = Date.now() - t;

    t = Date.now();
    await page.click('[data-testid=socket-row]');
    await page.waitForSelector('[data-testid=socket-detail]', { timeout: 30000 });
    timings.select_ms = Date.now() - t;
    assert.match(await page.textContent('[data-testid=socket-detail]'), new RegExp(needle));
    await shot(page, 'sockets-10k');
  });
});

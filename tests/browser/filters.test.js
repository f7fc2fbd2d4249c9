'use strict';
// The demo's "Active" / "Completed" filters (issue 16) are live queries: in two
// headless Chromium tabs, toggling a todo in one moves it into and out of the
// other tab's filtered list, with no reload, as the server's query pushes say.
// Debian's chromium driven by playwright-core; never a downloaded browser.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startServer } = require('../support/server');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');

describe('the demo\'s active / completed filters in two browser tabs', { timeout: 120000 }, () => {
  let dir, server, browser, pageA, pageB;

  async function openPage(name, hash = '') {
    const page = await browser.newPage();
    page.errors = [];
    page.on('pageerror', (err) => page.errors.push(`${name}: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') page.errors.push(`${name} console: ${msg.text()}`); });
    await page.goto(`${server.url}/demo/${hash}`);
    await page.waitForSelector('#status[data-state=online]', { timeout: 10000 });
    // Every query push the page applies, to tell a live query from a reload.
    await page.evaluate(() => {
      window.queryPushes = [];
      Backbone.realtime.on('push', (change) => { if (change.query) window.queryPushes.push(change); });
    });
    return page;
  }

  const titles = (page) => page.$$eval('#todo-list li label', (els) => els.map((el) => el.textContent));
  const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  const listIs = (page, expected) => page.waitForFunction(
    (expected) => JSON.stringify([...document.querySelectorAll('#todo-list li label')].map((l) => l.textContent)) ===
      JSON.stringify(expected),
    expected, { timeout: 5000 },
  ).catch(async () => assert.fail(`the list is ${JSON.stringify(await titles(page))}, not ${JSON.stringify(expected)}`));
  const toggle = (page, title) => page.click(`#todo-list li:has(label:text-is("${title}")) .toggle`);

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-filters-'));
    server = await startServer();
    browser = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 700, height: 640 },
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
    pageA = await openPage('tab A');
    pageB = await openPage('tab B', '#/active');
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('moves a todo toggled in one tab into and out of the other tab\'s filtered list', async () => {
    for (const title of ['milk', 'bread']) {
      await pageA.fill('#new-todo', title);
      await pageA.press('#new-todo', 'Enter');
    }
    await listIs(pageA, ['milk', 'bread']);
    await listIs(pageB, ['milk', 'bread']);
    assert.equal(await pageB.$eval('#filters a.selected', (a) => a.textContent), 'Active');

    // Completed in A: it leaves B's "Active" list.
    await toggle(pageA, 'milk');
    await listIs(pageB, ['bread']);
    await shot(pageB, 'demo-filter-active-after-toggle');

    // B switches to "Completed": a new live query, which shows it.
    await pageB.click('#filters a[data-filter=completed]');
    await listIs(pageB, ['milk']);
    // Un-completed in A: it leaves B's "Completed" list; completing bread brings it in.
    await toggle(pageA, 'milk');
    await listIs(pageB, []);
    await toggle(pageA, 'bread');
    await listIs(pageB, ['bread']);

    // A filters too, and toggles in its own filtered list: the todo leaves it there
    // and enters B's.
    await pageA.click('#filters a[data-filter=active]');
    await listIs(pageA, ['milk']);
    await toggle(pageA, 'milk');
    await listIs(pageA, []);
    await listIs(pageB, ['milk', 'bread']);
    await shot(pageB, 'demo-filter-completed');

    // It was the server's query pushes that moved them, not a reload.
    const pushes = await pageB.evaluate(() => window.queryPushes.map((c) => [c.data && c.data.title, c.match]));
    assert.ok(pushes.some(([title, match]) => title === 'milk' && match === false), JSON.stringify(pushes));
    assert.ok(pushes.some(([title, match]) => title === 'bread' && match === true), JSON.stringify(pushes));
    assert.deepEqual([...pageA.errors, ...pageB.errors], []);
  });
});

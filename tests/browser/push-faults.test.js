'use strict';
// Push tampering in the browser: the demo todo app (fixtures/todos, at /demo/) in two
// headless Chromium pages against the real server, with push rules set through the
// control API on page B's client (the adapter's per-tab id). A `change` push the
// server drops for page B is recovered by the adapter (gap, resubscribe `since`), and
// one it sends twice is listed once. Debian's chromium driven by playwright-core.

const { control: controlWithToken } = require('../support/server');
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startServer } = require('../support/server');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const TOKEN = 'browser-push-faults';

describe('push tampering seen by the demo app in Chromium', { timeout: 120000 }, () => {
  let dir, server, browser, pageA, pageB, clientB;

  const control = (pathname, body) => controlWithToken(server, TOKEN, pathname, body);

  async function openPage(name) {
    const page = await browser.newPage();
    page.errors = [];
    page.on('pageerror', (err) => page.errors.push(`${name}: ${err.message}`));
    await page.goto(`${server.url}/demo/`);
    await page.waitForSelector('#status[data-state=online]', { timeout: 10000 });
    // What the adapter says about this page's channel, for the assertions.
    await page.evaluate(() => {
      window.gaps = [];
      window.changes = [];
      Backbone.realtime.on('gap', (gap) => window.gaps.push(gap));
      Backbone.realtime.socket.on('change', (c) => window.changes.push(c.seq));
    });
    return page;
  }

  const titles = (page) => page.$$eval('#todo-list li label', (els) => els.map((el) => el.textContent));

  async function addTodo(page, title) {
    await page.fill('#new-todo', title);
    await page.press('#new-todo', 'Enter');
  }

  const listed = (page, list) => page.waitForFunction(
    (want) => JSON.stringify([...document.querySelectorAll('#todo-list li label')].map((l) => l.textContent)) === JSON.stringify(want),
    list, { timeout: 10000 });

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-browser-push-'));
    server = await startServer({ args: ['--token', TOKEN] });
    browser = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 700, height: 640 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    pageA = await openPage('page A');
    pageB = await openPage('page B');
    clientB = await pageB.evaluate(() => Backbone.realtime.clientId());
    assert.notEqual(clientB, await pageA.evaluate(() => Backbone.realtime.clientId()), 'one client id per tab');
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('recovers a push the server dropped for page B at the next push', async () => {
    const rule = await control('/command', {
      command: 'fault_add',
      rule: { when: { client: clientB, url: '/todos' }, action: 'push_drop', times: 1 },
    });
    assert.equal(rule.result, 'ok', JSON.stringify(rule));
    await addTodo(pageA, 'dropped for B');
    await listed(pageA, ['dropped for B']);
    await addTodo(pageA, 'the next one');
    await listed(pageB, ['dropped for B', 'the next one']);
    const gaps = await pageB.evaluate(() => window.gaps);
    assert.equal(gaps.length, 1, `page B saw one gap: ${JSON.stringify(gaps)}`);
    const { records } = await control('/events?kinds=fault&limit=100');
    assert.equal(records.length, 1);
    assert.equal(records[0].action, 'push_drop');
    assert.equal(records[0].rule, rule.value.id);
    assert.equal(records[0].push_seq, gaps[0].prev, 'the dropped change is the one the gap was missing');
    assert.deepEqual(pageB.errors, []);
  });

  it('lists once a todo whose push the server sent page B twice', async () => {
    const rule = await control('/command', {
      command: 'fault_add',
      rule: { when: { client: clientB }, action: 'push_duplicate', times: 1 },
    });
    assert.equal(rule.result, 'ok', JSON.stringify(rule));
    const before = (await pageB.evaluate(() => window.changes)).length;
    await addTodo(pageA, 'sent twice');
    await listed(pageB, ['dropped for B', 'the next one', 'sent twice']);
    const changes = (await pageB.evaluate(() => window.changes)).slice(before);
    assert.equal(changes.length, 2, `page B's socket received the push twice: ${changes}`);
    assert.equal(changes[0], changes[1]);
    assert.deepEqual(await titles(pageB), ['dropped for B', 'the next one', 'sent twice'], 'listed once');
    assert.equal((await pageB.evaluate(() => window.gaps)).length, 1, 'no new gap');
    assert.deepEqual(await titles(pageA), await titles(pageB));
    assert.deepEqual([...pageA.errors, ...pageB.errors], []);
  });
});

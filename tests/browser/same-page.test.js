'use strict';
// The demo app (served at /demo/) in headless Chromium with a second list of
// the same todos in page A: a second realtime collection of /todos, as an
// app's counter widget or sidebar would hold (issue 15). The list is built by
// the test inside the page, so the demo looks as it always does. Whatever is
// done in either list of page A, or in page B, shows in all three lists.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startServer } = require('../support/server');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');

describe('the demo app with a second list of the same todos in one page', { timeout: 120000 }, () => {
  let dir, server, browser, pageA, pageB;

  async function openPage(name) {
    const page = await browser.newPage();
    page.errors = [];
    page.on('pageerror', (err) => page.errors.push(`${name}: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') page.errors.push(`${name} console: ${msg.text()}`); });
    await page.goto(`${server.url}/demo/`);
    await page.waitForSelector('#status[data-state=online]', { timeout: 10000 });
    return page;
  }

  // A second list under the app: its own collection of the demo's Todos
  // class, fetched, rendered on every event; a click on an item toggles it
  // and a click on its × destroys it, through this second collection.
  const addSecondList = (page) => page.evaluate(() => new Promise((resolve, reject) => {
    const Todos = window.app.todos.constructor;
    const second = new Todos();
    window.second = second;
    const ul = document.createElement('ul');
    ul.id = 'second-list';
    document.body.appendChild(ul);
    window.secondEvents = [];
    const render = () => {
      ul.innerHTML = '';
      second.each((todo) => {
        const li = document.createElement('li');
        li.dataset.id = todo.id;
        li.className = todo.get('completed') ? 'completed' : '';
        const label = document.createElement('span');
        label.className = 'title';
        label.textContent = todo.get('title');
        label.onclick = () => todo.save({ completed: !todo.get('completed') }, { patch: true });
        const destroy = document.createElement('button');
        destroy.className = 'remove';
        destroy.textContent = '×';
        destroy.onclick = () => todo.destroy();
        li.append(label, destroy);
        ul.appendChild(li);
      });
    };
    second.on('all', (name, ...args) => {
      const options = args[args.length - 1];
      if (['add', 'remove', 'change'].includes(name)) window.secondEvents.push(`${name}${options && options.realtime ? ':realtime' : ''}`);
      render();
    });
    second.fetch({ success: () => { render(); resolve(); }, error: (m, e) => reject(new Error(e.message)) });
  }));

  const mainTitles = (page) => page.$$eval('#todo-list li label', (els) => els.map((el) => el.textContent));
  const secondTitles = (page) => page.$$eval('#second-list li .title', (els) => els.map((el) => el.textContent));
  const completedIn = (page, selector) => page.$$eval(`${selector} li.completed`, (els) => els.length);

  // Waits until every list shows `want` (titles in creation order, the
  // demo's order here since `order` grows with each add).
  async function allShow(want, ms = 5000) {
    const same = (titles) => JSON.stringify(titles) === JSON.stringify(want);
    const check = (page, selector) => page.waitForFunction(({ selector, want }) =>
      JSON.stringify([...document.querySelectorAll(selector)].map((el) => el.textContent)) === JSON.stringify(want),
    { selector, want }, { timeout: ms });
    await Promise.all([
      check(pageA, '#todo-list li label'),
      check(pageA, '#second-list li .title'),
      check(pageB, '#todo-list li label'),
    ]);
    assert.ok(same(await mainTitles(pageA)));
    assert.ok(same(await secondTitles(pageA)));
    assert.ok(same(await mainTitles(pageB)));
  }

  async function addTodo(page, title) {
    await page.fill('#new-todo', title);
    await page.press('#new-todo', 'Enter');
  }

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-browser-'));
    server = await startServer();
    browser = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 700, height: 800 },
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
    pageA = await openPage('page A');
    pageB = await openPage('page B');
    await addSecondList(pageA);
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows a todo added in the app in the page\'s second list, once, and in the other tab', async () => {
    await addTodo(pageA, 'buy milk');
    await allShow(['buy milk']);
    await addTodo(pageB, 'walk the dog');
    await allShow(['buy milk', 'walk the dog']);
    const events = await pageA.evaluate(() => window.secondEvents);
    assert.deepEqual(events, ['add:realtime', 'add:realtime']);
  });

  it('shows a toggle made in the second list in the app of both tabs, and one made in the app in the second list', async () => {
    await pageA.click('#second-list li:has-text("buy milk") .title');
    await pageA.waitForSelector('#todo-list li.completed:has-text("buy milk")', { timeout: 5000 });
    await pageB.waitForSelector('#todo-list li.completed:has-text("buy milk")', { timeout: 5000 });

    await pageA.click('#todo-list li:has-text("walk the dog") .toggle');
    await pageA.waitForSelector('#second-list li.completed:has-text("walk the dog")', { timeout: 5000 });
    await pageB.waitForSelector('#todo-list li.completed:has-text("walk the dog")', { timeout: 5000 });
    assert.equal(await completedIn(pageA, '#second-list'), 2);
  });

  it('edits and deletes made anywhere show in all three lists', async () => {
    await pageB.dblclick('#todo-list li:has-text("walk the dog") label');
    await pageB.fill('#todo-list li.editing .edit', 'walk the cat');
    await pageB.press('#todo-list li.editing .edit', 'Enter');
    await allShow(['buy milk', 'walk the cat']);

    await addTodo(pageA, 'to be deleted');
    await allShow(['buy milk', 'walk the cat', 'to be deleted']);
    await pageA.click('#second-list li:has-text("to be deleted") .remove');
    await allShow(['buy milk', 'walk the cat']);

    await pageA.click('#clear-completed');
    await allShow([]);
    await pageA.screenshot({ path: path.join(ARTIFACTS, 'todos-same-page-a.png') });
    assert.deepEqual([...pageA.errors, ...pageB.errors], []);
  });
});

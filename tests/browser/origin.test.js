'use strict';
// Issue 17, in a real browser: a page of another website (a tiny node server on
// 127.0.0.1, opened as http://evil.test:PORT through Chromium's host resolver rules)
// loads socket.io-client and tries to read the store. By default it gets nothing, over
// websocket or polling, and the inspector shows the refusal with the flag to use; with
// `--allow-origin http://evil.test:PORT` the same page reads the store. The demo opened
// under a DNS-rebinding name (http://evil.test:SYNCPORT/demo/) stays offline.
// Debian's chromium driven by playwright-core; never a downloaded browser.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');
const { startServer } = require('../support/server');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const TOKEN = 'origin-test-token-0123456789';
const CLIENT_BUNDLE = require.resolve('socket.io-client/dist/socket.io.js');

// The other website: an empty page and the socket.io-client bundle, from its own server.
function startEvilSite() {
  const server = http.createServer((req, res) => {
    if (req.url === '/socket.io.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(fs.readFileSync(CLIENT_BUNDLE));
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>another website</title><script src="/socket.io.js"></script>');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// Runs in the page: connects with one transport and reads /todos. Resolves with the
// titles read, or with the connect error: both come from the client's own events.
function readTodos({ url, transport }) {
  return new Promise((resolve) => {
    // eslint-disable-next-line no-undef
    const socket = io(url, { transports: [transport], reconnection: false, timeout: 10000 });
    socket.on('connect', () => {
      socket.emit('read', { url: '/todos' }, (err, res) => {
        socket.close();
        resolve(err ? { error: err.code } : { titles: res.data.map((m) => m.title) });
      });
    });
    socket.on('connect_error', (err) => {
      socket.close();
      resolve({ error: err.message });
    });
  });
}

// Writes a todo through a Node socket.io-client, which sends no Origin: it keeps working.
async function seed(serverUrl, title) {
  const socket = io(serverUrl, { transports: ['websocket'], reconnection: false });
  try {
    await new Promise((resolve, reject) => {
      socket.on('connect', resolve);
      socket.on('connect_error', reject);
    });
    const [err] = await new Promise((resolve) =>
      socket.emit('create', { url: '/todos', data: { title, done: false } }, (...args) => resolve(args)));
    assert.equal(err, null);
  } finally {
    socket.close();
  }
}

describe('a page of another website and the Socket.IO endpoint', { timeout: 120000 }, () => {
  let dir, evil, evilOrigin, browser, guarded, opened, inspector;

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-origin-'));
    evil = await startEvilSite();
    evilOrigin = `http://evil.test:${evil.address().port}`;
    guarded = await startServer({ args: ['--token', TOKEN] });
    opened = await startServer({ args: ['--allow-origin', evilOrigin] });
    await seed(guarded.url, 'private note');
    await seed(opened.url, 'shared note');
    browser = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1440, height: 860 },
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // evil.test is this machine under a name of its own, as a rebinding site is.
        '--host-resolver-rules=MAP evil.test 127.0.0.1',
      ],
    });
    // The inspector of the guarded server, open before anything is refused: its log
    // shows the refusals live.
    inspector = await browser.newPage();
    await inspector.goto(`${guarded.url}/_syncscope/ui/?token=${TOKEN}#/log`);
    await inspector.waitForSelector('[data-testid=connection].conn-open', { timeout: 10000 });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    for (const s of [guarded, opened]) if (s) await s.stop().catch(() => {});
    if (evil) evil.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function evilPage() {
    const page = await browser.newPage();
    await page.goto(`${evilOrigin}/`);
    assert.equal(await page.evaluate(() => typeof io), 'function', 'socket.io-client loaded in the page');
    return page;
  }

  it('gets nothing over websocket nor polling by default, and the inspector shows why', async () => {
    const page = await evilPage();
    const overWebsocket = await page.evaluate(readTodos, { url: guarded.url, transport: 'websocket' });
    const overPolling = await page.evaluate(readTodos, { url: guarded.url, transport: 'polling' });
    assert.deepEqual(overWebsocket, { error: 'websocket error' });
    assert.deepEqual(overPolling, { error: 'xhr poll error' });

    const refused = inspector.locator('[data-testid=log-row][data-kind=refused]', { hasText: 'polling' });
    await refused.waitFor({ timeout: 10000 });
    assert.match(await refused.innerText(), new RegExp(`--allow-origin ${evilOrigin.replace(/\./g, '\\.')}`));
    await inspector.locator('[data-testid=log-row][data-kind=refused]', { hasText: 'websocket' }).waitFor();
    await inspector.screenshot({ path: path.join(ARTIFACTS, 'origin-refused-in-inspector.png') });
    await page.close();
  });

  it('reads the store over both transports once its origin is allowed with --allow-origin', async () => {
    const page = await evilPage();
    for (const transport of ['websocket', 'polling']) {
      const got = await page.evaluate(readTodos, { url: opened.url, transport });
      assert.deepEqual(got, { titles: ['shared note'] }, transport);
    }
    await page.close();
  });

  it('keeps the demo offline when it is opened under a DNS-rebinding name', async () => {
    const page = await browser.newPage();
    const host = `evil.test:${guarded.port}`;
    await page.goto(`http://${host}/demo/`);
    // Once the server has refused the demo's handshake, the demo is still not online.
    await inspector.locator('[data-testid=log-row][data-kind=refused]', { hasText: `to ${host}` }).waitFor({ timeout: 10000 });
    assert.match(await inspector.locator('[data-testid=log-row][data-kind=refused]', { hasText: `to ${host}` }).first().innerText(),
      /foreign_host[\s\S]*--allow-host evil\.test/);
    assert.notEqual(await page.getAttribute('#status', 'data-state'), 'online');
    assert.equal(await page.locator('#todo-list li').count(), 0);
    await page.close();
    // The same demo from the server's own address works as before.
    const own = await browser.newPage();
    await own.goto(`${guarded.url}/demo/`);
    await own.waitForSelector('#status[data-state=online]', { timeout: 10000 });
    await own.locator('#todo-list li', { hasText: 'private note' }).waitFor();
    await own.close();
  });

  it('warns at start when --allow-origin * opens the endpoint to every website', async () => {
    const any = await startServer({ args: ['--allow-origin', '*'] });
    try {
      // stderr may come after the listening line on stdout: wait for it a little.
      for (let i = 0; i < 50 && !/--allow-origin '\*'/.test(any.output()); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(any.output(), /--allow-origin '\*': any website/);
    } finally {
      await any.stop();
    }
  });
});

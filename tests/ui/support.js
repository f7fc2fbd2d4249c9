'use strict';
// Shared by the UI tests: the real server with a known control token, Debian's
// chromium driven by playwright-core (never a downloaded browser), and real
// socket.io-client sockets speaking the native dialect.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');
const { startServer } = require('../support/server');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const TOKEN = 'ui-test-token-0123456789';

/**
 * `token: null` starts the server without --token: it then keeps its token beside the
 * database (`DB.token`), which is where this reads it from.
 */
async function startAll({ viewport = { width: 1440, height: 860 }, db, token = TOKEN } = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-ui-'));
  const dbPath = db ?? path.join(dir, 'ui.db');
  const server = await startServer({ args: ['--db', dbPath, ...(token === null ? [] : ['--token', token])] });
  const usedToken = token ?? fs.readFileSync(`${dbPath}.token`, 'utf8').trim();
  const browser = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    acceptDownloads: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // A document served by route() counts as a public one, which may not reach loopback.
      ...(process.env.SYNCSCOPE_UI_FROM_DIST ? ['--disable-features=LocalNetworkAccessChecks'] : []),
    ],
  });
  // For working on ui/ without rebuilding the server: SYNCSCOPE_UI_FROM_DIST=1 serves
  // /_syncscope/ui/ from ui/dist instead of the copy embedded in the binary.
  if (process.env.SYNCSCOPE_UI_FROM_DIST) {
    const dist = path.join(__dirname, '..', '..', 'ui', 'dist');
    await browser.route('**/_syncscope/ui/**', (route) => {
      let rel = new URL(route.request().url()).pathname.replace('/_syncscope/ui/', '');
      if (!rel) rel = 'index.html';
      const type = { html: 'text/html', js: 'text/javascript', css: 'text/css' }[rel.split('.').pop()] ?? 'application/octet-stream';
      route.fulfill({ status: 200, contentType: type, body: fs.readFileSync(path.join(dist, rel)) });
    });
  }
  const clients = [];
  return {
    dir,
    server,
    browser,
    clients,
    db: dbPath,
    token: usedToken,
    uiUrl: `${server.url}/_syncscope/ui/?token=${usedToken}`,
    async close() {
      for (const c of clients) c.close();
      await browser.close().catch(() => {});
      await this.server.stop().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A page that records console errors, page errors, failed responses and foreign requests. */
async function openUi(env, hash = '') {
  const page = env.browser.pages()[0] ?? (await env.browser.newPage());
  page.problems = [];
  page.foreign = [];
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') page.problems.push(`console: ${msg.text()}`); });
  page.on('response', (res) => { if (res.status() >= 400) page.problems.push(`${res.status()} ${res.url()}`); });
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(env.server.url) && !url.startsWith(env.server.url.replace('http', 'ws'))
      && !url.startsWith('data:') && !url.startsWith('blob:')) page.foreign.push(url);
  });
  await page.goto(env.uiUrl + hash);
  await page.waitForSelector('[data-testid=connection].conn-open', { timeout: 10000 });
  return page;
}

/** A connected socket.io-client (v4) with promise helpers for the native dialect. */
async function connectClient(env, { userAgent = 'todo-app (ui test)', transports } = {}) {
  const socket = io(env.server.url, {
    forceNew: true,
    reconnection: false,
    extraHeaders: { 'User-Agent': userAgent },
    ...(transports ? { transports } : {}),
  });
  env.clients.push(socket);
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  socket.call = (event, arg) => new Promise((resolve) => {
    socket.emit(event, arg, (err, res) => resolve({ err, res }));
  });
  socket.next = (event, pred = () => true, ms = 5000) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    function on(...args) {
      if (!pred(...args)) return;
      clearTimeout(timer);
      socket.off(event, on);
      resolve(args);
    }
    socket.on(event, on);
  });
  return socket;
}

async function go(page, panel) {
  await page.click(`[data-testid=nav-${panel}]`);
  await page.waitForSelector(`[data-testid=panel-${panel}]`);
}

function shot(page, name) {
  return page.screenshot({ path: path.join(ARTIFACTS, `ui-${name}.png`) });
}

/**
 * Retries `check` (which throws while the page is not there yet) for up to `ms`; on
 * giving up, screenshots `page` (when given) as ui-FILE-failure.png, FILE being the
 * test file's name, and throws the last error.
 */
async function eventually(check, ms = 8000, page = null) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > end) {
        if (page) await shot(page, `${path.basename(require.main?.filename ?? 'ui', '.test.js')}-failure`);
        throw err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Sends a control command (`{command, ...}`) with the test token; its parsed answer. */
async function command(env, body) {
  const res = await fetch(`${env.server.url}/_syncscope/command`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${env.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res.json();
}

module.exports = { startAll, openUi, connectClient, go, shot, eventually, command, TOKEN, ARTIFACTS };

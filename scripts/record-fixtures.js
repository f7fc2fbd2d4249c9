#!/usr/bin/env node
'use strict';
// Records the replay fixtures in fixtures/replay/ from real clients against the
// real server binary, so that `syncscope replay --check` (issue 8) has real
// conversations to check, and `syncscope import` a real DevTools-shaped HAR.
//
// Why a script and not hand-written files: a fixture typed by hand says what we
// think the server does; one recorded from socket.io-client 4 and 2, backbone.iobind
// and the demo app in Chromium says what it does. Re-run it when the server's
// behaviour changes on purpose, and review the diff.
//
//   make fixtures                      # builds the server first
//   node scripts/record-fixtures.js    # uses $SYNCSCOPE_BIN (tests/support/server.js)
//   node scripts/record-fixtures.js conflict iobind-v2   # only these (names below;
//                                                        # the HARs: har, v2-polling-har)
//
// Each session: `syncscope serve --port 0 --db :memory:`, `record_start` through
// the control API (token from the server's "Control token: …" line), drive the
// clients, wait until every socket is gone, `record_stop`, wait until the recorder
// has written everything, then save GET /_syncscope/sessions/{id}/export as
// fixtures/replay/NAME.session.ndjson. A session whose header says `lost` > 0,
// or whose record count does not match its lines, fails the script.
//
// The sessions (model data is fixed text, never a time or a random value; ids the
// server makes are UUIDv7, which replay maps):
//   demo-two-tabs  the demo app (/demo/, backbone.realtime.js) in two Chromium pages:
//                  page A adds two todos, toggles, edits and deletes one; page B
//                  receives every change as a push.
//   conflict       socket.io-client 4 (websocket), native dialect: create, update,
//                  update with a stale version -> `conflict` ack; a second client
//                  subscribed to /todos hears the two writes that succeeded.
//   fault-error    socket.io-client 4: a fault rule fails the next `update` with
//                  code `unavailable`; the client gets that error ack, then the rule
//                  is removed and the same update succeeds.
//   iobind-v2      the npm package backbone.iobind (real Backbone in jsdom) over
//                  socket.io-client 2 (EIO3, websocket): todos:read, todos:create
//                  (the server makes the id), todos:update, todos:read of the model,
//                  todos:delete; a second iobind client hears the pushes.
//   demo.har       the demo in two Chromium pages doing what demo-two-tabs does,
//                  captured through CDP Network events (WebSocket
//                  frames, and the polling requests with their bodies) and written
//                  in Chrome DevTools' HAR shape, while the pages are still open.
//                  (No injected fault: a HAR cannot carry the rule, so its replay
//                  against a server without it would rightly differ.)
//   v2-polling.har socket.io-client 2's browser bundle (EIO3) in Chromium, polling
//                  only (no WebSocket at all): create, the same create again
//                  (`conflict`), read, close; the HAR has only XHR entries, whose
//                  bodies carry the packets.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('../tests/support/server');

// SYNCSCOPE_FIXTURES_OUT records elsewhere (the replay tests record fresh sessions).
const OUT_DIR = process.env.SYNCSCOPE_FIXTURES_OUT || path.join(__dirname, '..', 'fixtures', 'replay');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const WAIT_MS = 10000;

// --- the server and its control API ----------------------------------------

async function startRecordingServer() {
  const server = await startServer();
  // The token line follows the listening line; it may come in a later chunk.
  const deadline = Date.now() + WAIT_MS;
  let m;
  while (!(m = /Control token: (\S+)/.exec(server.output()))) {
    if (Date.now() > deadline) throw new Error('the server printed no "Control token:" line');
    await sleep(20);
  }
  server.token = m[1];
  return server;
}

async function control(server, method, pathAndQuery, body) {
  const res = await fetch(`${server.url}/_syncscope/${pathAndQuery}`, {
    method,
    headers: {
      authorization: `Bearer ${server.token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /_syncscope/${pathAndQuery}: ${res.status} ${text}`);
  return text;
}

async function command(server, cmd) {
  const result = JSON.parse(await control(server, 'POST', 'command', cmd));
  if (result.result !== 'ok') throw new Error(`command ${cmd.command} failed: ${JSON.stringify(result)}`);
  return result.value;
}

const stats = async (server) => JSON.parse(await control(server, 'GET', 'stats'));
const sessions = async (server) => JSON.parse(await control(server, 'GET', 'sessions'));

// Polls `probe` until it returns the same non-null value `times` times in a row.
async function settled(what, probe, times = 3) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  let same = 0;
  while (same < times) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    const value = await probe();
    const key = JSON.stringify(value);
    same = value !== null && key === last ? same + 1 : (value !== null ? 1 : 0);
    last = key;
    await sleep(100);
  }
  return JSON.parse(last);
}

// Runs `drive` between record_start and record_stop and saves the export.
async function recordSession(name, drive) {
  const server = await startRecordingServer();
  try {
    const session = await command(server, { command: 'record_start', name });
    await drive(server);
    // Every client has closed: wait for their disconnect records.
    await settled('every socket to disconnect', async () => {
      const s = await stats(server);
      return s.sockets === 0 ? s.last_seq : null;
    });
    await command(server, { command: 'record_stop' });
    const info = await settled('the recorder to write the whole session', async () => {
      const [s, all] = await Promise.all([stats(server), sessions(server)]);
      const mine = all.find((x) => x.id === session.id);
      return s.recorder_queued === 0 && mine && mine.stopped_at_us ? mine : null;
    });
    const text = await control(server, 'GET', `sessions/${session.id}/export`);
    const lines = text.trimEnd().split('\n');
    const header = JSON.parse(lines[0]);
    if (header.lost !== 0 || info.lost !== 0) throw new Error(`${name}: the recorder lost ${header.lost} records`);
    if (header.records !== lines.length - 1) {
      throw new Error(`${name}: the header says ${header.records} records, the file has ${lines.length - 1}`);
    }
    const file = path.join(OUT_DIR, `${name}.session.ndjson`);
    fs.writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
    const kinds = {};
    for (const line of lines.slice(1)) {
      const kind = JSON.parse(line).kind;
      kinds[kind] = (kinds[kind] || 0) + 1;
    }
    console.log(`${path.relative(process.cwd(), file)}: ${header.records} records ${JSON.stringify(kinds)}`);
  } finally {
    await server.stop();
  }
}

// --- small helpers -----------------------------------------------------------

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function connected(socket) {
  if (socket.connected) return Promise.resolve(socket);
  return withTimeout(new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => reject(new Error(`connect_error: ${err && err.message}`)));
  }), 'the socket to connect');
}

function ack(socket, event, payload) {
  return withTimeout(new Promise((resolve) => socket.emit(event, payload, (...args) => resolve(args))),
    `the ack of ${event}`);
}

// Resolves with the next `event` heard on `socket`.
function next(socket, event) {
  return withTimeout(new Promise((resolve) => socket.once(event, (...args) => resolve(args))),
    `a '${event}' event`);
}

function closed(socket) {
  return new Promise((resolve) => {
    if (!socket.connected) return resolve();
    socket.once('disconnect', () => resolve());
    socket.close();
  });
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

// --- the native sessions ------------------------------------------------------

function ioV4(url) {
  const io = require('socket.io-client');
  return io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
}

async function conflict(server) {
  const writer = await connected(ioV4(server.url));
  const watcher = await connected(ioV4(server.url));
  let [err] = await ack(watcher, 'subscribe', { url: '/todos' });
  expect(err === null, `subscribe failed: ${JSON.stringify(err)}`);

  let heard = next(watcher, 'change');
  let result;
  [err, result] = await ack(writer, 'create', { url: '/todos', data: { id: 'groceries', title: 'buy milk', done: false } });
  expect(err === null && result.version === 1, `create: ${JSON.stringify([err, result])}`);
  await heard;

  heard = next(watcher, 'change');
  [err, result] = await ack(writer, 'update', {
    url: '/todos/groceries', data: { id: 'groceries', title: 'buy oat milk', done: false }, version: 1,
  });
  expect(err === null && result.version === 2, `update: ${JSON.stringify([err, result])}`);
  await heard;

  // Version 1 is stale now: the server refuses and sends the stored model.
  [err] = await ack(writer, 'update', {
    url: '/todos/groceries', data: { id: 'groceries', title: 'buy soy milk', done: false }, version: 1,
  });
  expect(err && err.code === 'conflict', `stale update: expected a conflict, got ${JSON.stringify(err)}`);

  await closed(writer);
  await closed(watcher);
}

async function faultError(server) {
  const client = await connected(ioV4(server.url));
  let [err, result] = await ack(client, 'create', { url: '/todos', data: { id: 'report', title: 'write the report' } });
  expect(err === null, `create: ${JSON.stringify(err)}`);

  const rule = await command(server, {
    command: 'fault_add',
    rule: {
      when: { event: 'update', url: '/todos' },
      action: 'fail', code: 'unavailable', message: 'injected by the fault-error fixture', times: 1,
    },
  });
  const update = { url: '/todos/report', data: { id: 'report', title: 'send the report' }, version: 1 };
  [err] = await ack(client, 'update', update);
  expect(err && err.code === 'unavailable', `expected the injected error, got ${JSON.stringify(err)}`);
  await command(server, { command: 'fault_remove', id: rule.id });

  [err, result] = await ack(client, 'update', update);
  expect(err === null && result.version === 2, `update after the fault: ${JSON.stringify([err, result])}`);
  await closed(client);
}

// --- iobind over socket.io-client 2 --------------------------------------------

async function iobindV2(server) {
  const ioV2 = require('socket.io-client-v2');
  const { backbonePage, backboneCall } = require('../tests/e2e/lib/backbone');
  const connect = () => connected(ioV2(server.url, { transports: ['websocket'], forceNew: true, reconnection: false }));
  const writerSocket = await connect();
  const listenerSocket = await connect();
  const writerPage = backbonePage(writerSocket);
  const listenerPage = backbonePage(listenerSocket);
  try {
    const inPage = (page) => new (page.Backbone.Collection.extend({ url: 'todos' }))();
    const listened = inPage(listenerPage);
    // Any todos:… event makes the socket a listener of the namespace.
    await backboneCall('listener fetch', (o) => listened.fetch(o));
    const heard = (event) => withTimeout(new Promise((resolve) => {
      listenerSocket.once(event, (...args) => resolve(args));
    }), `the push ${event}`);

    const todos = inPage(writerPage);
    await backboneCall('writer fetch', (o) => todos.fetch(o));

    // No id: Backbone sends todos:create only for a new model; the server makes
    // the id (a UUIDv7, which is also in the names of the pushes that follow).
    let pushed = heard('todos:create');
    const created = await backboneCall('create',
      (o) => todos.create({ title: 'water the plants', done: false }, { ...o, wait: true }));
    await pushed;
    const model = todos.get(created.id);
    expect(model, `the created model is in the collection: ${JSON.stringify(created)}`);

    pushed = heard(`todos/${model.id}:update`);
    await backboneCall('save', (o) => model.save({ done: true }, o));
    await pushed;

    await backboneCall('model fetch', (o) => model.fetch(o));

    pushed = heard(`todos/${model.id}:delete`);
    await backboneCall('destroy', (o) => model.destroy({ ...o, wait: true }));
    await pushed;
  } finally {
    writerPage.close();
    listenerPage.close();
  }
  await closed(writerSocket);
  await closed(listenerSocket);
}

// --- the demo app in Chromium ---------------------------------------------------

async function launchChromium() {
  const { chromium } = require('playwright-core');
  expect(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-fixtures-'));
  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const titles = (page) => page.$$eval('#todo-list li label', (els) => els.map((el) => el.textContent));
const hasTitle = (page, title) => page.waitForFunction(
  (t) => [...document.querySelectorAll('#todo-list li label')].some((l) => l.textContent === t),
  title, { timeout: WAIT_MS });
const lacksTitle = (page, title) => page.waitForFunction(
  (t) => ![...document.querySelectorAll('#todo-list li label')].some((l) => l.textContent === t),
  title, { timeout: WAIT_MS });

async function openDemo(context, server, beforeLoad) {
  const page = await context.newPage();
  if (beforeLoad) await beforeLoad(page);
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector('#status[data-state=online]', { timeout: WAIT_MS });
  return page;
}

async function addTodo(page, title) {
  await page.fill('#new-todo', title);
  await page.press('#new-todo', 'Enter');
}

// Page A adds, toggles, edits and deletes; page B must show each change.
async function driveDemo(pageA, pageB) {
  await addTodo(pageA, 'buy milk');
  await hasTitle(pageB, 'buy milk');
  await addTodo(pageA, 'walk the dog');
  await hasTitle(pageB, 'walk the dog');

  await pageA.click('#todo-list li:has-text("buy milk") .toggle');
  await pageB.waitForSelector('#todo-list li.completed:has-text("buy milk")', { timeout: WAIT_MS });

  await pageA.dblclick('#todo-list li:has-text("walk the dog") label');
  await pageA.fill('#todo-list li.editing .edit', 'walk the cat');
  await pageA.press('#todo-list li.editing .edit', 'Enter');
  await hasTitle(pageB, 'walk the cat');

  await pageA.hover('#todo-list li:has-text("buy milk")');
  await pageA.click('#todo-list li:has-text("buy milk") .destroy');
  await lacksTitle(pageB, 'buy milk');
  const [a, b] = [await titles(pageA), await titles(pageB)];
  expect(JSON.stringify(a) === '["walk the cat"]' && JSON.stringify(b) === '["walk the cat"]',
    `the pages disagree at the end: A ${JSON.stringify(a)}, B ${JSON.stringify(b)}`);
}

async function demoTwoTabs(server) {
  const browser = await launchChromium();
  try {
    const pageA = await openDemo(browser.context, server);
    const pageB = await openDemo(browser.context, server);
    await driveDemo(pageA, pageB);
    // Closing the pages closes their sockets: the disconnects are recorded.
    await pageA.close();
    await pageB.close();
  } finally {
    await browser.close();
  }
}

// --- the HAR --------------------------------------------------------------------

// Collects, for one page, what Chrome DevTools puts in a HAR: the Socket.IO
// polling requests with their bodies, and every WebSocket with its frames.
async function captureNetwork(page, pageref) {
  const cdp = await page.context().newCDPSession(page);
  const requests = new Map(); // requestId -> {request, wall, ts, response, endTs, body}
  const sockets = new Map(); // requestId -> {url, wall, ts, headers, response, messages, closedTs}
  let wallOffset = null; // wall-clock seconds minus CDP monotonic seconds
  const wallOf = (ts) => ts + wallOffset;
  const pending = [];

  cdp.on('Network.requestWillBeSent', (e) => {
    if (wallOffset === null && e.wallTime) wallOffset = e.wallTime - e.timestamp;
    if (!/\/socket\.io\/\?/.test(e.request.url)) return;
    requests.set(e.requestId, { request: e.request, ts: e.timestamp, wall: e.wallTime });
  });
  cdp.on('Network.responseReceived', (e) => {
    const r = requests.get(e.requestId);
    if (r) r.response = e.response;
  });
  cdp.on('Network.loadingFinished', (e) => {
    const r = requests.get(e.requestId);
    if (!r) return;
    r.endTs = e.timestamp;
    pending.push(cdp.send('Network.getResponseBody', { requestId: e.requestId })
      .then((b) => { r.body = b.base64Encoded ? Buffer.from(b.body, 'base64').toString('utf8') : b.body; })
      .catch(() => { r.body = null; }));
  });
  cdp.on('Network.webSocketCreated', (e) => {
    sockets.set(e.requestId, { url: e.url, messages: [], headers: {} });
  });
  cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => {
    const s = sockets.get(e.requestId);
    if (!s) return;
    if (wallOffset === null) wallOffset = e.wallTime - e.timestamp;
    s.ts = e.timestamp;
    s.wall = e.wallTime;
    s.headers = e.request.headers;
  });
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
    const s = sockets.get(e.requestId);
    if (s) s.response = e.response;
  });
  const frame = (type) => (e) => {
    const s = sockets.get(e.requestId);
    if (s) s.messages.push({ type, time: wallOf(e.timestamp), opcode: e.response.opcode, data: e.response.payloadData });
  };
  cdp.on('Network.webSocketFrameSent', frame('send'));
  cdp.on('Network.webSocketFrameReceived', frame('receive'));
  cdp.on('Network.webSocketClosed', (e) => {
    const s = sockets.get(e.requestId);
    if (s) s.closedTs = e.timestamp;
  });
  await cdp.send('Network.enable');

  const headerList = (headers) => Object.entries(headers || {}).map(([name, value]) => ({ name, value: String(value) }));
  const queryOf = (url) => [...new URL(url.replace(/^ws/, 'http')).searchParams].map(([name, value]) => ({ name, value }));

  // Engine.IO packets of every transport, to know when every request has its ack.
  const packets = (side) => {
    const out = [];
    for (const s of sockets.values()) {
      for (const m of s.messages) if (m.type === side) out.push(m.data);
    }
    for (const r of requests.values()) {
      const body = side === 'send' ? r.request.postData : r.body;
      if (body) out.push(...body.split('\x1e'));
    }
    return out;
  };
  const ackIds = (list, re) => list.map((p) => re.exec(p)).filter(Boolean).map((m) => m[1]);

  return {
    // Resolves once every event the page sent with an ack id has had its ack
    // reported by CDP (events may trail what the page has already shown).
    async acked() {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        await Promise.all(pending);
        const asked = ackIds(packets('send'), /^42(\d+)\[/);
        const answered = new Set(ackIds(packets('receive'), /^43(\d+)\[/));
        const missing = asked.filter((id) => !answered.has(id));
        if (!missing.length) return;
        if (Date.now() > deadline) throw new Error(`${pageref}: no ack captured for ack ids ${missing.join(', ')}`);
        await sleep(50);
      }
    },
    // The HAR entries of this page so far: DevTools saves a HAR while the page is
    // open, so a WebSocket still open has no close and lasts until its last frame.
    async entries() {
      await Promise.all(pending);
      const out = [];
      for (const r of requests.values()) {
        if (r.endTs === undefined || !r.response) continue; // a long poll still open
        const post = r.request.postData;
        out.push({
          pageref,
          startedDateTime: new Date(r.wall * 1000).toISOString(),
          time: (r.endTs - r.ts) * 1000,
          request: {
            method: r.request.method, url: r.request.url, httpVersion: 'HTTP/1.1',
            headers: headerList(r.request.headers), queryString: queryOf(r.request.url), cookies: [],
            headersSize: -1, bodySize: post ? Buffer.byteLength(post) : 0,
            ...(post ? { postData: { mimeType: r.request.headers['Content-Type'] || 'text/plain;charset=UTF-8', text: post } } : {}),
          },
          response: {
            status: r.response.status, statusText: r.response.statusText || '', httpVersion: 'HTTP/1.1',
            headers: headerList(r.response.headers), cookies: [],
            content: { size: r.body ? Buffer.byteLength(r.body) : 0, mimeType: r.response.mimeType, ...(r.body !== null && r.body !== undefined ? { text: r.body } : {}) },
            redirectURL: '', headersSize: -1, bodySize: -1,
          },
          cache: {},
          timings: { blocked: -1, dns: -1, connect: -1, send: 0, wait: (r.endTs - r.ts) * 1000, receive: 0, ssl: -1 },
          _resourceType: 'xhr',
        });
      }
      for (const s of sockets.values()) {
        if (s.wall === undefined) continue;
        const last = s.messages.length ? s.messages[s.messages.length - 1].time - wallOffset : s.ts;
        const end = s.closedTs !== undefined ? s.closedTs : last;
        out.push({
          pageref,
          startedDateTime: new Date(s.wall * 1000).toISOString(),
          time: (end - s.ts) * 1000,
          request: {
            method: 'GET', url: s.url, httpVersion: 'HTTP/1.1', headers: headerList(s.headers),
            queryString: queryOf(s.url), cookies: [], headersSize: -1, bodySize: 0,
          },
          response: {
            status: s.response ? s.response.status : 101, statusText: s.response ? s.response.statusText : 'Switching Protocols',
            httpVersion: 'HTTP/1.1', headers: headerList(s.response && s.response.headers), cookies: [],
            content: { size: 0, mimeType: 'x-unknown' }, redirectURL: '', headersSize: -1, bodySize: 0,
          },
          cache: {},
          timings: { blocked: -1, dns: -1, connect: -1, send: 0, wait: 0, receive: 0, ssl: -1 },
          _resourceType: 'websocket',
          _webSocketMessages: s.messages,
        });
      }
      return out;
    },
  };
}

async function recordHar() {
  const server = await startRecordingServer();
  const browser = await launchChromium();
  try {
    const captures = [];
    const pages = [];
    const open = async (id) => {
      const page = await openDemo(browser.context, server, async (p) => {
        captures.push(await captureNetwork(p, id));
      });
      pages.push({ id, title: 'Syncscope demo', startedDateTime: new Date().toISOString(), pageTimings: {} });
      return page;
    };
    const pageA = await open('page_1');
    const pageB = await open('page_2');
    await driveDemo(pageA, pageB);
    for (const c of captures) await c.acked();
    const entries = (await Promise.all(captures.map((c) => c.entries()))).flat()
      .sort((x, y) => x.startedDateTime.localeCompare(y.startedDateTime));
    const websockets = entries.filter((e) => e._resourceType === 'websocket');
    expect(websockets.length === 2, `expected a WebSocket per page, captured ${websockets.length}`);
    // Page A's socket sent events (42…) and got acks (43…); page B's got pushes (42…).
    expect(websockets.every((e) => e._webSocketMessages.some((m) => /^4[23]/.test(m.data))),
      'a page\'s WebSocket carried no Socket.IO event or ack');
    writeHar('demo.har', browser, pages, entries);
  } finally {
    await browser.close();
    await server.stop();
  }
}

// A polling-only conversation of socket.io-client 2 (EIO3) in Chromium: what a HAR
// holds for an app that cannot use WebSockets (a proxy in the way). The page is a
// blank one served at the server's origin by Playwright; the Socket.IO traffic
// goes to the real server.
async function recordPollingHar() {
  const server = await startRecordingServer();
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const capture = await captureNetwork(page, 'page_1');
    const pageUrl = `${server.url}/fixture-v2.html`;
    await page.route(pageUrl, (route) => route.fulfill({
      contentType: 'text/html',
      body: '<!doctype html><title>socket.io-client 2, polling only</title>',
    }));
    await page.goto(pageUrl);
    await page.addScriptTag({ path: require.resolve('socket.io-client-v2/dist/socket.io.js') });
    const outcome = await page.evaluate((url) => new Promise((resolve, reject) => {
      const socket = window.io(url, { transports: ['polling'], reconnection: false });
      const ask = (event, arg) => new Promise((done) => socket.emit(event, arg, (...args) => done(args)));
      socket.on('connect_error', (err) => reject(new Error(`connect_error: ${err && err.message}`)));
      socket.on('connect', async () => {
        const created = await ask('create', { url: '/chairs', data: { id: 'oak', legs: 4 } });
        const again = await ask('create', { url: '/chairs', data: { id: 'oak', legs: 3 } });
        const read = await ask('read', { url: '/chairs' });
        socket.close();
        resolve({ created, again, read });
      });
    }), server.url);
    expect(outcome.created[0] === null, `create: ${JSON.stringify(outcome.created)}`);
    expect(outcome.again[0] && outcome.again[0].code === 'conflict', `second create: ${JSON.stringify(outcome.again)}`);
    expect(outcome.read[1].data.length === 1, `read: ${JSON.stringify(outcome.read)}`);
    await settled('the socket to close', async () => ((await stats(server)).sockets === 0 ? 0 : null));
    await capture.acked();
    const entries = (await capture.entries()).sort((x, y) => x.startedDateTime.localeCompare(y.startedDateTime));
    expect(entries.every((e) => e._resourceType === 'xhr'), 'a WebSocket was opened; this HAR is polling only');
    writeHar('v2-polling.har', browser, [{ id: 'page_1', title: 'socket.io-client 2, polling only', startedDateTime: entries[0].startedDateTime, pageTimings: {} }], entries);
  } finally {
    await browser.close();
    await server.stop();
  }
}

function writeHar(name, browser, pages, entries) {
  const har = {
    log: {
      version: '1.2',
      creator: { name: 'syncscope scripts/record-fixtures.js (CDP, DevTools HAR shape)', version: '1' },
      browser: { name: 'Chromium', version: browser.context.browser() ? browser.context.browser().version() : 'unknown' },
      pages,
      entries,
    },
  };
  const file = path.join(OUT_DIR, name);
  fs.writeFileSync(file, `${JSON.stringify(har, null, 2)}\n`);
  const websockets = entries.filter((e) => e._resourceType === 'websocket');
  const frames = websockets.reduce((n, e) => n + e._webSocketMessages.length, 0);
  console.log(`${path.relative(process.cwd(), file)}: ${entries.length} entries (${websockets.length} websockets, ${frames} frames)`);
}

// --- main -----------------------------------------------------------------------

const RECORDINGS = {
  'demo-two-tabs': () => recordSession('demo-two-tabs', demoTwoTabs),
  conflict: () => recordSession('conflict', conflict),
  'fault-error': () => recordSession('fault-error', faultError),
  'iobind-v2': () => recordSession('iobind-v2', iobindV2),
  har: recordHar,
  'v2-polling-har': recordPollingHar,
};

async function main() {
  const wanted = process.argv.slice(2);
  for (const name of wanted) {
    if (!RECORDINGS[name]) throw new Error(`unknown fixture ${name}; known: ${Object.keys(RECORDINGS).join(', ')}`);
  }
  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (const name of wanted.length ? wanted : Object.keys(RECORDINGS)) {
    await RECORDINGS[name]();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(`record-fixtures: ${err.stack || err.message}`);
  process.exit(1);
});

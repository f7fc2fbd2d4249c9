'use strict';
// The real Syncscope window (Tauri + WebKitGTK) under Xvfb, driven through
// tauri-driver and Debian's WebKitWebDriver with plain W3C WebDriver calls:
// it opens on the inspector, shows the demo app (in headless Chromium) as a
// connected client, and a push injected from the window shows up in the demo.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const TARGET = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'syncscope', 'target');
const APP = path.join(TARGET, 'debug', 'syncscope-app');
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

const children = [];
let driver; // base url of tauri-driver
let session;
let browser;
let home;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function start(cmd, args, env) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  child.log = () => log;
  children.push(child);
  return child;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

async function wd(method, route, body) {
  const res = await fetch(`${driver}${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${route}: ${JSON.stringify(json.value)}`);
  return json.value;
}

const find = async (css) => (await wd('POST', `/session/${session}/element`, { using: 'css selector', value: css }))[ELEMENT];
const findAll = async (css) => (await wd('POST', `/session/${session}/elements`, { using: 'css selector', value: css })).map((e) => e[ELEMENT]);
// Clicks once the element is there: a panel just switched to renders its content
// after it has fetched it.
const click = async (css) => {
  const el = await until(`${css} to be shown`, () => find(css));
  return wd('POST', `/session/${session}/element/${el}/click`, {});
};
const text = async (css) => wd('GET', `/session/${session}/element/${await find(css)}/text`);
// Replaces a field's text: clear, type, read back, again if it does not hold `value`.
// WebDriver's "clear" fires no input event, so the UI's state keeps the old text, and
// a re-render in between (the live log re-renders panels all the time) puts it back
// before the typing: the event read "changechange" and nothing was pushed. Once typed,
// the field's input events have set the state, and the read-back is what gets sent.
async function type(css, value) {
  const read = (el) => wd('GET', `/session/${session}/element/${el}/property/value`);
  await until(`${css} to hold what was typed`, async () => {
    const el = await find(css);
    if ((await read(el)) === value) return true;
    await wd('POST', `/session/${session}/element/${el}/clear`, {});
    await wd('POST', `/session/${session}/element/${el}/value`, { text: value });
    return (await read(el)) === value;
  });
}

before(async () => {
  const display = `:${90 + Math.floor(Math.random() * 200)}`;
  const xvfb = start('Xvfb', [display, '-screen', '0', '1400x900x24', '-nolisten', 'tcp']);
  await until('Xvfb', () => fs.existsSync(`/tmp/.X11-unix/X${display.slice(1)}`) || xvfb.exitCode !== null);
  assert.equal(xvfb.exitCode, null, `Xvfb did not start: ${xvfb.log()}`);
  assert.ok(fs.existsSync(APP), `build the window first: cargo build -p syncscope-app (${APP} is missing)`);

  const [port, nativePort] = [await freePort(), await freePort()];
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-home-'));
  const td = start('tauri-driver', ['--port', String(port), '--native-port', String(nativePort), '--native-driver', '/usr/bin/WebKitWebDriver'], {
    DISPLAY: display,
    // A home of its own: the window saves downloads to ~/Downloads.
    HOME: home,
    // The window's own server: any free port, a throwaway database.
    SYNCSCOPE_PORT: '0',
    SYNCSCOPE_DB: ':memory:',
  });
  driver = `http://127.0.0.1:${port}`;
  await until('tauri-driver', async () => (await fetch(`${driver}/status`)).ok || td.exitCode !== null);
  const created = await wd('POST', '/session', {
    capabilities: { alwaysMatch: { 'tauri:options': { application: APP } } },
  });
  session = created.sessionId;
});

after(async () => {
  if (browser) await browser.close();
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {});
  for (const child of children.reverse()) child.kill('SIGTERM');
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

test('the window opens on the inspector, lists the demo app as a connected client, and a push injected there shows up in the demo, and the session exports to ~/Downloads', async () => {
  // The window loads the UI from the core it started; its address gives the port.
  const url = await until('the inspector page', async () => {
    const u = await wd('GET', `/session/${session}/url`);
    return u.includes('/_syncscope/ui/') && u;
  });
  const { port } = new URL(url);
  await until('the UI to reach the control API', async () => /^connected/.test(await text('[data-testid="connection"]')));

  // The demo app, a real Backbone app on backbone.realtime.js, in Chromium.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-desktop-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const demo = await browser.newPage();
  await demo.goto(`http://127.0.0.1:${port}/demo/`);
  await demo.waitForSelector('#status[data-state="online"]', { timeout: 15000 });

  await click('[data-testid="nav-sockets"]');
  await until('the demo in the Sockets panel', async () => (await findAll('[data-testid="socket-row"]')).length === 1);
  await click('[data-testid="socket-row"]');
  const detail = await until('the demo subscribed', async () => {
    const t = await text('[data-testid="socket-detail"]');
    return /\/todos/.test(t) && t;
  });
  assert.match(detail, /Chrom/, 'the client is the Chromium page');
  await click('[data-testid="socket-emit"]');
  await type('[data-testid="inject-event"]', 'change');
  await type('[data-testid="inject-payload"]', JSON.stringify({
    url: '/todos', op: 'create', id: 'from-window',
    data: { id: 'from-window', title: 'pushed from the window', completed: false },
  }));
  await click('[data-testid="inject-send"]');

  await demo.waitForFunction(
    () => [...document.querySelectorAll('#todo-list li label')].some((l) => l.textContent === 'pushed from the window'),
    null, { timeout: 10000 },
  );

  // Export from the Sessions panel: the window saves the file to ~/Downloads.
  await click('[data-testid="nav-sessions"]');
  await click('[data-testid="session-export"]');
  const downloads = path.join(home, 'Downloads');
  const file = await until('the exported session in ~/Downloads', () =>
    fs.existsSync(downloads) && fs.readdirSync(downloads).find((f) => f.endsWith('.session.ndjson')));
  const lines = await until('the whole file', () => {
    const text = fs.readFileSync(path.join(downloads, file), 'utf8');
    return text.endsWith('\n') && text.trim().split('\n');
  });
  const header = JSON.parse(lines[0]);
  assert.equal(header.format, 'syncscope-session');
  assert.ok(lines.slice(1).some((l) => JSON.parse(l).kind === 'push_out'), 'the injected push is in the export');

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const png = await wd('GET', `/session/${session}/screenshot`);
  fs.writeFileSync(path.join(ARTIFACTS, 'desktop-window.png'), Buffer.from(png, 'base64'));
  await demo.screenshot({ path: path.join(ARTIFACTS, 'desktop-demo-after-push.png') });
});

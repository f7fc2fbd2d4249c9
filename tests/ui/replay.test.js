'use strict';
// The Replay view of the Sessions panel in headless Chromium against the real server:
// a stored session's pushes reach a real socket.io-client 4 subscribed now, and Play,
// Pause, Step, seek, speed and Stop do what they say, the current push highlighted.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startAll, openUi, connectClient, go, shot, TOKEN, ARTIFACTS, eventually } = require('./support');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Six changes on /todos, 1.5 s apart: long enough that a pause lands before the next.
const GAP_US = 1_500_000;
const PUSHES = 6;

function sessionFile() {
  const records = [];
  for (let n = 1; n <= PUSHES; n++) {
    records.push({
      seq: 10 * n, at_us: 1_800_000_000_000_000 + (n - 1) * GAP_US, socket: 'recorded', origin: 'server',
      url: '/todos', kind: 'push_out', event: 'change', target: { to: 'channel', url: '/todos' }, recipients: 1,
      args: [{ url: '/todos', op: 'update', id: 'milk', seq: n, data: { id: 'milk', title: `buy milk #${n}` }, version: n }],
    });
  }
  const header = {
    format: 'syncscope-session', version: 1, name: 'milk run', started_at_us: 1_800_000_000_000_000,
    stopped_at_us: 1_800_000_000_000_000 + PUSHES * GAP_US, records: records.length, lost: 0,
  };
  return [header, ...records].map((x) => JSON.stringify(x)).join('\n') + '\n';
}

describe('the Replay view', { timeout: 120000 }, () => {
  let env, page, listener, session;
  const received = [];

  before(async () => {
    env = await startAll();
    const res = await fetch(`${env.server.url}/_syncscope/sessions/import`, {
      method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` }, body: sessionFile(),
    });
    assert.equal(res.status, 200);
    session = (await res.json()).session;
    listener = await connectClient(env, { userAgent: 'replay listener' });
    assert.equal((await listener.call('subscribe', { url: '/todos' })).err, null);
    listener.on('change', (c) => received.push(c.data.title));
    page = await openUi(env);
    await go(page, 'sessions');
  });

  after(async () => {
    await env?.close();
  });

  const state = () => page.textContent('[data-testid=replay-state]');
  const position = () => page.textContent('[data-testid=replay-position]');
  const current = () => page.getAttribute('[data-testid=replay-push][data-current=true]', 'data-seq');

  it('loads a session and lists its pushes', async () => {
    const row = page.locator(`[data-testid=session-row][data-session="${session}"]`);
    await row.locator('[data-testid=session-replay]').click();
    await page.waitForSelector('[data-testid=replay-view]');
    await eventually(async () => assert.equal(await state(), 'idle'));
    assert.equal((await position()).trim(), `0 / ${PUSHES}`);
    await eventually(async () => assert.equal((await page.$$('[data-testid=replay-push]')).length, PUSHES));
    assert.equal(await page.$('[data-testid=replay-push][data-current=true]'), null, 'nothing sent yet');
  });

  it('plays, and a pause sends nothing more', async () => {
    await page.click('[data-testid=replay-play]');
    await eventually(() => assert.deepEqual(received, ['buy milk #1']));
    await page.click('[data-testid=replay-pause]');
    await eventually(async () => assert.equal(await state(), 'paused'));
    await sleep(2500);
    assert.deepEqual(received, ['buy milk #1'], 'the second push was due 1.5 s after the first');
    assert.equal((await position()).trim(), `1 / ${PUSHES}`);
    await eventually(async () => assert.equal(await current(), '10'));
  });

  it('steps one push at a time, the one sent highlighted', async () => {
    await page.click('[data-testid=replay-step]');
    await eventually(() => assert.deepEqual(received, ['buy milk #1', 'buy milk #2']));
    await eventually(async () => assert.equal(await current(), '20'));
    assert.equal((await position()).trim(), `2 / ${PUSHES}`);
    assert.equal(await state(), 'paused');
    await sleep(2000);
    assert.equal(received.length, 2, 'a step sends exactly one');
  });

  it('seeks by clicking the bar, then plays to the end at 5x', async () => {
    const bar = await page.$('[data-testid=replay-bar]');
    const box = await bar.boundingBox();
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height / 2);
    await eventually(async () => assert.equal((await position()).trim(), `3 / ${PUSHES}`));
    assert.equal(received.length, 2, 'seeking sends nothing');
    await page.click('[data-testid=replay-speed-5]');
    await eventually(async () => assert.match(await page.getAttribute('[data-testid=replay-speed-5]', 'class'), /\bon\b/));
    await page.click('[data-testid=replay-play]');
    await eventually(() => assert.deepEqual(received, ['buy milk #1', 'buy milk #2', 'buy milk #4', 'buy milk #5', 'buy milk #6']), 10000);
    await eventually(async () => assert.equal(await state(), 'finished'));
    await eventually(async () => assert.equal(await current(), '60'));
    assert.equal((await position()).trim(), `${PUSHES} / ${PUSHES}`);
  });

  it('stops back to the start', async () => {
    await page.click('[data-testid=replay-stop]');
    await eventually(async () => assert.equal(await state(), 'idle'));
    assert.equal((await position()).trim(), `0 / ${PUSHES}`);
    assert.equal(await page.$('[data-testid=replay-push][data-current=true]'), null);
    const res = await fetch(`${env.server.url}/_syncscope/stats`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const stats = await res.json();
    assert.equal(stats.replay.state, 'idle');
    assert.equal(stats.replay.speed, 5);
    assert.deepEqual(page.problems, []);
  });

  it('shows a tidy Replay view mid-way (screenshot)', async () => {
    await page.click('[data-testid=replay-speed-1]');
    await page.click('[data-testid=replay-step]');
    await page.click('[data-testid=replay-step]');
    await page.click('[data-testid=replay-step]');
    await eventually(async () => assert.equal(await current(), '30'));
    await sleep(300);
    const view = await page.$('[data-testid=panel-sessions]');
    await view.screenshot({ path: path.join(ARTIFACTS, 'ui-replay.png') });
    assert.ok(fs.statSync(path.join(ARTIFACTS, 'ui-replay.png')).size > 0);
    await shot(page, 'replay-page');
  });
});

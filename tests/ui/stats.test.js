'use strict';
// Issue 18, finding 7: Stats that drive debugging. A real socket.io-client writes for a
// few seconds, some writes fail for real (not_found) and some by a fault rule; the
// Stats panel offers several windows, round axis ticks (no "0 µs", no 453/906/1,360),
// error acks on their own axis, the values under the pointer, and a range dragged
// across a chart opens the log on exactly that range.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startAll, openUi, connectClient, go, shot, TOKEN } = require('./support');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** 1, 2 or 5 × 10^k (the steps niceTicks makes). */
function isRoundStep(step) {
  const pow = 10 ** Math.floor(Math.log10(step));
  return [1, 2, 5, 10].some((m) => Math.abs(step - m * pow) < pow * 1e-9);
}

/** A latency tick back in µs: "0", "200 µs", "1.5 ms", "2 s". */
function parseLatency(text) {
  if (text === '0') return 0;
  const m = /^(\d+(?:\.\d+)?) (µs|ms|s)$/.exec(text);
  assert.ok(m, `a latency tick reads as a number and a unit: ${JSON.stringify(text)}`);
  return Number(m[1]) * { µs: 1, ms: 1000, s: 1e6 }[m[2]];
}

function parseCount(text) {
  const m = /^(\d+(?:\.\d+)?)(k|M)?$/.exec(text);
  assert.ok(m, `a count tick: ${JSON.stringify(text)}`);
  return Number(m[1]) * (m[2] === 'k' ? 1e3 : m[2] === 'M' ? 1e6 : 1);
}

function assertRoundTicks(values, what) {
  assert.ok(values.length >= 2, `${what}: at least two ticks`);
  assert.equal(values[0], 0, `${what}: starts at 0`);
  const step = values[1] - values[0];
  assert.ok(isRoundStep(step), `${what}: a round step (${values.join(', ')})`);
  values.forEach((v, i) => assert.ok(Math.abs(v - i * step) < step * 1e-6, `${what}: even steps (${values.join(', ')})`));
}

describe('Stats panel (issue 18)', { timeout: 120000 }, () => {
  let env, ui, ticker;

  before(async () => {
    env = await startAll();
    ui = await openUi(env, '#/stats');
    const client = await connectClient(env);
    await client.call('subscribe', { url: '/notes' });
    // Every failure after the first real ones is made up by a rule: `fail` on reads.
    const rule = await fetch(`${env.server.url}/_syncscope/command`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ command: 'fault_add', rule: { when: { event: 'read' }, action: 'fail', code: 'internal', message: 'made up' } }),
    });
    assert.equal((await rule.json()).result, 'ok');
    const end = Date.now() + 5000;
    let i = 0;
    while (Date.now() < end) {
      await client.call('create', { url: '/notes', data: { title: `note ${i}` } });
      if (i % 3 === 0) await client.call('update', { url: '/notes/nope', data: { title: 'x' }, version: 1 });
      if (i % 4 === 0) await client.call('read', { url: '/notes' });
      i++;
      await sleep(60);
    }
    // Light traffic from now on, so that any recent range has records.
    let n = 0;
    ticker = setInterval(() => client.emit('create', { url: '/notes', data: { title: `tick ${n++}` } }, () => {}), 250);
    await sleep(1200);
  });

  after(async () => {
    clearInterval(ticker);
    if (ui?.problems?.length) console.log('# page problems:', ui.problems);
    if (env) await env.close();
  });

  it('offers several windows and counts real and injected errors apart', async () => {
    await go(ui, 'stats');
    for (const w of [60, 300, 900, 3600]) await ui.locator(`[data-testid=stats-window-${w}]`).waitFor();
    await ui.click('[data-testid=stats-window-60]');
    assert.match(await ui.locator('.card', { has: ui.locator('[data-testid=stats-total]') }).innerText(), /records in the last 1 min/);
    assert.ok(Number((await ui.innerText('[data-testid=stats-errors]')).replace(/\D/g, '')) > 0, 'real error acks (not_found) counted');
    assert.ok(Number((await ui.innerText('[data-testid=stats-injected]')).replace(/\D/g, '')) > 0, 'injected error acks counted apart');
    await ui.click('[data-testid=stats-window-3600]');
    assert.match(await ui.locator('.card', { has: ui.locator('[data-testid=stats-total]') }).innerText(), /records in the last 1 h/);
    await ui.click('[data-testid=stats-window-60]');
  });

  it('puts round ticks on the axes, errors on their own axis, and no "0 µs"', async () => {
    const lat = await ui.locator('[data-testid=chart-latency] [data-testid=tick-left]').allTextContents();
    assert.ok(!lat.includes('0 µs'), `no "0 µs": ${lat.join(', ')}`);
    assertRoundTicks(lat.map(parseLatency), 'latency');
    const left = (await ui.locator('[data-testid=chart-events] [data-testid=tick-left]').allTextContents()).map(parseCount);
    const right = (await ui.locator('[data-testid=chart-events] [data-testid=tick-right]').allTextContents()).map(parseCount);
    assertRoundTicks(left, 'records/s');
    assertRoundTicks(right, 'error acks/s');
    assert.ok(right.at(-1) < left.at(-1), `errors get their own, smaller scale (${right.at(-1)} vs ${left.at(-1)})`);
  });

  it('shows the values under the pointer', async () => {
    const svg = ui.locator('[data-testid=chart-events] svg');
    const box = await svg.boundingBox();
    // Near the right end: the seconds that had traffic.
    await ui.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2);
    const hover = ui.locator('[data-testid=chart-events] [data-testid=chart-hover]');
    await hover.waitFor();
    const text = await hover.innerText();
    assert.match(text, /^\d\d:\d\d:\d\d\.\d{3}/, 'the second');
    for (const name of ['all records', 'acks', 'error acks', 'injected errors']) assert.match(text, new RegExp(`${name} (\\d[\\d,]*/s|—)`));
    await shot(ui, 'stats-hover');
  });

  it('opens the log on a range dragged across a chart', async () => {
    const svg = ui.locator('[data-testid=chart-events] svg');
    const box = await svg.boundingBox();
    await ui.mouse.move(box.x + box.width * 0.86, box.y + box.height / 2);
    await ui.mouse.down();
    await ui.mouse.move(box.x + box.width * 0.93, box.y + box.height / 2, { steps: 5 });
    await ui.mouse.up();
    await ui.waitForSelector('[data-testid=panel-log]');
    const chip = ui.locator('[data-testid=filter-range]');
    await chip.waitFor();
    const [from, to] = (await chip.innerText()).match(/\d\d:\d\d:\d\d\.\d{3}/g);
    assert.ok(from < to, `a range: ${from} – ${to}`);
    const times = await ui.locator('[data-testid=log-row] .c-time').allInnerTexts();
    assert.ok(times.length > 0, 'records in the range');
    for (const t of times) assert.ok(t >= from && t <= to, `${t} within ${from} – ${to}`);
    const all = await ui.innerText('[data-testid=log-count]');
    const [shown, kept] = all.match(/[\d,]+/g).map((n) => Number(n.replace(/,/g, '')));
    assert.ok(shown < kept, `only the range: ${all}`);
    await shot(ui, 'log-range');
    await chip.locator('button').click();
    await chip.waitFor({ state: 'detached' });
  });
});

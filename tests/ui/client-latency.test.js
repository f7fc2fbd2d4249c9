'use strict';
// Issue 18, finding 7 (the last point): client-observed latency in Stats. The demo app
// (fixtures/todos at /demo/, real Backbone and backbone.realtime.js in Chromium)
// reports each request's round trip as the page measured it; the Stats panel shows it
// beside the server's ack latency, per method and per page. A fault rule delays every
// `patch` (the demo's toggle) by 400 ms: the page's figure for patch must show it.
// Before any page reports, the panel says why there is nothing (a raw socket.io-client
// does not report).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startAll, openUi, connectClient, go, shot, command: sendCommand } = require('./support');

const DELAY_MS = 400;

/** "412.3 ms" or "1.20 s" back in ms. */
function ms(text) {
  const m = /^([\d.]+) (µs|ms|s)$/.exec(text.trim());
  assert.ok(m, `a latency: ${JSON.stringify(text)}`);
  return Number(m[1]) * { µs: 0.001, ms: 1, s: 1000 }[m[2]];
}

describe('client-observed latency in Stats (issue 18)', { timeout: 120000 }, () => {
  let env, ui, demo;

  const command = (body) => sendCommand(env, body);

  before(async () => {
    env = await startAll();
    ui = await openUi(env, '#/stats');
  });

  after(async () => {
    if (demo) await demo.evaluate(() => clearInterval(window.__toggler)).catch(() => {});
    for (const p of [ui, demo]) {
      if (p && (p.problems?.length || p.errors?.length)) console.log('# page problems:', p.problems ?? p.errors);
    }
    if (env) await env.close();
  });

  it('says why there is no client latency while only a raw Socket.IO client is connected', async () => {
    const raw = await connectClient(env);
    await raw.call('subscribe', { url: '/todos' });
    await raw.call('read', { url: '/todos' });
    await go(ui, 'stats');
    const empty = ui.locator('[data-testid=client-latency-empty]');
    await empty.waitFor();
    await ui.waitForFunction(() => /none of the 1 connected socket/.test(document.querySelector('[data-testid=client-latency-empty]')?.textContent ?? ''));
    assert.match(await empty.innerText(), /backbone\.realtime\.js page/);
    assert.equal(await ui.locator('[data-testid=latency-page] b').innerText(), '—');
  });

  it("shows a demo page's round trips beside the server's ack latency, with a delayed patch in them", async () => {
    const rule = await command({ command: 'fault_add', rule: { when: { event: 'patch', url: '/todos' }, action: 'delay', ms: DELAY_MS } });
    assert.equal(rule.result, 'ok', JSON.stringify(rule));
    demo = await env.browser.newPage();
    demo.errors = [];
    demo.on('pageerror', (err) => demo.errors.push(err.message));
    await demo.goto(`${env.server.url}/demo/`);
    await demo.waitForSelector('#status[data-state=online]', { timeout: 10000 });
    await demo.fill('#new-todo', 'buy milk');
    await demo.press('#new-todo', 'Enter');
    await demo.waitForSelector('#todo-list li .toggle');
    // The user keeps ticking the todo on and off (a `patch` each), one at a time, so
    // the page always has recent round trips to report while the test looks.
    await demo.evaluate(() => {
      window.__toggler = setInterval(() => {
        if (Backbone.realtime.pending().length === 0) document.querySelector('#todo-list li .toggle').click();
      }, 100);
    });

    // The panel leaves its empty state and lists the patch with the delay in it.
    const patch = ui.locator('[data-testid=client-latency-op-patch]');
    await patch.waitFor({ timeout: 15000 });
    await ui.waitForFunction((delay) => {
      const cell = document.querySelector('[data-testid=client-latency-op-patch] [data-testid=op-p99]');
      const m = cell && /^([\d.]+) (µs|ms|s)$/.exec(cell.textContent.trim());
      return m && Number(m[1]) * { µs: 0.001, ms: 1, s: 1000 }[m[2]] >= delay * 0.9;
    }, DELAY_MS, { timeout: 15000 });
    const p99 = ms(await patch.locator('[data-testid=op-p99]').innerText());
    assert.ok(p99 >= DELAY_MS * 0.9 && p99 < 60000, `the page saw its patches take ${p99} ms; the server delays them ${DELAY_MS} ms`);
    assert.equal(await ui.locator('[data-testid=client-latency-empty]').count(), 0, 'no empty state while a page reports');

    // Both figures, each said for what it is.
    const pageCard = await ui.locator('[data-testid=latency-page]').innerText();
    const serverCard = await ui.locator('[data-testid=latency-server]').innerText();
    assert.match(pageCard, /round trip as the pages saw it/);
    assert.match(pageCard, /network, queues and server/);
    assert.match(serverCard, /inside the server/);
    assert.ok(ms(await ui.innerText('[data-testid=latency-page-p99]')) >= DELAY_MS * 0.9, pageCard);
    assert.notEqual(await ui.innerText('[data-testid=latency-server-p50]'), '—', serverCard);

    // Which page: the demo tab, named as elsewhere in the inspector. The per-page rows
    // come with the socket list's updates, not with /stats, so they may come later.
    await ui.locator('[data-testid=client-latency-pages] tbody tr').first().waitFor({ timeout: 15000 });
    const pages = await ui.locator('[data-testid=client-latency-pages] tbody tr').allInnerTexts();
    assert.equal(pages.length, 1, pages.join('\n'));
    const socket = await demo.evaluate(() => Backbone.realtime.socket.id);
    assert.equal(await ui.locator('[data-testid=client-latency-pages] tbody tr td').first().getAttribute('title'), socket);

    // The chart has the page's series beside the server's, with values.
    const legend = await ui.locator('[data-testid=chart-latency] figcaption').innerText();
    for (const name of ['server p50', 'server p99', 'page p50', 'page p99']) assert.match(legend, new RegExp(name));
    await ui.waitForFunction(() => /page p99 [\d.]+ (µs|ms|s)/.test(document.querySelector('[data-testid=chart-latency] figcaption')?.textContent ?? ''));
    await shot(ui, 'stats-client-latency');
    assert.deepEqual(demo.errors, []);
  });
});

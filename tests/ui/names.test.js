'use strict';
// Issue 18, findings 5 and 6 and the request → push links, replayed with the demo app
// in two Chromium tabs (real Backbone, backbone.realtime.js, socket.io-client 4):
// which tab is which (a name per socket and the page the adapter sends in `auth`,
// kept for sockets that left, a reconnect shown as the same tab leaving and coming
// back), which model (rows lead with the id and title, keys in the order sent,
// the same in Channels, Data and Inject), and from a request to the pushes its
// write caused and back.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startAll, openUi, go, shot, eventually } = require('./support');

describe('names for tabs and models, links from a request to its pushes (issue 18)', { timeout: 180000 }, () => {
  let env, ui, tabA, tabB, nameA, nameB, idA, idB;

  async function openDemo(name) {
    const page = await env.browser.newPage();
    page.errors = [];
    page.on('pageerror', (err) => page.errors.push(`${name}: ${err.message}`));
    await page.goto(`${env.server.url}/demo/`);
    await page.waitForSelector('#status[data-state=online]', { timeout: 10000 });
    return page;
  }
  const listed = (page, title) => page.waitForFunction(
    (t) => [...document.querySelectorAll('#todo-list li label')].some((l) => l.textContent === t),
    title,
    { timeout: 5000 },
  );
  const socketOf = (page) => page.evaluate(() => window.Backbone.realtime.socket.id);
  const nameIn = async (id) => (await ui.locator(`[data-testid=socket-row][data-socket="${id}"] .sock-name`).innerText()).trim();

  before(async () => {
    env = await startAll();
    ui = await openUi(env, '#/sockets');
    tabA = await openDemo('tab A');
    tabB = await openDemo('tab B');
    idA = await socketOf(tabA);
    idB = await socketOf(tabB);
  });

  after(async () => {
    for (const p of [ui, tabA, tabB]) {
      if (p && (p.problems?.length || p.errors?.length)) console.log('# page problems:', p.problems ?? p.errors);
    }
    if (env) await env.close();
  });

  it('names each tab\'s socket with two words and the page title the adapter sent', async () => {
    await go(ui, 'sockets');
    await ui.locator(`[data-testid=socket-row][data-socket="${idB}"]`).waitFor();
    nameA = await nameIn(idA);
    nameB = await nameIn(idB);
    assert.match(nameA, /^[a-z]+-[a-z]+$/);
    assert.match(nameB, /^[a-z]+-[a-z]+$/);
    assert.notEqual(nameA, nameB, 'two tabs of one app are told apart');
    const row = ui.locator(`[data-testid=socket-row][data-socket="${idA}"] [data-testid=socket-name]`);
    assert.match(await row.innerText(), /Syncscope · Todos \/demo\//, 'the page title and path from auth.page');
    await ui.locator(`[data-testid=socket-row][data-socket="${idA}"]`).click();
    assert.match(await ui.locator('[data-testid=socket-detail]').innerText(), new RegExp(`${nameA}[\\s\\S]*page\\s+Syncscope · Todos http://[^\\s]+/demo/`));
    await shot(ui, 'sockets-names');
  });

  it('leads log rows with the model\'s id and title and the tab\'s name; keys stay in the order sent', async () => {
    await tabA.fill('#new-todo', 'buy milk');
    await tabA.press('#new-todo', 'Enter');
    await listed(tabB, 'buy milk');
    await go(ui, 'log');
    const request = ui.locator('[data-testid=log-row][data-kind=event_in]', { hasText: 'buy milk' }).first();
    await request.waitFor();
    assert.equal((await request.locator('[data-testid=row-socket]').innerText()).trim(), nameA, 'the writer by its name');
    assert.match(await request.locator('[data-testid=row-model]').innerText(), /“buy milk”/);
    // As Backbone sent it: title, completed, order (sorted keys would put completed first).
    assert.match(await request.locator('.c-sum').innerText(), /\{"url":"\/todos","data":\{"title":"buy milk","completed":false,"order":/);
    const push = ui.locator('[data-testid=log-row][data-kind=push_out]', { hasText: 'buy milk' }).first();
    const lead = await push.locator('[data-testid=row-model]').innerText();
    assert.match(lead, /^\S+ “buy milk”$/, 'the push leads with the id and the title');
    assert.match(await push.locator('.c-sum').innerText(), new RegExp(`→ ${nameB} `), 'whom it reached, by name');
  });

  it('links a request to the pushes its write caused, and a push back to its request', async () => {
    await go(ui, 'log');
    const request = ui.locator('[data-testid=log-row][data-kind=event_in]', { hasText: 'buy milk' }).first();
    const requestSeq = await request.getAttribute('data-seq');
    assert.match(await request.locator('.c-sum').innerText(), /→ 1 push/);
    await request.click();
    const detail = ui.locator('[data-testid=log-detail]');
    const caused = detail.locator('[data-testid=detail-caused-push]');
    await caused.waitFor();
    assert.match(await detail.locator('[data-testid=detail-caused]').innerText(), new RegExp(`#\\d+ change\\s+→ ${nameB}`));
    await shot(ui, 'log-links');
    await caused.click();
    await detail.locator('h3', { hasText: 'push' }).waitFor();
    const cause = detail.locator('[data-testid=detail-cause]');
    assert.match(await cause.innerText(), new RegExp(`request #${requestSeq}\\s+create /todos from ${nameA}`));
    await detail.locator('[data-testid=detail-cause-link]').click();
    await detail.locator('h3', { hasText: `#${requestSeq} request` }).waitFor();
  });

  it('shows the model by its title in Channels, Data and the Inject model picker, keys in the order sent', async () => {
    await go(ui, 'channels');
    await ui.locator('[data-testid=channel-row][data-channel="/todos"]').click();
    await ui.locator('[data-testid=change-model]', { hasText: '“buy milk”' }).waitFor();
    assert.match(await ui.locator('[data-testid=channel-members]').innerText(), new RegExp(nameA));
    await shot(ui, 'channels-names');

    await go(ui, 'data');
    await ui.locator('[data-testid=data-collection]', { hasText: '/todos' }).click();
    const model = ui.locator('[data-testid=data-model]', { hasText: 'buy milk' });
    await model.waitFor();
    assert.equal((await model.locator('[data-testid=data-model-title]').innerText()).trim(), 'buy milk');
    assert.match(await model.innerText(), /\{"title":"buy milk","completed":false,"order":1,"id":/, 'as sent, the id the server gave last');
    await model.click();
    await eventually(async () => assert.match(await ui.inputValue('[data-testid=data-editor]'), /^\{\n {2}"title": "buy milk",\n {2}"completed": false/));
    await shot(ui, 'data-names');

    await go(ui, 'inject');
    await ui.selectOption('[data-testid=inject-tpl-collection]', '/todos');
    await ui.waitForFunction(() => [...document.querySelectorAll('[data-testid=inject-tpl-model] option')].some((o) => o.textContent.includes('“buy milk”')));
  });

  it('shows a tab going offline and back as a disconnect and a connect of the same name', async () => {
    // The name follows the tab through a new socket by its per-tab id (`auth.client`,
    // sent by the adapter since the faults work of issue 11); without one, a new
    // socket is a new name.
    // The transport drops (what a network change does); the adapter reconnects.
    await tabA.evaluate(() => window.Backbone.realtime.socket.io.engine.close());
    await tabA.waitForFunction((old) => window.Backbone.realtime.socket.connected && window.Backbone.realtime.socket.id !== old, idA, { timeout: 10000 });
    const again = await socketOf(tabA);
    await go(ui, 'log');
    const left = ui.locator('[data-testid=log-row][data-kind=disconnect]', { has: ui.locator('[data-testid=row-socket]', { hasText: nameA }) });
    await left.waitFor();
    const back = ui.locator(`[data-testid=log-row][data-kind=connect]`).last();
    await eventually(async () => assert.equal((await back.locator('[data-testid=row-socket]').innerText()).trim(), nameA, `the new socket ${again} carries the tab's name`));
    assert.ok(Number(await back.getAttribute('data-seq')) > Number(await left.getAttribute('data-seq')));
    await shot(ui, 'log-reconnect');
  });

  it('keeps a closed tab\'s socket selectable in the log filter, with its history', async () => {
    await tabB.close();
    await go(ui, 'log');
    const option = ui.locator('[data-testid=filter-socket] option', { hasText: `${nameB}` });
    await eventually(async () => assert.match(await option.innerText(), /\(gone\)$/));
    await ui.selectOption('[data-testid=filter-socket]', idB);
    // Only tab B's rows: what it did and what it received.
    await eventually(async () => {
      const who = await ui.$$eval('[data-testid=log-row] .c-sock', (els) => els.map((e) => e.dataset.socket));
      assert.deepEqual([...new Set(who)], [idB]);
    });
    await ui.locator('[data-testid=log-row][data-kind=connect]').waitFor();
    await ui.locator('[data-testid=log-row][data-kind=disconnect]').waitFor();
    const received = ui.locator('[data-testid=log-row][data-kind=push_out]', { hasText: 'buy milk' });
    assert.equal((await received.locator('[data-testid=received]').innerText()).trim(), `→ ${nameB}`, 'what it received, under its name');
    await shot(ui, 'log-gone');
    await ui.selectOption('[data-testid=filter-socket]', '');
  });
});

'use strict';
// Issue 18, replayed as a developer debugging the demo app would: two demo tabs
// (fixtures/todos at /demo/, real Backbone and backbone.realtime.js in Chromium) and
// the inspector against the real server. Each task must reach its answer in the UI:
// an injected todo appears in both tabs, "fail the next request" fires on a toggle
// (a `patch`), and a receiving tab's pushes are listed under its socket.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startAll, openUi, go, shot, TOKEN, eventually, command: sendCommand } = require('./support');

describe('the inspector answers the debugging question (issue 18)', { timeout: 180000 }, () => {
  let env, ui, tabA, tabB, firedRule;

  async function openDemo(name) {
    const page = await env.browser.newPage();
    page.errors = [];
    page.on('pageerror', (err) => page.errors.push(`${name}: ${err.message}`));
    await page.goto(`${env.server.url}/demo/`);
    await page.waitForSelector('#status[data-state=online]', { timeout: 10000 });
    return page;
  }
  const titles = (page) => page.$$eval('#todo-list li label', (els) => els.map((el) => el.textContent));
  const listed = (page, title) => page.waitForFunction(
    (t) => [...document.querySelectorAll('#todo-list li label')].some((l) => l.textContent === t),
    title,
    { timeout: 5000 },
  );
  const socketOf = (page) => page.evaluate(() => window.Backbone.realtime.socket.id);
  const command = (body) => sendCommand(env, body);

  before(async () => {
    env = await startAll();
    ui = await openUi(env, '#/log');
    tabA = await openDemo('tab A');
    tabB = await openDemo('tab B');
    await tabA.fill('#new-todo', 'buy milk');
    await tabA.press('#new-todo', 'Enter');
    await listed(tabB, 'buy milk');
  });

  after(async () => {
    for (const p of [ui, tabA, tabB]) {
      if (p && (p.problems?.length || p.errors?.length)) console.log('# page problems:', p.problems ?? p.errors);
    }
    if (env) await env.close();
  });

  it('injects the default push from the Inject panel and the new todo appears in both demo tabs', async () => {
    await go(ui, 'inject');
    await ui.check('[data-testid=inject-to-channel]');
    await ui.fill('[data-testid=inject-channel]', '/todos');
    const payload = JSON.parse(await ui.inputValue('[data-testid=inject-payload]'));
    assert.equal(payload.url, '/todos', 'the collection url the adapter routes by');
    assert.equal(typeof payload.id, 'string', 'a top-level id');
    assert.equal(payload.seq, undefined, 'no made-up seq');
    assert.equal(await ui.locator('[data-testid=inject-check] .err').count(), 0, 'the default passes the shape check');
    await ui.click('[data-testid=inject-send]');
    await listed(tabA, 'pushed from Syncscope');
    await listed(tabB, 'pushed from Syncscope');
    const flash = await ui.locator('[data-testid=flash]').innerText();
    assert.match(flash, /Delivered change to 2 sockets: /);
    for (const tab of [tabA, tabB]) assert.ok(flash.includes(await socketOf(tab)), `${flash} names every recipient`);
    // The pages said they applied it (the adapter answers an injected change).
    assert.match(flash, /Applied by 2 sockets \(/);
    assert.doesNotMatch(flash, /Not applied|No answer/);
  });

  it('fills a push from a stored model that both tabs apply, and says before sending why a model-url push would be ignored', async () => {
    await go(ui, 'inject');
    await ui.check('[data-testid=inject-to-channel]');
    await ui.fill('[data-testid=inject-channel]', '/todos');
    await ui.selectOption('[data-testid=inject-tpl-collection]', '/todos');
    await ui.waitForFunction(() => [...document.querySelectorAll('[data-testid=inject-tpl-model] option')].some((o) => o.textContent.includes('buy milk')));
    const option = ui.locator('[data-testid=inject-tpl-model] option', { hasText: 'buy milk' });
    await ui.selectOption('[data-testid=inject-tpl-model]', await option.getAttribute('value'));
    const payload = JSON.parse(await ui.inputValue('[data-testid=inject-payload]'));
    assert.equal(payload.url, '/todos');
    assert.equal(payload.data.title, 'buy milk');
    assert.equal(payload.version, 1, 'the stored version: the tab\'s next save is not a conflict');

    // The shape the issue found broken: a model url and no top-level id.
    const broken = { url: `/todos/${payload.id}`, op: 'update', data: { ...payload.data, title: 'never shown' }, version: 2 };
    await ui.fill('[data-testid=inject-payload]', JSON.stringify(broken, null, 2));
    const check = ui.locator('[data-testid=inject-check]');
    await check.locator('.err', { hasText: 'model url' }).waitFor();
    await check.locator('.err', { hasText: 'no "id"' }).waitFor();
    // Sent anyway, the pages say they ignored it, and why.
    await ui.click('[data-testid=inject-send]');
    await eventually(async () => {
      const said = await ui.locator('[data-testid=flash]').innerText();
      assert.equal((said.match(/Not applied by [^:]+: nothing on this page listens to \/todos\//g) || []).length, 2, said);
    });
    await shot(ui, 'inject-not-applied');
    assert.ok(!(await titles(tabA)).includes('never shown'));

    await ui.fill('[data-testid=inject-payload]', JSON.stringify({ ...payload, data: { ...payload.data, title: 'buy oat milk' } }, null, 2));
    await ui.locator('[data-testid=inject-check]').waitFor({ state: 'detached' });
    await ui.click('[data-testid=inject-send]');
    await listed(tabA, 'buy oat milk');
    await listed(tabB, 'buy oat milk');
    assert.ok(!(await titles(tabA)).includes('buy milk'), 'the model changed in place');
    await shot(ui, 'inject-applied');
  });

  it('arms "fail the next request" for a toggle: it says a patch went by unmatched, and the default (update or patch) fires', async () => {
    await go(ui, 'inject');
    assert.equal(await ui.inputValue('[data-testid=fail-next-event]'), 'update or patch', 'the writes Backbone sends');

    // What the issue saw: armed for `update` only, a toggle goes by.
    await ui.fill('[data-testid=fail-next-event]', 'update');
    await ui.click('[data-testid=fail-next-go]');
    await ui.locator('[data-testid=fail-next-status]', { hasText: 'armed' }).waitFor();
    await tabA.click('#todo-list li:has-text("milk") .toggle');
    await tabB.waitForSelector('#todo-list li.completed:has-text("milk")');
    const missed = ui.locator('[data-testid=fail-next-missed]');
    await missed.waitFor();
    assert.match(await missed.innerText(), /A patch on \/todos\/\S+ \(#\d+\) went by without matching: the rule waits for update on \/todos/);
    await shot(ui, 'fail-next-missed');
    await ui.click('[data-testid=fail-next-include]');
    assert.equal(await ui.inputValue('[data-testid=fail-next-event]'), 'update or patch');
    assert.equal((await command({ command: 'fault_clear' })).result, 'ok');

    await ui.click('[data-testid=fail-next-go]');
    await ui.locator('[data-testid=fail-next-status]', { hasText: 'armed' }).waitFor();
    await tabB.click('#todo-list li:has-text("milk") .toggle');
    await ui.locator('[data-testid=fail-next-status]', { hasText: 'fired' }).waitFor();
    const events = await (await fetch(`${env.server.url}/_syncscope/events?kinds=fault`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    assert.equal(events.records.at(-1).event, 'patch', 'the fault fired on the toggle\'s patch');
    firedRule = events.records.at(-1).rule;
  });

  it('shows the toggle\'s failure as injected by its rule, not applied, and splits injected errors from real ones', async () => {
    await go(ui, 'log');
    const row = ui.locator(`[data-testid=log-row][data-kind=event_in][data-fault="${firedRule}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /patch/);
    // Which model: the url keeps both ends of the id; the payload leads with the title.
    assert.match(await row.locator('.c-url').innerText(), /^\/todos\/\w+…\w+$/);
    assert.equal(await row.locator('[data-testid=ack-result]').innerText(), `conflict · fault #${firedRule}`);
    await row.click();
    const detail = ui.locator('[data-testid=log-detail]');
    assert.match(await detail.locator('[data-testid=detail-ack]').innerText(), new RegExp(`injected by fault rule #${firedRule}`));
    assert.match(await detail.locator('[data-testid=detail-not-applied]').innerText(), /Not applied[\s\S]*made up by fault rule/i);
    await shot(ui, 'log-injected');

    // Errors only: the error acks are the rows; the injected one goes with "real only".
    await ui.check('[data-testid=filter-errors]');
    const errorAck = ui.locator('[data-testid=log-row][data-kind=ack_out]', { hasText: `fault #${firedRule}` });
    await errorAck.waitFor();
    await ui.selectOption('[data-testid=filter-injected]', 'false');
    await errorAck.waitFor({ state: 'detached' });
    await ui.selectOption('[data-testid=filter-injected]', 'true');
    await errorAck.waitFor();
    await ui.selectOption('[data-testid=filter-injected]', '');
    await ui.uncheck('[data-testid=filter-errors]');
  });

  it('lists, under a receiving tab\'s socket, the pushes it received from the other tab', async () => {
    const a = await socketOf(tabA);
    const b = await socketOf(tabB);
    await tabA.fill('#new-todo', 'seen by tab B');
    await tabA.press('#new-todo', 'Enter');
    await listed(tabB, 'seen by tab B');
    await go(ui, 'log');
    await ui.selectOption('[data-testid=filter-socket]', b);
    // Tab B by its name (the option reads `name · page · id…`).
    const nameB = (await ui.locator(`[data-testid=filter-socket] option[value="${b}"]`).innerText()).split(' · ')[0];
    const row = ui.locator('[data-testid=log-row][data-kind=push_out]', { hasText: 'seen by tab B' });
    await row.waitFor();
    assert.equal(await row.locator('[data-testid=received]').innerText(), `→ ${nameB}`, 'shown as received by tab B');
    assert.match(await row.locator('.c-sum').innerText(), /^\S+ “seen by tab B” ← #\d+ to \/todos → /, 'the model first, its request, then whom it reached');
    await row.click();
    const recipients = ui.locator('[data-testid=detail-recipients]');
    assert.match(await recipients.innerText(), new RegExp(`Received by 1 socket\\s+${nameB} .*${b}`, "i"));
    assert.ok(!(await recipients.innerText()).includes(a), 'the writer is not sent its own change');
    await shot(ui, 'log-received');
  });
});

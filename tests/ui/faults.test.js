'use strict';
// Fault injection from the inspector UI, against the real server and real
// socket.io-client sockets: what is set in the Faults panel (or the Inject panel's
// fail-the-next-request builder) is what the clients get.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startAll, openUi, connectClient, go, shot, TOKEN, ARTIFACTS, eventually, command: sendCommand } = require('./support');

/** A request with an ack timeout: `{ timedOut: true }` when no ack came within `ms`. */
function callWithin(socket, ms, event, arg) {
  return new Promise((resolve) => {
    socket.timeout(ms).emit(event, arg, (timeout, err, res) => resolve(timeout ? { timedOut: true } : { err, res }));
  });
}

async function timed(promise) {
  const t0 = Date.now();
  const value = await promise;
  return { value, ms: Date.now() - t0 };
}

describe('fault injection from the inspector UI', { timeout: 180000 }, () => {
  let env, page, alice, bob, todo;

  const rules = async () => {
    const res = await fetch(`${env.server.url}/_syncscope/faults`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    return res.json();
  };
  const command = (body) => sendCommand(env, body);
  const ruleRow = (id) => page.locator(`[data-testid=fault-rule][data-rule="${id}"]`);
  const update = (socket, title) => socket.call('update', { url: `/todos/${todo.data.id}`, data: { ...todo.data, title } });

  before(async () => {
    env = await startAll();
    alice = await connectClient(env, { userAgent: 'Alice/1.0 (todo app)' });
    bob = await connectClient(env, { userAgent: 'Bob/2.0 (todo app)' });
    await alice.call('subscribe', { url: '/todos' });
    await bob.call('subscribe', { url: '/todos' });
    const created = await alice.call('create', { url: '/todos', data: { title: 'ship faults', done: false } });
    assert.equal(created.err, null);
    todo = created.res;
    page = await openUi(env, '#/faults');
    await page.waitForSelector('[data-testid=panel-faults] [data-testid=fault-form]');
  });

  after(async () => {
    if (page && (page.problems.length || page.foreign.length)) {
      console.log('# page problems:', page.problems, 'foreign requests:', page.foreign);
    }
    if (env) await env.close();
  });

  it('fails a real client\'s next request with the error code chosen in the Faults panel, and the request after it succeeds', async () => {
    await go(page, 'faults');
    await page.check('[data-testid=fault-action-fail]');
    await page.selectOption('[data-testid=fault-code]', 'not_found');
    await page.fill('[data-testid=fault-message]', 'gone, says the UI');
    await page.fill('[data-testid=fault-event]', 'update');
    await page.fill('[data-testid=fault-url]', '/todos');
    assert.equal(await page.isChecked('[data-testid=fault-times-once]'), true, '"next request only" is the default');
    await page.click('[data-testid=fault-add]');
    const [rule] = await eventually(async () => {
      const list = await rules();
      assert.equal(list.length, 1);
      return list;
    });
    assert.deepEqual(
      { when: rule.when, action: rule.action, code: rule.code, times: rule.times },
      { when: { event: 'update', url: '/todos' }, action: 'fail', code: 'not_found', times: 1 },
    );
    await ruleRow(rule.id).waitFor();

    const read = await alice.call('read', { url: '/todos' });
    assert.equal(read.err, null, 'a read is not an update: it goes through');
    const failed = await update(alice, 'first try');
    assert.equal(failed.err?.code, 'not_found');
    assert.equal(failed.err?.message, 'gone, says the UI');
    const next = await update(alice, 'second try');
    assert.equal(next.err, null, 'the rule fired once only');
    assert.equal(next.res.data.title, 'second try');
    todo = next.res;

    // The list follows: fired once, and switched off.
    await eventually(async () => {
      assert.equal(await ruleRow(rule.id).locator('[data-testid=fault-fired]').innerText(), '1');
      assert.equal(await ruleRow(rule.id).locator('[data-testid=fault-toggle]').isChecked(), false);
    }, 8000, page);
  });

  it('sends a free error code typed in the Faults panel to the client', async () => {
    await go(page, 'faults');
    await page.check('[data-testid=fault-action-fail]');
    await page.selectOption('[data-testid=fault-code]', 'other');
    await page.fill('[data-testid=fault-code-other]', 'rate_limited');
    await page.fill('[data-testid=fault-event]', 'read');
    await page.fill('[data-testid=fault-url]', '/todos');
    await page.check('[data-testid=fault-times-once]');
    await page.click('[data-testid=fault-add]');
    await page.locator('[data-testid=flash]', { hasText: 'rate_limited' }).waitFor();
    const got = await bob.call('read', { url: '/todos' });
    assert.equal(got.err?.code, 'rate_limited');
    assert.equal((await bob.call('read', { url: '/todos' })).err, null);
  });

  it('makes the next update on /todos fail with a conflict from the Inject panel\'s one-click builder', async () => {
    await go(page, 'inject');
    const builder = page.locator('[data-testid=fail-next]');
    await builder.waitFor();
    assert.equal(await page.inputValue('[data-testid=fail-next-event]'), 'update or patch', 'Backbone saves with either');
    assert.equal(await page.inputValue('[data-testid=fail-next-url]'), '/todos');
    assert.equal(await page.inputValue('[data-testid=fail-next-code]'), 'conflict');
    await page.click('[data-testid=fail-next-go]');
    await page.locator('[data-testid=fail-next-status]', { hasText: 'armed' }).waitFor();

    const failed = await update(bob, 'from bob');
    assert.equal(failed.err?.code, 'conflict');
    assert.equal(failed.err.current?.data?.title, todo.data.title, 'a conflict carries the stored model');
    const next = await update(bob, 'from bob, again');
    assert.equal(next.err, null, 'only the next one fails');
    todo = next.res;
    await page.locator('[data-testid=fail-next-status]', { hasText: 'fired' }).waitFor();
    await shot(page, 'inject-fail-next');
  });

  it('delays a client\'s acks by the latency chosen on the slider, until the rule is switched off', async () => {
    await go(page, 'faults');
    await page.check('[data-testid=fault-action-delay]');
    await page.fill('[data-testid=fault-latency]', '700');
    assert.equal(await page.inputValue('[data-testid=fault-latency-ms]'), '700', 'the slider and the number agree');
    assert.equal(await page.isChecked('[data-testid=fault-times-always]'), true, 'latency lasts by default');
    await page.selectOption('[data-testid=fault-socket]', alice.id);
    await page.fill('[data-testid=fault-event]', '');
    await page.fill('[data-testid=fault-url]', '');
    await page.click('[data-testid=fault-add]');
    const rule = await eventually(async () => {
      const r = (await rules()).find((x) => x.action === 'delay');
      assert.ok(r, 'a delay rule');
      return r;
    });
    assert.deepEqual({ ms: rule.ms, when: rule.when, times: rule.times }, { ms: 700, when: { socket: alice.id }, times: undefined });

    const slow = await timed(alice.call('read', { url: '/todos' }));
    assert.equal(slow.value.err, null);
    // A lower bound with slack: the test's wall clock and the server's timer are not
    // the same clock (runs under load saw 694 ms against a 700 ms sleep).
    assert.ok(slow.ms >= 600, `the ack came after ${slow.ms} ms`);
    // The rule's own count says whom it held (a wall-clock bound would flake on a busy machine).
    const fired = async () => (await rules()).find((x) => x.id === rule.id).fired;
    assert.equal(await fired(), 1);
    await bob.call('read', { url: '/todos' });
    assert.equal(await fired(), 1, 'another socket is not delayed');

    await ruleRow(rule.id).locator('[data-testid=fault-toggle]').uncheck();
    await eventually(async () => assert.equal((await rules()).find((x) => x.id === rule.id).enabled, false));
    await alice.call('read', { url: '/todos' });
    assert.equal(await fired(), 1, 'switched off, the rule holds nothing');
  });

  it('stalls a socket (formerly "offline") so its requests go unanswered, and Resume restores answers', async () => {
    await go(page, 'faults');
    const row = page.locator(`[data-testid=stall-row][data-socket="${bob.id}"]`);
    await row.waitFor();
    assert.match(await page.locator('[data-testid=fault-clients]').innerText(), /unanswered/);
    await row.locator('[data-testid=stall-toggle]').click();
    await row.locator('.tag-offline').waitFor();

    const unanswered = await callWithin(bob, 1000, 'read', { url: '/todos' });
    assert.deepEqual(unanswered, { timedOut: true }, 'no ack while offline');
    assert.equal(bob.connected, true, 'the connection stays open');
    const others = await callWithin(alice, 1000, 'read', { url: '/todos' });
    assert.equal(others.err, null, 'other sockets are answered');

    await row.locator('[data-testid=stall-toggle]').click();
    await row.locator('.tag-online').waitFor();
    const answered = await callWithin(bob, 2000, 'read', { url: '/todos' });
    assert.equal(answered.timedOut, undefined, 'answered again');
    assert.equal(answered.err, null);
  });

  it('shows fault records in the event log in their own colour, and filters the log down to them', async () => {
    await go(page, 'log');
    const faultRow = page.locator('[data-testid=log-row][data-kind=fault]').first();
    await faultRow.waitFor();
    const colours = await page.evaluate(() => {
      const bg = (sel) => {
        const el = document.querySelector(sel);
        return el ? getComputedStyle(el).backgroundColor : null;
      };
      return {
        fault: bg('[data-testid=log-row][data-kind=fault]'),
        error: bg('[data-testid=log-row].error'),
        plain: bg('[data-testid=log-row][data-kind=subscribe]'),
      };
    });
    assert.ok(colours.fault && colours.error && colours.plain, JSON.stringify(colours));
    assert.notEqual(colours.fault, colours.error, 'a fault is not painted as a real error');
    assert.notEqual(colours.fault, colours.plain);
    assert.match(await faultRow.innerText(), /fault/);
    // The request the stall rule held says so: answered late, held by the rule.
    await page.locator('[data-testid=log-row][data-kind=event_in] [data-testid=ack-result]', { hasText: /held by fault #\d+/ }).first().waitFor();

    await page.selectOption('[data-testid=filter-kind]', 'fault');
    await eventually(async () => {
      const kinds = await page.$$eval('[data-testid=log-row]', (els) => els.map((e) => e.dataset.kind));
      assert.ok(kinds.length >= 4, `fault rows: ${kinds.length}`);
      assert.deepEqual([...new Set(kinds)], ['fault']);
    }, 8000, page);
    const summaries = await page.$$eval('[data-testid=log-row] .c-sum', (els) => els.map((e) => e.textContent).join('\n'));
    assert.match(summaries, /fail with not_found/);
    assert.match(summaries, /delay 700 ms/);
    assert.match(summaries, /stall/);
    await shot(page, 'log-faults');
    await page.selectOption('[data-testid=filter-kind]', '');
  });

  it('lists a rule set elsewhere within seconds, and switches rules on and off, deletes one and clears them all', async () => {
    await go(page, 'faults');
    const added = await command({ command: 'fault_add', rule: { when: { event: 'delete' }, action: 'disconnect' } });
    assert.equal(added.result, 'ok');
    const id = added.value.id;
    await ruleRow(id).waitFor({ timeout: 6000 });
    assert.match(await ruleRow(id).innerText(), /delete[\s\S]*disconnect/);

    await ruleRow(id).locator('[data-testid=fault-toggle]').uncheck();
    await eventually(async () => assert.equal((await rules()).find((r) => r.id === id).enabled, false));
    await ruleRow(id).locator('[data-testid=fault-toggle]').check();
    await eventually(async () => assert.equal((await rules()).find((r) => r.id === id).enabled, true));

    await ruleRow(id).locator('[data-testid=fault-delete]').click();
    await eventually(async () => assert.equal((await rules()).some((r) => r.id === id), false));
    await ruleRow(id).waitFor({ state: 'detached' });

    assert.ok((await rules()).length > 0);
    await page.click('[data-testid=fault-clear]');
    await eventually(async () => assert.deepEqual(await rules(), []));
    await page.locator('[data-testid=panel-faults] .empty', { hasText: 'No rule' }).waitFor();
  });

  it('shows a tidy Faults panel with rules of each kind (screenshot)', async () => {
    await command({ command: 'fault_add', rule: { when: { event: 'update', url: '/todos' }, action: 'fail', code: 'conflict', message: 'the model changed since the version sent', times: 1 } });
    await update(alice, 'spent the conflict');
    await command({ command: 'fault_add', rule: { when: {}, action: 'delay', ms: 800 } });
    await command({ command: 'fault_add', rule: { when: { event: 'create', url: '/notes' }, action: 'fail', code: 'internal', message: 'internal server error', times: 3 } });
    // Opened afresh: no message left from the test before.
    await go(page, 'sockets');
    await go(page, 'faults');
    await page.locator(`[data-testid=stall-row][data-socket="${bob.id}"] [data-testid=stall-toggle]`).click();
    await page.locator(`[data-testid=stall-row][data-socket="${bob.id}"] .tag-offline`).waitFor();
    await page.check('[data-testid=fault-action-delay]');
    await page.fill('[data-testid=fault-latency]', '1200');
    await page.fill('[data-testid=fault-event]', 'update');
    await page.fill('[data-testid=fault-url]', '/todos');
    await page.locator('[data-testid=fault-rule]').nth(3).waitFor();
    await eventually(async () => {
      assert.equal(await page.locator('[data-testid=fault-rule]').first().locator('[data-testid=fault-fired]').innerText(), '1');
    });
    await page.evaluate(() => document.activeElement?.blur());
    await shot(page, 'faults');
    assert.ok(fs.statSync(path.join(ARTIFACTS, 'ui-faults.png')).size > 10000);
    await command({ command: 'fault_clear' });
  });

  it('edits a rule in place in the editor: same id and place, the new action applies (screenshot for docs/FAULTS.md)', async () => {
    await command({ command: 'fault_clear' });
    const first = await command({ command: 'fault_add', rule: { when: { event: 'read', url: '/todos' }, action: 'fail', code: 'not_found', message: 'no such model', times: 1 } });
    const second = await command({ command: 'fault_add', rule: { when: { event: 'create' }, action: 'delay', ms: 300 } });
    await go(page, 'faults');
    await ruleRow(first.value.id).locator('[data-testid=fault-edit]').click();
    assert.equal(await page.locator('[data-testid=fault-form-title]').innerText(), `Edit rule #${first.value.id}`);
    assert.equal(await page.inputValue('[data-testid=fault-event]'), 'read', 'the form starts from the rule');
    await page.selectOption('[data-testid=fault-code]', 'internal');
    await page.fill('[data-testid=fault-message]', 'edited in place');
    await page.check('[data-testid=fault-times-always]');
    await page.fill('[data-testid=fault-toxicity-input]', '100');
    await page.fill('[data-testid=fault-client]', '');
    await page.evaluate(() => document.activeElement?.blur());
    await shot(page, 'faults-editor');
    await page.click('[data-testid=fault-add]');
    await page.locator('[data-testid=fault-form-title]', { hasText: 'Add a rule' }).waitFor();
    const after = await rules();
    assert.deepEqual(after.map((r) => r.id), [first.value.id, second.value.id], 'same ids, same order');
    assert.equal(after[0].code, 'internal');
    assert.equal(after[0].times, undefined);
    const failed = await alice.call('read', { url: '/todos' });
    assert.equal(failed.err?.message, 'edited in place');
    await ruleRow(first.value.id).locator('[data-testid=fault-fired]', { hasText: '1' }).waitFor();
    await command({ command: 'fault_clear' });
  });

  it('cuts a real client\'s connection on its next request with a cut rule set in the Faults panel: a transport close, not a kick', async () => {
    await command({ command: 'fault_clear' });
    const carol = await connectClient(env, { userAgent: 'Carol/3.0 (todo app)' });
    await go(page, 'faults');
    await page.check('[data-testid=fault-action-cut]');
    await page.locator('[data-testid=fault-form] .hint', { hasText: 'reconnects by itself' }).waitFor();
    assert.equal(await page.isChecked('[data-testid=fault-times-once]'), true, 'a cut fires once unless told otherwise');
    await page.fill('[data-testid=fault-event]', 'read');
    await page.click('[data-testid=fault-add]');
    const [rule] = await eventually(async () => {
      const list = await rules();
      assert.equal(list.length, 1);
      return list;
    });
    assert.deepEqual({ when: rule.when, action: rule.action, times: rule.times }, { when: { event: 'read' }, action: 'cut', times: 1 });
    assert.match(await ruleRow(rule.id).innerText(), /cut the connection/);
    const gone = new Promise((resolve) => carol.once('disconnect', resolve));
    carol.emit('read', { url: '/todos' }, () => {});
    const reason = await gone;
    assert.ok(['transport close', 'transport error'].includes(reason), `a lost connection, not io server disconnect: got "${reason}"`);
    await ruleRow(rule.id).locator('[data-testid=fault-fired]', { hasText: '1' }).waitFor();
    await command({ command: 'fault_clear' });
  });

  it('sets a push rule in the editor: one change push to Bob is dropped, and the log names the rule and the change (screenshot for docs/FAULTS.md)', async () => {
    await command({ command: 'fault_clear' });
    await go(page, 'faults');
    await page.check('[data-testid=fault-action-push_drop]');
    await page.locator('[data-testid=fault-form] .hint', { hasText: 'resubscribes since its last change' }).waitFor();
    assert.equal(await page.locator('[data-testid=fault-event]').count(), 0, 'a push rule matches no request event');
    assert.equal(await page.isChecked('[data-testid=fault-times-once]'), true, 'one push unless told otherwise');
    await page.fill('[data-testid=fault-url]', '/todos');
    await page.selectOption('[data-testid=fault-socket]', bob.id);
    await page.evaluate(() => document.activeElement?.blur());
    await shot(page, 'faults-push-editor');
    await page.click('[data-testid=fault-add]');
    const [rule] = await eventually(async () => {
      const list = await rules();
      assert.equal(list.length, 1);
      return list;
    });
    assert.deepEqual({ when: rule.when, action: rule.action, times: rule.times }, { when: { url: '/todos', socket: bob.id }, action: 'push_drop', times: 1 });
    assert.match(await ruleRow(rule.id).innerText(), /change pushes on \/todos[\s\S]*drop the push/);
    const delayed = await command({ command: 'fault_add', rule: { when: { url: '/todos', socket: bob.id }, action: 'push_delay', delay_ms: 300, jitter_ms: 100, times: 1 } });
    assert.equal(delayed.result, 'ok');

    const bobSaw = [];
    bob.on('change', (c) => bobSaw.push(c.seq));
    const lost = await alice.call('create', { url: '/todos', data: { title: 'Bob never hears of this one', done: false } });
    const heard = await alice.call('create', { url: '/todos', data: { title: 'but hears of this one', done: false } });
    await eventually(async () => assert.ok(bobSaw.includes(heard.res.seq), `Bob got ${bobSaw}`));
    assert.equal(bobSaw.includes(lost.res.seq), false, 'the dropped push never reached Bob');

    await go(page, 'log');
    await page.selectOption('[data-testid=filter-kind]', 'fault');
    const row = page.locator('[data-testid=log-row][data-kind=fault]', { hasText: `drop the push of change ${lost.res.seq}` }).first();
    await row.waitFor({ timeout: 8000 });
    assert.match(await row.innerText(), new RegExp(`rule #${rule.id}`));
    await page.locator('[data-testid=log-row][data-kind=fault]', { hasText: /delay the push 300 ± 100 ms of change \d+ \(waited \d+ ms\)/ }).first().waitFor({ timeout: 8000 });
    // The dropped push's record, opened: the rule, the change's seq, the socket.
    await row.click();
    await page.locator('[data-testid=log-detail]', { hasText: 'push_seq' }).waitFor({ timeout: 8000 });
    await page.evaluate(() => document.activeElement?.blur());
    await shot(page, 'faults-push-log');
    await page.selectOption('[data-testid=filter-kind]', '');
    await command({ command: 'fault_clear' });
  });

  it('reaches the page without an error after all of the above', () => {
    assert.deepEqual(page.foreign, []);
    assert.deepEqual(page.problems, []);
  });
});

'use strict';
// The Channels panel shows a live query's filter (issue 16): a socket subscribed to
// /todos with {done: true} is its own channel, listed with its parameters beside the
// url, apart from the plain /todos channel, with the pushes its query received.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startAll, openUi, connectClient, go, shot } = require('./support');

describe('the Channels panel with a live query', { timeout: 120000 }, () => {
  let env, page, plain, filtered, writer;

  before(async () => {
    env = await startAll();
    plain = await connectClient(env, { userAgent: 'plain list' });
    filtered = await connectClient(env, { userAgent: 'done list' });
    writer = await connectClient(env, { userAgent: 'writer' });
    assert.equal((await plain.call('subscribe', { url: '/todos' })).err, null);
    const sub = await filtered.call('subscribe', { url: '/todos', query: { done: true, _sort: 'title' } });
    assert.equal(sub.err, null);
    page = await openUi(env);
  });
  after(async () => {
    if (env) await env.close();
  });

  it('lists the query channel with its filter, its subscriber and its pushes', async () => {
    await go(page, 'channels');
    const queryRow = page.locator('[data-testid=channel-row]', { has: page.locator('[data-testid=channel-query]') });
    await queryRow.waitFor();
    assert.equal(await queryRow.count(), 1);
    // Keys as the client sent them (the inspector keeps JSON key order).
    assert.equal((await queryRow.locator('[data-testid=channel-query]').innerText()).trim(), '? done=true & _sort="title"');
    const plainRow = page.locator('[data-testid=channel-row][data-channel="/todos"]');
    assert.equal(await plainRow.count(), 1, 'the plain channel stays a row of its own');

    await queryRow.click();
    const members = await page.locator('[data-testid=channel-members]').innerText();
    assert.match(members, new RegExp(filtered.id));
    assert.doesNotMatch(members, new RegExp(plain.id));

    // A model entering the query shows among the channel's recent changes.
    const pushed = filtered.next('change');
    await writer.call('create', { url: '/todos', data: { title: 'entered the query', done: true } });
    await pushed;
    await page.locator('[data-testid=channel-changes]', { hasText: 'entered the query' }).waitFor();
    await shot(page, 'channels-query');
  });
});

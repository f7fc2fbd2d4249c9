'use strict';
// A session of 1,000,000 records (UI_BIG_SESSION to change) in the event log, paged
// from the database. The rows are written straight into the SQLite file (the schema
// of crates/syncscope/migrations, the Record JSON of ui/src/bindings/Record.ts) before
// the server starts on it: a connect, then request/ack pairs, the requests at even
// seqs. The log opens the session, jumps to seq 900,000, scrolls up and down across
// many pages; the test asserts the rows in view are the right seqs without gaps and
// that the DOM and the rows held stay small, and REPORTS timings (no timed assertion).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Database = require('better-sqlite3');
const { startServer } = require('../support/server');
const { startAll, openUi, go, shot, TOKEN } = require('./support');

const COUNT = Number(process.env.UI_BIG_SESSION || 1_000_000);
const JUMP = Number(process.env.UI_BIG_JUMP || Math.floor(COUNT * 0.9 / 2) * 2);
const ROW_PX = 24;
const timings = [];
const time = async (what, fn) => {
  const t0 = performance.now();
  const out = await fn();
  timings.push([what, performance.now() - t0]);
  return out;
};

/** Fills the sessions file `file` (already migrated) with one stopped session of COUNT records; its id. */
function fill(file) {
  const db = new Database(file);
  db.pragma('synchronous = OFF');
  const t0 = 1_767_225_600_000_000;
  const id = db.prepare(
    'INSERT INTO sessions (name, started_at_us, stopped_at_us, recorded, lost) VALUES (?, ?, ?, ?, 0)',
  ).run('big', t0, t0 + COUNT * 100, COUNT).lastInsertRowid;
  const insert = db.prepare(`INSERT INTO session_events
    (session, seq, at_us, socket, url, kind, event, origin, error, latency_us, body)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const sock = 'big-socket-0001';
  const write = db.transaction((from, to) => {
    for (let seq = from; seq < to; seq++) {
      const at = t0 + seq * 100;
      if (seq === 1) {
        insert.run(id, seq, at, sock, null, 'connect', null, 'client', 0, null, JSON.stringify({
          seq, at_us: at, socket: sock, origin: 'client', url: null, kind: 'connect', transport: 'websocket',
          protocol: 'EIO4', remote_addr: '127.0.0.1:1', user_agent: 'big', http_origin: null, auth: null, query: null,
        }));
      } else if (seq % 2 === 0) {
        const url = `/todos/${seq}`;
        insert.run(id, seq, at, sock, url, 'event_in', 'read', 'client', 0, null, JSON.stringify({
          seq, at_us: at, socket: sock, origin: 'client', url, kind: 'event_in', event: 'read', args: { url }, ack_id: seq,
        }));
      } else {
        const url = `/todos/${seq - 1}`;
        insert.run(id, seq, at, sock, url, 'ack_out', 'read', 'server', 0, 42, JSON.stringify({
          seq, at_us: at, socket: sock, origin: 'server', url, kind: 'ack_out', request_seq: seq - 1, event: 'read',
          dialect: 'native', latency_us: 42, error: null, args: [null, { data: { id: seq - 1 }, seq: seq - 1 }],
        }));
      }
    }
  });
  for (let from = 1; from <= COUNT; from += 50_000) write(from, Math.min(COUNT + 1, from + 50_000));
  db.close();
  return Number(id);
}

describe(`the event log over a session of ${COUNT.toLocaleString()} records`, { timeout: 300000 }, () => {
  let env, page, session, dir;
  let pending = 0;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncscope-big-'));
    const file = path.join(dir, 'big.db');
    // A first launch creates the schema (its migrations), then the rows go in.
    const first = await startServer({ args: ['--db', file, '--token', TOKEN] });
    await first.stop();
    // The recorder keeps its sessions in a file of their own beside the database
    // (DB.sessions, docs/ARCHITECTURE.md).
    const sessions = `${file}.sessions`;
    session = await time(`write ${COUNT.toLocaleString()} records into SQLite`, async () => fill(sessions));
    console.log(`# sessions file: ${(fs.statSync(sessions).size / 2 ** 20).toFixed(0)} MiB`);
    env = await startAll({ db: file });
    page = await openUi(env);
    page.on('request', (r) => { if (r.url().includes('/_syncscope/events')) pending++; });
    const done = (r) => { if (r.url().includes('/_syncscope/events')) pending--; };
    page.on('requestfinished', done);
    page.on('requestfailed', done);
  });

  after(async () => {
    for (const [what, ms] of timings) console.log(`# ${what}: ${ms.toFixed(0)} ms`);
    await env?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Waits for the pages asked for to arrive and the list to settle. The bound only
   * stops a hang: how long it took is reported by `time`, not asserted (a loaded
   * machine took over 13 s to count a million records once).
   */
  const settle = async () => {
    const end = Date.now() + 90000;
    while (Date.now() < end) {
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      if (pending === 0) {
        await page.waitForTimeout(30);
        if (pending === 0) return;
      }
    }
    throw new Error(`pages still loading after 90 s (${pending} pending)`);
  };

  /** The seqs of the rows in view (and how many rows the DOM holds). */
  const view = () => page.evaluate(() => {
    const list = document.querySelector('[data-testid=log-list]');
    const box = list.getBoundingClientRect();
    const rows = [...list.querySelectorAll('[data-testid=log-row]')];
    const seen = rows.filter((r) => {
      const b = r.getBoundingClientRect();
      return b.top >= box.top - 1 && b.bottom <= box.bottom + 1;
    }).map((r) => Number(r.dataset.seq));
    return { seen, dom: document.querySelectorAll('*').length, rows: rows.length };
  });

  const loaded = async () => Number((await page.innerText('[data-testid=session-log-count]')).split(' ')[0].replace(/\D/g, ''));

  const checkView = (v, what) => {
    assert.ok(v.seen.length > 10, `${what}: ${v.seen.length} rows in view`);
    for (let i = 1; i < v.seen.length; i++) {
      assert.equal(v.seen[i], v.seen[i - 1] + 2, `${what}: rows in view ${v.seen.slice(0, 5)}… have a gap`);
    }
    assert.ok(v.seen.every((s) => s % 2 === 0 && s >= 2 && s <= COUNT), `${what}: ${v.seen}`);
    assert.ok(v.rows < 200, `${what}: ${v.rows} row elements`);
    assert.ok(v.dom < 6000, `${what}: ${v.dom} DOM elements`);
  };

  it('opens the session, jumps to a seq and scrolls up and down across pages', async () => {
    await go(page, 'log');
    await time('open the session (first page and the total)', async () => {
      await page.selectOption('[data-testid=log-source]', String(session));
      await page.waitForSelector('[data-testid=panel-log] [data-testid=log-row]');
      await settle();
    });
    const count = await page.innerText('[data-testid=session-log-count]');
    assert.match(count, new RegExp(`of ${COUNT.toLocaleString('en-US')} records`), count);

    await time(`jump to seq ${JUMP.toLocaleString()}`, async () => {
      await page.fill('[data-testid=session-jump]', String(JUMP));
      await page.press('[data-testid=session-jump]', 'Enter');
      await page.waitForFunction((t) => {
        const list = document.querySelector('[data-testid=log-list]');
        const top = list && [...list.querySelectorAll('[data-testid=log-row]')]
          .find((row) => row.getBoundingClientRect().bottom > list.getBoundingClientRect().top + 1);
        return Number(top?.dataset.seq) === t;
      }, JUMP);
      await settle();
    });
    let v = await view();
    checkView(v, 'after the jump');
    assert.equal(v.seen[0], JUMP);
    await shot(page, 'big-session-jump');

    // Up: 40 steps of 100 rows (200 seqs) = 8,000 seqs, across 8 pages of 1,000.
    const STEP = 100;
    let top = v.seen[0];
    const steps = [];
    const scroll = async (dir, n) => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await page.$eval('[data-testid=log-list]', (el, px) => { el.scrollTop += px; }, dir * STEP * ROW_PX);
        await settle();
        steps.push(performance.now() - t0);
        v = await view();
        checkView(v, `scrolling ${dir < 0 ? 'up' : 'down'}`);
        const want = Math.max(2, top + dir * STEP * 2);
        assert.equal(v.seen[0], want, `scrolling ${dir < 0 ? 'up' : 'down'}: top row`);
        top = want;
        const held = await loaded();
        assert.ok(held <= 2600, `rows held: ${held}`);
      }
    };
    await time('scroll up 4,000 rows in 40 steps', () => scroll(-1, 40));
    assert.equal(top, JUMP - 8000);
    await shot(page, 'big-session-up');
    await time('scroll down 8,000 rows in 80 steps', () => scroll(1, 80));
    assert.equal(top, JUMP + 8000);
    const sorted = [...steps].sort((a, b) => a - b);
    console.log(`# scroll step (100 rows, settled): median ${sorted[sorted.length >> 1].toFixed(0)} ms, ` +
      `max ${sorted[sorted.length - 1].toFixed(0)} ms over ${steps.length} steps`);
    console.log(`# rows held at the end: ${await loaded()}, DOM elements: ${v.dom}, row elements: ${v.rows}`);
    assert.deepEqual(page.problems, []);
  });
});

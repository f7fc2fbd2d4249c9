// The inspector's live state, fed by the control WebSocket: sockets, channels, stats,
// the live log and per-second series for the charts. Components read it directly and
// re-render on `useStore()`, at most once per animation frame.
import { useEffect, useState } from 'preact/hooks';
import { Control, get, type ConnState } from './api';
import type { ChannelInfo } from './bindings/ChannelInfo';
import type { Command } from './bindings/Command';
import type { CommandResult } from './bindings/CommandResult';
import type { EventsPage } from './bindings/EventsPage';
import type { FaultRule } from './bindings/FaultRule';
import type { SocketInfo } from './bindings/SocketInfo';
import type { Stats } from './bindings/Stats';
import { remember } from './labels';
import { LogModel } from './log';
import { channelKey, percentile, type Rec } from './records';

export interface Second {
  t: number;
  events: number;
  acks: number;
  /** Error acks the server made (real errors). */
  errors: number;
  /** Error acks a fault rule made up. */
  injected: number;
  p50: number | null;
  p99: number | null;
  /**
   * Round trips as the pages measured them (emit to ack callback), over the server's
   * last few seconds of reports (Stats.client_latency); null when no page reported.
   */
  pageP50: number | null;
  pageP99: number | null;
}

/** An ack's latency and when it came, for the figures over the last few seconds. */
interface RecentAck {
  t: number;
  us: number;
}

const RECENT_CHANGES = 20;
/** How many records before this window opened the live log starts with. */
const BACKFILL = 5000;
/** Seconds of per-second points kept: the Stats panel's longest window (1 h). */
const SERIES = 3600;
const MIN_RENDER_MS = 100;

class Store {
  control = new Control();
  conn: ConnState = 'connecting';
  stats: Stats | null = null;
  sockets: SocketInfo[] = [];
  channels: ChannelInfo[] = [];
  /** The server's fault rules, in the order it tries them (null until first read). */
  faults: FaultRule[] | null = null;
  log = new LogModel();
  paused = false;
  /** A session the Sessions panel asked the log to open. */
  openSession: number | null = null;
  pending: Rec[] = [];
  missed = 0;
  /** Last ack latency per socket. */
  lastAck = new Map<string, number>();
  /** Recent `change` pushes per channel url, newest last. */
  changes = new Map<string, Rec[]>();
  series: Second[] = [];
  /**
   * Every socket of the current session, gone ones too (id → when it connected): the
   * socket filter offers them all, so a tab that left can still be looked at.
   */
  known = new Map<string, number>();
  private bucket: number[] = [];
  /** Ack latencies of the last 10 s (figures over the same window as the pages' round trips). */
  recentAcks: RecentAck[] = [];
  private bucketErrors = 0;
  private bucketInjected = 0;
  private lastSeq: number | null = null;
  private backfilling = false;
  private held: Rec[] = [];
  private listeners = new Set<() => void>();
  private frame = 0;
  private lastRender = 0;
  private refreshTimer = 0;
  private faultsTimer = 0;
  private ticks = 0;
  private started = false;
  /** The launch this window last said hello to (Stats.launched_at_us). */
  private launch: number | null = null;
  /** Set when the server came back as a new launch: the live log says so. */
  restarted: { at_us: number; session: number | null } | null = null;

  start(): void {
    if (this.started) return;
    this.started = true;
    this.control.onState((s) => {
      this.conn = s;
      this.notify();
    });
    this.control.onMessage((msg) => {
      if (msg.type === 'hello') {
        if (this.launch !== null && this.launch !== msg.stats.launched_at_us) {
          // A restart: the old launch's sockets are gone and the log starts over with
          // the new launch's session (backfill below).
          this.restarted = { at_us: msg.stats.launched_at_us, session: msg.stats.recording?.id ?? null };
          this.lastAck.clear();
          this.recentAcks = [];
          this.series = [];
          this.known.clear();
        }
        this.launch = msg.stats.launched_at_us;
        this.stats = msg.stats;
        this.sockets = msg.sockets;
        this.channels = msg.channels;
        this.lastSeq = msg.stats.last_seq;
        for (const x of msg.sockets) this.noteSocket(x.id, x.auth, x.connected_at_us);
        void this.backfill(msg.stats.last_seq);
        void this.sessionSockets(msg.stats.last_seq);
        void this.refreshFaults();
      } else if (msg.type === 'batch') {
        this.stats = msg.stats;
        this.missed += msg.missed;
        this.ingest(msg.records);
      }
      this.notify();
    });
    this.control.connect();
    setInterval(() => this.tick(), 1000);
  }

  /**
   * Fills the live log with the records of the current session from before this window
   * connected (the last BACKFILL of them), so it opens on what the clients already did.
   */
  private async backfill(upTo: number): Promise<void> {
    this.backfilling = true;
    const early: Rec[] = [];
    try {
      let after = Math.max(0, upTo - BACKFILL);
      while (after < upTo) {
        const page = await get<EventsPage>('events', { after, limit: 1000 });
        early.push(...page.records.filter((r) => r.seq <= upTo));
        if (page.next === null || page.records.length === 0) break;
        after = page.next;
      }
    } catch {
      /* nothing recorded (recording stopped): the log starts empty */
    }
    this.backfilling = false;
    this.log.clear();
    const later = this.held;
    this.held = [];
    const seen = this.changes;
    this.changes = new Map();
    for (const r of [...early, ...[...seen.values()].flat()]) this.noteChange(r);
    for (const r of early) {
      if (r.kind === 'ack_out' && r.socket) this.lastAck.set(r.socket, r.latency_us);
      if (r.kind === 'connect' && r.socket) this.noteSocket(r.socket, r.auth, r.at_us);
    }
    this.log.add(early);
    this.log.add(later.filter((r) => r.seq > upTo));
    if (this.series.length === 0) this.series = secondsOf(early, Date.now());
    this.notify();
  }

  private noteSocket(id: string, auth: SocketInfo['auth'] | undefined, at: number): void {
    remember(id, auth);
    if (!this.known.has(id)) this.known.set(id, at);
  }

  /**
   * The sockets of the current session from before this window opened (its latest
   * 1,000 connect records), including those that left long ago.
   */
  private async sessionSockets(upTo: number): Promise<void> {
    try {
      const page = await get<EventsPage>('events', { kinds: 'connect', before: upTo + 1, limit: 1000 });
      for (const r of page.records) if (r.kind === 'connect' && r.socket) this.noteSocket(r.socket, r.auth, r.at_us);
      this.notify();
    } catch {
      /* nothing recorded: the live sockets and the log's connects still count */
    }
  }

  private noteChange(r: Rec): void {
    if (r.kind !== 'push_out' || (r.target.to !== 'channel' && r.target.to !== 'query')) return;
    const key = r.target.to === 'query' ? channelKey(r.target.url, r.target.query) : r.target.url;
    const list = this.changes.get(key) ?? [];
    list.push(r);
    if (list.length > RECENT_CHANGES) list.shift();
    this.changes.set(key, list);
  }

  private ingest(records: Rec[]): void {
    let refresh = false;
    for (const r of records) {
      if (r.kind === 'connect' && r.socket) this.noteSocket(r.socket, r.auth, r.at_us);
      if (r.kind === 'fault' || r.kind === 'fault_rules') {
        // A rule fired: its count (and, for a limited one, its switch) changed.
        this.refreshFaultsSoon();
      } else if (r.kind === 'ack_out') {
        this.bucket.push(r.latency_us);
        this.recentAcks.push({ t: Date.now(), us: r.latency_us });
        if (r.error && r.fault != null) this.bucketInjected++;
        else if (r.error) this.bucketErrors++;
        if (r.socket) this.lastAck.set(r.socket, r.latency_us);
      } else if (r.kind === 'push_out' && (r.target.to === 'channel' || r.target.to === 'query')) {
        this.noteChange(r);
        refresh = true;
      } else if (r.kind !== 'event_in') {
        refresh = true;
      }
    }
    if (this.backfilling) {
      this.held.push(...records);
    } else if (this.paused) {
      this.pending.push(...records);
      if (this.pending.length > this.log.max) this.pending.splice(0, this.pending.length - this.log.max);
    } else {
      this.log.add(records);
    }
    if (refresh) this.refreshSoon();
  }

  /** Re-reads sockets and channels shortly after something changed them. */
  refreshSoon(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = window.setTimeout(() => {
      this.refreshTimer = 0;
      void this.refresh();
    }, 150);
  }

  refreshFaultsSoon(): void {
    if (this.faultsTimer) return;
    this.faultsTimer = window.setTimeout(() => {
      this.faultsTimer = 0;
      void this.refreshFaults();
    }, 150);
  }

  async refreshFaults(): Promise<void> {
    try {
      this.faults = await get<FaultRule[]>('faults');
      this.notify();
    } catch {
      /* the connection state tells */
    }
  }

  /** Runs a fault command, then re-reads the rules so every view shows the result. */
  async faultCommand(command: Command): Promise<CommandResult> {
    // Show a switch or a delete at once: a render before the reply must not flip a
    // switch back (the re-read below corrects it if the server said no).
    if (this.faults && command.command === 'fault_set') {
      this.faults = this.faults.map((x) => (x.id === command.id ? { ...x, enabled: command.enabled } : x));
    } else if (this.faults && command.command === 'fault_remove') {
      this.faults = this.faults.filter((x) => x.id !== command.id);
    }
    this.notify();
    const r = await this.control.command(command);
    await this.refreshFaults();
    return r;
  }

  async refresh(): Promise<void> {
    try {
      const [sockets, channels] = await Promise.all([
        get<SocketInfo[]>('sockets'),
        get<ChannelInfo[]>('channels'),
      ]);
      this.sockets = sockets;
      this.channels = channels;
      for (const x of sockets) this.noteSocket(x.id, x.auth, x.connected_at_us);
      this.notify();
    } catch {
      /* the connection state tells */
    }
  }

  private async tick(): Promise<void> {
    if (this.conn !== 'open') return;
    // Counters (events in, acks…) move without a record that says so: poll them.
    void this.refresh();
    // Rules change from other windows and the CLI too: re-read them every 2 s.
    if (this.ticks++ % 2 === 0) void this.refreshFaults();
    let stats: Stats;
    try {
      stats = await get<Stats>('stats');
      this.stats = stats;
    } catch {
      return;
    }
    const seq = stats.last_seq;
    const events = this.lastSeq === null ? 0 : Math.max(0, seq - this.lastSeq);
    this.lastSeq = seq;
    const sorted = this.bucket.sort((a, b) => a - b);
    const page = stats.client_latency;
    const now = Date.now();
    const keepFrom = now - 10_000;
    if (this.recentAcks.length && this.recentAcks[0].t < keepFrom) this.recentAcks = this.recentAcks.filter((x) => x.t >= keepFrom);
    this.series.push({
      t: now,
      events,
      acks: sorted.length,
      errors: this.bucketErrors,
      injected: this.bucketInjected,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      pageP50: page && page.count > 0 ? page.p50_us : null,
      pageP99: page && page.count > 0 ? page.p99_us : null,
    });
    if (this.series.length > SERIES) this.series.shift();
    this.bucket = [];
    this.bucketErrors = 0;
    this.bucketInjected = 0;
    this.notify();
  }

  setPaused(p: boolean): void {
    this.paused = p;
    if (!p && this.pending.length) {
      this.log.add(this.pending);
      this.pending = [];
    }
    this.notify();
  }

  /**
   * Re-renders the subscribers: at most once per animation frame, and at most
   * every MIN_RENDER_MS, so a busy bus (a batch every 50 ms) does not keep the page
   * rendering all the time. Clicks and typing render at once through local state.
   */
  notify(): void {
    if (this.frame) return;
    const wait = Math.max(0, this.lastRender + MIN_RENDER_MS - performance.now());
    this.frame = window.setTimeout(() => {
      requestAnimationFrame(() => {
        this.frame = 0;
        this.lastRender = performance.now();
        for (const l of this.listeners) l();
      });
    }, wait);
  }

  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

/**
 * Per-second points made from records already recorded (the backfill), so that the
 * Stats panel shows the minutes before this window opened, up to `now`.
 */
function secondsOf(records: Rec[], now: number): Second[] {
  if (records.length === 0) return [];
  const first = Math.floor(records[0].at_us / 1e6);
  const last = Math.floor(now / 1000);
  if (last - first > SERIES) return [];
  const out: Second[] = [];
  const lat: number[][] = [];
  for (let sec = first; sec < last; sec++) {
    out.push({ t: (sec + 1) * 1000, events: 0, acks: 0, errors: 0, injected: 0, p50: null, p99: null, pageP50: null, pageP99: null });
    lat.push([]);
  }
  for (const r of records) {
    const i = Math.floor(r.at_us / 1e6) - first;
    if (i < 0 || i >= out.length) continue;
    out[i].events++;
    if (r.kind === 'ack_out') {
      out[i].acks++;
      lat[i].push(r.latency_us);
      if (r.error && r.fault != null) out[i].injected++;
      else if (r.error) out[i].errors++;
    }
  }
  out.forEach((x, i) => {
    const sorted = lat[i].sort((a, b) => a - b);
    x.p50 = percentile(sorted, 0.5);
    x.p99 = percentile(sorted, 0.99);
  });
  return out;
}

/** p50 and p99 of the acks of the last `secs` seconds (µs), null without any. */
export function recentAckLatency(acks: { t: number; us: number }[], secs: number, now = Date.now()): { p50: number | null; p99: number | null; count: number } {
  const sorted = acks.filter((x) => x.t > now - secs * 1000).map((x) => x.us).sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), count: sorted.length };
}

export const store = new Store();

/** Re-renders the calling component whenever the store changes. */
export function useStore(): Store {
  const [, setN] = useState(0);
  useEffect(() => store.subscribe(() => setN((n) => n + 1)), []);
  return store;
}

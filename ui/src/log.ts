// The rows of an event log: records that match a filter, each request paired with its
// ack. Bounded: the oldest rows go when the log holds more than `max`.
import type { Filter } from './bindings/Filter';
import { remember } from './labels';
import { matches, type Rec } from './records';

export class LogModel {
  /** Every record kept, in seq order (the filter is applied on top). */
  all: Rec[] = [];
  /** The rows shown: matching records, minus acks folded into their request's row. */
  rows: Rec[] = [];
  /** Acks by the seq of the request they answer. */
  acks = new Map<number, Rec>();
  /** Requests by seq. */
  requests = new Map<number, Rec>();
  /** The fault that hit a request, by the request's seq. */
  faults = new Map<number, Rec>();
  /** The pushes a request's write caused (their `cause`), by the request's seq. */
  caused = new Map<number, Rec[]>();
  /**
   * Per socket, its requests not finished yet, oldest first. A socket's requests are
   * handled one at a time, in order, so a fault record is about the oldest of them
   * with its event, and an ack finishes its request and every earlier one.
   */
  private unfinished = new Map<string, Rec[]>();
  /** Seqs of requests that are rows (their ack folds into them). */
  private requestRows = new Set<number>();
  filter: Filter = {};
  /** Every socket that connected in this log, gone ones too: the socket filter offers them. */
  sockets = new Set<string>();
  /** Records dropped from the front to stay bounded. */
  dropped = 0;
  version = 0;

  constructor(
    public max = 200_000,
    /** false when the server already applied the filter (pages of a session). */
    private filterHere = true,
  ) {}

  clear(): void {
    this.all = [];
    this.rows = [];
    this.acks.clear();
    this.requests.clear();
    this.faults.clear();
    this.caused.clear();
    this.unfinished.clear();
    this.requestRows.clear();
    this.sockets.clear();
    this.dropped = 0;
    this.version++;
  }

  add(records: Rec[]): void {
    for (const r of records) {
      this.all.push(r);
      this.index(r);
      this.consider(r);
    }
    if (this.all.length > this.max) this.trim(Math.floor(this.max / 10));
    this.version++;
  }

  private index(r: Rec): void {
    if (r.kind === 'connect' && r.socket) {
      this.sockets.add(r.socket);
      remember(r.socket, r.auth);
    }
    if (r.kind === 'push_out' && r.cause != null) {
      const list = this.caused.get(r.cause) ?? [];
      list.push(r);
      this.caused.set(r.cause, list);
    }
    if (r.kind === 'event_in') {
      this.requests.set(r.seq, r);
      if (r.socket) {
        const q = this.unfinished.get(r.socket) ?? [];
        q.push(r);
        if (q.length > 1000) q.shift();
        this.unfinished.set(r.socket, q);
      }
    } else if (r.kind === 'ack_out') {
      this.acks.set(r.request_seq, r);
      const q = r.socket ? this.unfinished.get(r.socket) : undefined;
      if (q) {
        const i = q.findIndex((x) => x.seq === r.request_seq);
        if (i >= 0) q.splice(0, i + 1);
      }
    } else if (r.kind === 'disconnect' && r.socket) {
      this.unfinished.delete(r.socket);
    } else if (r.kind === 'fault' && r.socket) {
      // The server names the request (request_seq); older records are paired by order.
      const q = this.unfinished.get(r.socket);
      const paired = r.request_seq ?? null;
      const i = q ? q.findIndex((x) => (paired !== null ? x.seq === paired : x.kind === 'event_in' && x.event === r.event)) : -1;
      if (paired !== null) this.faults.set(paired, r);
      if (q && i >= 0) {
        this.faults.set(q[i].seq, r);
        // A delayed or stalled request still gets its ack; a failed, dropped or cut one is done.
        q.splice(0, r.action === 'delay' || r.action === 'stall' ? i : i + 1);
      }
    }
  }

  private consider(r: Rec): void {
    if (this.filterHere && !matches(this.filter, r)) return;
    if (r.kind === 'ack_out' && this.requestRows.has(r.request_seq)) return;
    if (r.kind === 'event_in') this.requestRows.add(r.seq);
    this.rows.push(r);
  }

  setFilter(f: Filter): void {
    this.filter = f;
    this.rows = [];
    this.requestRows.clear();
    for (const r of this.all) this.consider(r);
    this.version++;
  }

  private trim(n: number): void {
    const gone = this.all.splice(0, n);
    this.dropped += gone.length;
    const minSeq = this.all.length ? this.all[0].seq : Infinity;
    for (const r of gone) {
      if (r.kind === 'event_in') {
        this.requests.delete(r.seq);
        this.requestRows.delete(r.seq);
        this.faults.delete(r.seq);
        this.caused.delete(r.seq);
      } else if (r.kind === 'ack_out') this.acks.delete(r.request_seq);
    }
    let cut = 0;
    while (cut < this.rows.length && this.rows[cut].seq < minSeq) cut++;
    if (cut) this.rows.splice(0, cut);
  }

  /** The ack of a request row, or the request of an ack row. */
  partner(r: Rec): Rec | undefined {
    if (r.kind === 'event_in') return this.acks.get(r.seq);
    if (r.kind === 'ack_out') return this.requests.get(r.request_seq);
    return undefined;
  }

  /** The record of `seq`, when this log holds it. */
  bySeq(seq: number): Rec | undefined {
    // Records are in seq order: a binary search.
    let lo = 0;
    let hi = this.all.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const x = this.all[mid].seq;
      if (x === seq) return this.all[mid];
      if (x < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** The latest record before `seq` that carries a state of `modelUrl`. */
  previous(seq: number, pick: (r: Rec) => boolean): Rec | undefined {
    let i = this.all.length - 1;
    while (i >= 0 && this.all[i].seq >= seq) i--;
    for (; i >= 0; i--) if (pick(this.all[i])) return this.all[i];
    return undefined;
  }
}

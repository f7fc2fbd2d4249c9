// Helpers over bus records: matching a filter (as the server does), short summaries,
// model snapshots for diffs, percentiles.
import type { Filter } from './bindings/Filter';
import type { Record as Rec } from './bindings/Record';
import type { JsonValue } from './bindings/serde_json/JsonValue';
import { labelOf } from './labels';

export type { Rec };

export const KINDS = [
  'connect',
  'disconnect',
  'upgrade',
  'event_in',
  'ack_out',
  'push_out',
  'subscribe',
  'unsubscribe',
  'protocol_error',
  'fault',
  'refused',
  'fault_rules',
  'offline',
  'online',
  'slow_consumer',
] as const;

export function eventOf(r: Rec): string | null {
  switch (r.kind) {
    case 'event_in':
    case 'ack_out':
    case 'push_out':
      return r.event;
    case 'protocol_error':
      return r.event;
    case 'fault':
      return r.event;
    default:
      return null;
  }
}

/** Made by a fault rule (as the server's `Body::is_injected`). */
export function isInjected(r: Rec): boolean {
  return r.kind === 'fault' || (r.kind === 'ack_out' && r.fault !== null && r.fault !== undefined);
}

export function isError(r: Rec): boolean {
  return (r.kind === 'ack_out' && r.error !== null) || r.kind === 'protocol_error' || r.kind === 'refused' || r.kind === 'slow_consumer';
}

export function onChannel(url: string | null, channel: string): boolean {
  return url !== null && (url === channel || (url.startsWith(channel) && url[channel.length] === '/'));
}

/** Did `socket` receive this push? (`to` lists its recipients.) */
export function receivedBy(r: Rec, socket: string): boolean {
  return r.kind === 'push_out' && r.to.includes(socket);
}

/** The same test as the server's `Filter::matches`: a socket's own records and the pushes it received. */
export function matches(f: Filter, r: Rec): boolean {
  if (f.socket && r.socket !== f.socket && !receivedBy(r, f.socket)) return false;
  if (f.channel && !onChannel(r.url, f.channel)) return false;
  if (f.event && eventOf(r) !== f.event) return false;
  if (f.kinds && !f.kinds.includes(r.kind)) return false;
  if (f.origin && r.origin !== f.origin) return false;
  if (f.errors_only && !isError(r)) return false;
  if (f.injected !== undefined && f.injected !== null && isInjected(r) !== f.injected) return false;
  if (f.from_us != null && r.at_us < f.from_us) return false;
  if (f.to_us != null && r.at_us > f.to_us) return false;
  if (f.text && !JSON.stringify(r).includes(f.text)) return false;
  return true;
}

export function isEmptyFilter(f: Filter): boolean {
  return !f.socket && !f.channel && !f.event && !f.kinds && !f.origin && !f.errors_only && f.injected == null && !f.text && f.from_us == null && f.to_us == null;
}

export function fmtLatency(us: number | null | undefined): string {
  if (us === null || us === undefined) return '—';
  if (us < 1000) return `${us} µs`;
  if (us < 10_000) return `${(us / 1000).toFixed(2)} ms`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

export function fmtTime(us: number): string {
  const d = new Date(us / 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function fmtAgo(us: number | null, now = Date.now() * 1000): string {
  if (!us) return '—';
  const s = Math.max(0, (now - us) / 1e6);
  if (s < 1) return 'now';
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

export function shortJson(v: unknown, max = 120): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? 'undefined';
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A long url shortened in the middle, so that both the collection and the end of the id show. */
export function shortUrl(url: string, max = 17): string {
  if (url.length <= max) return url;
  const keep = max - 1;
  const head = Math.ceil(keep / 2);
  return `${url.slice(0, head)}…${url.slice(url.length - (keep - head))}`;
}

export interface ModelRef {
  /** The model's id, when the record names one. */
  id: string | null;
  /** Its title-like attribute (title, name, label…), when it has one. */
  title: string | null;
}

/** The last segment of a model url, when `url` is one (more segments than its collection). */
function idFromUrl(url: unknown): string | null {
  if (typeof url !== 'string') return null;
  const parts = url.split('?')[0].split('/').filter(Boolean);
  return parts.length >= 2 ? decodeURIComponent(parts[parts.length - 1]) : null;
}

const idText = (v: unknown): string | null => (typeof v === 'string' || typeof v === 'number' ? String(v) : null);

/**
 * The model a request, its ack or a change is about: its id and title, so that a row
 * says which todo it is before the payload does.
 */
export function modelOf(r: Rec): ModelRef | null {
  let data: unknown = null;
  let id: string | null = null;
  if (r.kind === 'event_in' && isObj(r.args)) {
    data = r.args.data;
    id = (isObj(data) ? idText(data.id) : null) ?? idFromUrl(r.args.url);
  } else if (r.kind === 'push_out' && isObj(r.args[0]) && 'op' in r.args[0]) {
    const c = r.args[0];
    data = c.data;
    id = idText(c.id) ?? (isObj(data) ? idText(data.id) : null);
  } else if (r.kind === 'push_out') {
    // iobind: the model's attributes.
    data = r.args[0];
    id = isObj(data) ? idText(data.id) : null;
  } else if (r.kind === 'ack_out' && !r.error && isObj(r.args[1])) {
    const res = r.args[1];
    data = isObj(res.data) ? res.data : res;
    id = isObj(data) && !Array.isArray(res.data) ? idText(data.id) : null;
  }
  const title = titleOf(data);
  return id || title ? { id, title } : null;
}

/** `id “title”`, shortened, for a row's lead. */
export function modelText(m: ModelRef | null, max = 40): string {
  if (!m) return '';
  const t = m.title ? `“${m.title.length > max ? `${m.title.slice(0, max - 1)}…` : m.title}”` : '';
  return [m.id ? shortId(m.id) : '', t].filter(Boolean).join(' ');
}

/** A long id shortened in the middle (both ends tell ids apart). */
export function shortId(id: string, max = 14): string {
  return id.length <= max ? id : `${id.slice(0, 6)}…${id.slice(-(max - 7))}`;
}

/** One line about what a record says, for the log's last column. */
export function summary(r: Rec): string {
  switch (r.kind) {
    case 'connect': {
      const page = r.socket ? labelOf(r.socket).page : null;
      const where = page ? `${page.title ?? ''}${page.url ? ` ${page.url}` : ''}`.trim() : '';
      return `${where ? `${where} · ` : ''}${r.transport} ${r.protocol} from ${r.remote_addr ?? '?'}${r.user_agent ? ` · ${r.user_agent}` : ''}`;
    }
    case 'disconnect':
      return r.reason;
    case 'upgrade':
      return `${r.from} → ${r.to}`;
    case 'event_in':
      return shortJson(r.args);
    case 'ack_out':
      if (r.error && r.fault != null) return `injected by fault #${r.fault}: ${shortJson(r.args)}`;
      return r.error ? `error ${r.error}: ${shortJson(r.args)}` : shortJson(r.args);
    case 'push_out':
      return `to ${targetText(r.target)} → ${recipientsText(r)} ${shortJson(r.args)}`;
    case 'subscribe':
    case 'unsubscribe':
      return r.channel;
    case 'protocol_error':
      return r.message;
    case 'fault':
      if (r.push_seq != null) return `rule #${r.rule}: ${actionText(r)} of change ${r.push_seq}${r.waited_ms != null ? ` (waited ${r.waited_ms} ms)` : ''}`;
      return `rule #${r.rule}: ${actionText(r)}`;
    case 'refused':
      // The message names the flag that lets the request through.
      return `${r.transport ?? 'request'} from ${r.http_origin ?? 'no origin'} to ${r.host ?? 'no host'}: ${r.message}`;
    case 'fault_rules':
      return ruleChangeText(r);
    case 'offline':
      return `client ${r.client} offline for ${r.secs} s (${r.sockets.length} socket${r.sockets.length === 1 ? '' : 's'} cut); its reconnects are refused`;
    case 'slow_consumer':
      return `${r.queued_bytes} bytes waited to be sent (limit ${r.limit_bytes}): connection cut`;
    case 'online':
      return `client ${r.client} back online (${r.reason === 'time_up' ? 'its time was up' : 'by command'})`;
  }
}

/** A change to the fault rules, in words. */
export function ruleChangeText(r: Extract<Rec, { kind: 'fault_rules' }>): string {
  const rule = r.rule ? `rule #${r.rule.id} (${actionText(r.rule)})` : '';
  switch (r.change) {
    case 'added':
      return `added ${rule}`;
    case 'edited':
      return `edited ${rule}`;
    case 'on':
      return `switched on ${rule}`;
    case 'off':
      return `switched off ${rule}`;
    case 'spent':
      return `${rule} spent its times and switched itself off`;
    case 'removed':
      return `removed ${rule}`;
    case 'cleared':
      return 'removed every rule';
    case 'imported':
      return `imported rules: ${r.count} now`;
    case 'seed':
      return `fault seed set to ${r.seed}`;
    case 'snapshot':
      return `${r.count} rule${r.count === 1 ? '' : 's'} in effect, fault seed ${r.seed}`;
  }
}

type FaultActionPart =
  | { action: 'fail'; code: string; message: string }
  | { action: 'delay'; ms: number }
  | { action: 'drop' }
  | { action: 'disconnect' }
  | { action: 'stall' }
  | { action: 'cut' }
  | { action: 'bandwidth'; bytes_per_sec: number }
  | { action: 'slice'; bytes: number; delay_ms: number }
  | { action: 'push_drop' }
  | { action: 'push_duplicate' }
  | { action: 'push_delay'; delay_ms: number; jitter_ms: number }
  | { action: 'push_reorder' };

/** What a fault action does, in a few words. */
export function actionText(a: FaultActionPart): string {
  switch (a.action) {
    case 'fail':
      return `fail with ${a.code}${a.message ? ` “${a.message}”` : ''}`;
    case 'delay':
      return `delay ${a.ms} ms`;
    case 'drop':
      return 'drop (no ack)';
    case 'disconnect':
      return 'disconnect the socket';
    case 'stall':
      return 'stall (held unanswered while on)';
    case 'cut':
      return 'cut the connection';
    case 'bandwidth':
      return `limit to ${a.bytes_per_sec.toLocaleString('en')} bytes/s`;
    case 'slice':
      return `slice writes into ${a.bytes} bytes, ${a.delay_ms} ms apart`;
    case 'push_drop':
      return 'drop the push';
    case 'push_duplicate':
      return 'send the push twice';
    case 'push_delay':
      return `delay the push ${a.delay_ms}${a.jitter_ms ? ` ± ${a.jitter_ms}` : ''} ms`;
    case 'push_reorder':
      return 'send the push after the next one';
  }
}

/** Who received a push: the socket ids (shortened), or how many when there are many. */
export function recipientsText(r: Extract<Rec, { kind: 'push_out' }>): string {
  if (r.recipients === 0) return 'nobody';
  if (r.to.length === 0 || r.to.length > 3) return `${r.recipients} sockets`;
  const more = r.recipients - r.to.length;
  return r.to.map((id) => labelOf(id).name).join(', ') + (more > 0 ? ` +${more}` : '');
}

/** A title-like attribute of a model, to name it by more than its id. */
export function titleOf(data: unknown): string | null {
  if (!isObj(data)) return null;
  for (const k of ['title', 'name', 'label', 'text', 'subject', 'description']) {
    const v = data[k];
    if (typeof v === 'string' && v.trim()) return v;
  }
  return null;
}

/** A live query's parameters as one line: `done=true & _sort="title"`. */
export function queryText(query: JsonValue | null | undefined): string {
  if (!query || typeof query !== 'object' || Array.isArray(query)) return '';
  return Object.entries(query)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' & ');
}

/** The key of a channel: its url, and a live query's parameters after it. */
export function channelKey(url: string, query: JsonValue | null | undefined): string {
  return query ? `${url}?${JSON.stringify(query)}` : url;
}

export function targetText(t: Extract<Rec, { kind: 'push_out' }>['target']): string {
  switch (t.to) {
    case 'socket':
      return `socket ${t.id}`;
    case 'channel':
      return t.url;
    case 'query':
      return `${t.url} ? ${queryText(t.query)}`;
    case 'iobind':
      return `iobind:${t.ns}`;
    case 'all':
      return 'everyone';
  }
}

type Obj = { [k: string]: JsonValue | undefined };

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface Snapshot {
  modelUrl: string;
  data: Obj;
  version: number | null;
}

/** The model state a record carries, if any: a request's data, an ack's or a change's. */
export function snapshotOf(r: Rec): Snapshot | null {
  const modelUrl = (url: string | null, data: Obj): string | null => {
    if (!url) return null;
    const id = data.id;
    // A create (or a change on a collection url) names the model by its id.
    if ((typeof id === 'string' || typeof id === 'number') && !url.endsWith(`/${id}`)) return `${url}/${id}`;
    return url;
  };
  if (r.kind === 'event_in' && isObj(r.args) && isObj(r.args.data)) {
    const url = modelUrl(typeof r.args.url === 'string' ? r.args.url : r.url, r.args.data);
    const v = r.args.version;
    return url ? { modelUrl: url, data: r.args.data, version: typeof v === 'number' ? v : null } : null;
  }
  if (r.kind === 'ack_out' && !r.error && isObj(r.args[1]) && isObj(r.args[1].data)) {
    const res = r.args[1];
    const data = res.data as Obj;
    const url = modelUrl(r.url, data);
    return url ? { modelUrl: url, data, version: typeof res.version === 'number' ? res.version : null } : null;
  }
  if (r.kind === 'ack_out' && !r.error && r.dialect?.startsWith('iobind') && isObj(r.args[1])) {
    const data = r.args[1];
    const url = modelUrl(r.url, data);
    return url ? { modelUrl: url, data, version: null } : null;
  }
  if (r.kind === 'push_out' && isObj(r.args[0]) && isObj(r.args[0].data)) {
    const c = r.args[0];
    const data = c.data as Obj;
    const url = modelUrl(typeof c.url === 'string' ? c.url : r.url, data);
    return url ? { modelUrl: url, data, version: typeof c.version === 'number' ? c.version : null } : null;
  }
  return null;
}

export interface DiffLine {
  key: string;
  kind: 'added' | 'removed' | 'changed' | 'same';
  before?: JsonValue;
  after?: JsonValue;
}

export function diff(before: Obj, after: Obj): DiffLine[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.map((key) => {
    const b = before[key];
    const a = after[key];
    if (b === undefined) return { key, kind: 'added', after: a };
    if (a === undefined) return { key, kind: 'removed', before: b };
    if (JSON.stringify(a) !== JSON.stringify(b)) return { key, kind: 'changed', before: b, after: a };
    return { key, kind: 'same', before: b, after: a };
  });
}

/** The p-th percentile (0..1) of sorted values, nearest rank. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1];
}

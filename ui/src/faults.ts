// Fault rules in words, and the shapes the Faults and Inject panels build.
import type { FaultMatch } from './bindings/FaultMatch';
import type { FaultRule } from './bindings/FaultRule';
import type { FaultSpec } from './bindings/FaultSpec';
import { actionText } from './records';

/** The error codes offered for a failure: the server's own, plus a free one. */
export const CODES = ['conflict', 'not_found', 'bad_request', 'internal', 'injected'] as const;

/** Request events a rule can name; iobind events (`todos:update`) can be typed. */
export const EVENTS = ['create', 'read', 'update', 'patch', 'delete', 'subscribe', 'unsubscribe'];

/** A message like the server's for each code, to start from. */
export const DEFAULT_MESSAGE: Record<string, string> = {
  conflict: 'the model changed since the version sent',
  not_found: 'no such model',
  bad_request: 'the request was refused',
  internal: 'internal server error',
  injected: 'injected by Syncscope',
};

/**
 * The event field of a builder: one event (`update`, `todos:update`), several joined
 * by `or` or commas (`update or patch`), or nothing (any request).
 */
export function parseEvents(text: string): Pick<FaultMatch, 'event' | 'events'> {
  const list = text
    .split(/\s*(?:\bor\b|,|\|)\s*/)
    .map((x) => x.trim())
    .filter(Boolean);
  if (list.length === 0) return {};
  if (list.length === 1) return { event: list[0] };
  return { events: list };
}

/** The client's copy of the server's `FaultMatch::matches`. */
export function whenMatches(w: FaultMatch, socket: string | null, event: string, url: string | null): boolean {
  if (w.socket && w.socket !== socket) return false;
  // A client rule needs the socket's client, which the caller checks when it knows it.
  if (w.event && w.event !== event) return false;
  if (w.events && !w.events.includes(event)) return false;
  if (w.url) {
    const prefix = w.url.replace(/\/+$/, '');
    if (!url || (url !== prefix && !url.startsWith(`${prefix}/`))) return false;
  }
  return true;
}

/** A request that writes: the native methods and iobind's `<ns>:<method>`. */
export function isWrite(event: string): boolean {
  const method = event.includes(':') ? event.slice(event.lastIndexOf(':') + 1) : event;
  return ['create', 'update', 'patch', 'delete'].includes(method);
}

/** The requests a rule matches, in words. */
export function whenText(w: FaultMatch, action?: string): string {
  const what = action?.startsWith('push_') ? 'change pushes' : action === 'bandwidth' || action === 'slice' ? 'connections' : null;
  const parts = [what ?? (w.event ? w.event : w.events?.length ? w.events.join(' or ') : 'any request')];
  if (w.url) parts.push(`on ${w.url}`);
  // A push goes to a socket; a request comes from one.
  const dir = action?.startsWith('push_') ? 'to' : 'from';
  if (w.client) parts.push(`${dir} client ${w.client}`);
  if (w.socket) parts.push(`${dir} ${w.socket}`);
  return parts.join(' ');
}

export function timesText(times: number | undefined): string {
  if (times == null) return 'every time';
  if (times === 1) return 'next one only';
  return `${times} times`;
}

/** The whole rule in words: "update on /todos → fail with conflict, next one only". */
export function specText(spec: FaultSpec): string {
  const toxicity = spec.toxicity != null ? `, ${Math.round(spec.toxicity * 1000) / 10}% of matches` : '';
  return `${whenText(spec.when, spec.action)} → ${actionText(spec)}, ${timesText(spec.times)}${toxicity}`;
}

/** The rule the stall button keeps for a socket: hold all it asks while on (formerly "offline"). */
export function stallSpec(socket: string): FaultSpec {
  return { when: { socket }, action: 'stall' };
}

export function isStallRule(r: FaultRule, socket: string): boolean {
  return r.action === 'stall' && r.when.socket === socket && !r.when.event && !r.when.events && !r.when.url && r.times == null;
}

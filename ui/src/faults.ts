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

/** The requests a rule matches, in words. */
export function whenText(w: FaultMatch): string {
  const parts = [w.event ? w.event : 'any request'];
  if (w.url) parts.push(`on ${w.url}`);
  if (w.socket) parts.push(`from ${w.socket}`);
  return parts.join(' ');
}

export function timesText(times: number | undefined): string {
  if (times == null) return 'every time';
  if (times === 1) return 'next one only';
  return `${times} times`;
}

/** The whole rule in words: "update on /todos → fail with conflict, next one only". */
export function specText(spec: FaultSpec): string {
  return `${whenText(spec.when)} → ${actionText(spec)}, ${timesText(spec.times)}`;
}

/** The rule the offline button keeps for a socket: drop all it asks, every time. */
export function offlineSpec(socket: string): FaultSpec {
  return { when: { socket }, action: 'drop' };
}

export function isOfflineRule(r: FaultRule, socket: string): boolean {
  return r.action === 'drop' && r.when.socket === socket && !r.when.event && !r.when.url && r.times == null;
}

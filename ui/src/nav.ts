// Which panel is open (in the URL's hash, so a reload keeps it) and what one panel
// hands another: the log's filter, the target of a push.
import type { Filter } from './bindings/Filter';
import type { Target } from './bindings/Target';
import { store } from './store';

export const PANELS = ['sockets', 'channels', 'log', 'inject', 'data', 'sessions', 'stats', 'faults'] as const;
export type Panel = (typeof PANELS)[number];

export function currentPanel(): Panel {
  const h = window.location.hash.replace(/^#\/?/, '');
  return (PANELS as readonly string[]).includes(h) ? (h as Panel) : 'sockets';
}

export function go(panel: Panel): void {
  window.location.hash = `#/${panel}`;
}

export const handoff: { injectTarget: Target | null } = { injectTarget: null };

/** Opens the log filtered on a socket or channel. */
export function showInLog(filter: Filter): void {
  store.log.setFilter(filter);
  store.notify();
  go('log');
}

export function injectTo(target: Target): void {
  handoff.injectTarget = target;
  go('inject');
}

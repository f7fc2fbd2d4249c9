// Readable names for sockets. A socket id (`hX3k…`) tells two tabs of the same app
// apart no better than their shared user agent does, so every socket gets a short
// name made of two words, and the page it was opened from when the client says so.
//
// The name is derived from the client's own per-tab id (`auth.client`) when it sends
// one, so a tab that goes offline and comes back on a new socket keeps its name and
// the log shows it as a disconnect and a connect of the same tab; otherwise from the
// socket id. The page comes from `auth.page = {title, url}` (backbone.realtime sends
// it with socket.io-client 3+; socket.io-client 2 has no `auth`).
import type { JsonValue } from './bindings/serde_json/JsonValue';

const ADJECTIVES = [
  'amber', 'brave', 'calm', 'dusty', 'eager', 'fuzzy', 'gentle', 'happy',
  'icy', 'jolly', 'keen', 'lucky', 'misty', 'noble', 'olive', 'proud',
  'quick', 'rusty', 'sandy', 'tidy', 'urban', 'vivid', 'witty', 'young',
  'zesty', 'bold', 'cozy', 'dark', 'early', 'fancy', 'grand', 'hazy',
];

const NOUNS = [
  'otter', 'badger', 'cobra', 'dingo', 'eagle', 'ferret', 'gecko', 'heron',
  'ibis', 'jaguar', 'koala', 'lemur', 'marten', 'newt', 'ocelot', 'panda',
  'quail', 'raven', 'stoat', 'tapir', 'urchin', 'vole', 'walrus', 'yak',
  'zebra', 'bison', 'crane', 'dove', 'egret', 'finch', 'goose', 'hare',
];

/** FNV-1a over the string's UTF-16 units: stable across reloads and machines. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Two words for an id: `amber-otter`. */
export function twoWords(id: string): string {
  const h = hash(id);
  return `${ADJECTIVES[h % ADJECTIVES.length]}-${NOUNS[(h >>> 8) % NOUNS.length]}`;
}

export interface Page {
  title: string | null;
  url: string | null;
}

export interface SocketLabel {
  /** The two-word name: the same for every socket of one tab that sends `auth.client`. */
  name: string;
  /** The page the tab showed when it connected, when the client said. */
  page: Page | null;
  /** The client's per-tab id, when it sent one. */
  client: string | null;
}

type Obj = { [k: string]: JsonValue | undefined };

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);

export function socketLabel(id: string, auth: JsonValue | null | undefined): SocketLabel {
  const a = isObj(auth) ? auth : {};
  const client = str(a.client);
  const p = isObj(a.page) ? a.page : null;
  const page = p && (str(p.title) || str(p.url)) ? { title: str(p.title), url: str(p.url) } : null;
  return { name: twoWords(client ?? id), page, client };
}

/** The page in a few words: its title, else the path of its url. */
export function pageText(page: Page | null): string {
  if (!page) return '';
  if (page.title) return page.title;
  try {
    return page.url ? new URL(page.url).pathname : '';
  } catch {
    return page.url ?? '';
  }
}

/** The page's path (and query), for telling apart two tabs of one app. */
export function pagePath(page: Page | null): string {
  if (!page?.url) return '';
  try {
    const u = new URL(page.url);
    return u.pathname + u.search + u.hash;
  } catch {
    return page.url;
  }
}

/** Labels of every socket seen in this window (live, in the log, in a session), by id. */
const seen = new Map<string, SocketLabel>();

/** Notes what a socket sent when it connected (a connect record, a live socket). */
export function remember(id: string, auth: JsonValue | null | undefined): SocketLabel {
  const known = seen.get(id);
  if (known && (auth === null || auth === undefined)) return known;
  const label = socketLabel(id, auth);
  seen.set(id, label);
  return label;
}

/** The label of a socket id: as remembered, or made from the id alone. */
export function labelOf(id: string): SocketLabel {
  return seen.get(id) ?? socketLabel(id, null);
}

/** One line naming a socket in a menu: `amber-otter · Todos /demo/ · hX3k…`. */
export function socketLine(id: string): string {
  const l = labelOf(id);
  const page = pageText(l.page);
  return [l.name, page, id.length > 8 ? `${id.slice(0, 8)}…` : id].filter(Boolean).join(' · ');
}

// The control API client: HTTP snapshots and the one WebSocket for live batches and
// commands. Everything goes to this page's own origin, under /_syncscope/.
import type { ClientMessage } from './bindings/ClientMessage';
import type { Command } from './bindings/Command';
import type { CommandResult } from './bindings/CommandResult';
import type { Filter } from './bindings/Filter';
import type { ServerMessage } from './bindings/ServerMessage';

const TOKEN_KEY = 'syncscope.token';

/**
 * The control token: `?token=` in this page's URL or `#token=` in its fragment (the
 * address the server logs, which keeps it out of requests), else the one kept for
 * this tab.
 */
export function readToken(): string | null {
  const url = new URL(window.location.href);
  const fromHash = /^#token=([^&]+)/.exec(url.hash)?.[1];
  const given = url.searchParams.get('token') ?? (fromHash ? decodeURIComponent(fromHash) : null);
  if (given) {
    try {
      sessionStorage.setItem(TOKEN_KEY, given);
    } catch {
      /* storage refused (private mode): the token lives in memory only */
    }
    // Keep the token out of the address bar (and out of screenshots and bookmarks).
    url.searchParams.delete('token');
    if (fromHash) url.hash = '';
    history.replaceState(null, '', url.pathname + url.search + url.hash);
    return given;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

let token: string | null = null;

export function setToken(t: string | null): void {
  token = t;
}

function authorized(init: RequestInit = {}): RequestInit {
  return { ...init, headers: { ...(init.headers ?? {}), Authorization: `Bearer ${token ?? ''}` } };
}

/** A raw request to the control API (for files: session export and import). */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(new URL(`/_syncscope/${path}`, window.location.origin), authorized(init));
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new ApiError(res.status, body?.code ?? 'http', body?.message ?? `${res.status} ${res.statusText}`);
  }
  return res;
}

export async function get<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<T> {
  const url = new URL(`/_syncscope/${path}`, window.location.origin);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
  }
  const res = await fetch(url, authorized());
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    throw new ApiError(res.status, body?.code ?? 'http', body?.message ?? `${res.status} ${res.statusText}`);
  }
  return body as T;
}

/** The query string of /events and /latency for a filter. */
export function filterQuery(f: Filter): Record<string, string | boolean | undefined> {
  return {
    socket: f.socket,
    channel: f.channel,
    event: f.event,
    kinds: f.kinds?.join(','),
    origin: f.origin,
    errors_only: f.errors_only || undefined,
    injected: f.injected,
    text: f.text,
    from_us: f.from_us != null ? String(f.from_us) : undefined,
    to_us: f.to_us != null ? String(f.to_us) : undefined,
  };
}

type Listener = (msg: ServerMessage) => void;
export type ConnState = 'connecting' | 'open' | 'closed' | 'unauthorized';

/**
 * The longest wait between two reconnection attempts: the server runs on this machine,
 * and a developer restarting it expects the inspector back within about a second.
 */
const MAX_RETRY_MS = 1000;

/** The control WebSocket, reconnecting with backoff; commands get a promise of their reply. */
export class Control {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private waiting = new Map<number, (r: CommandResult) => void>();
  private listeners = new Set<Listener>();
  private stateListeners = new Set<(s: ConnState) => void>();
  private filter: Filter | null = {};
  private retry = 250;
  state: ConnState = 'connecting';

  connect(): void {
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${window.location.host}/_syncscope/ws?token=${encodeURIComponent(token ?? '')}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.setState('connecting');
    ws.onopen = () => {
      this.retry = 250;
      this.setState('open');
      if (this.filter) this.send({ type: 'watch', filter: this.filter });
    };
    ws.onmessage = (ev) => {
      let msg: ServerMessage;
      try {
        msg = JSON.parse(typeof ev.data === 'string' ? ev.data : '') as ServerMessage;
      } catch {
        return;
      }
      if (msg.type === 'reply') {
        const done = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        done?.(msg.result);
      }
      for (const l of this.listeners) l(msg);
    };
    ws.onclose = () => {
      this.ws = null;
      for (const done of this.waiting.values()) {
        done({ result: 'error', code: 'disconnected', message: 'the control connection closed before the reply' });
      }
      this.waiting.clear();
      // A refused upgrade (wrong token) closes before opening: check why over HTTP.
      get('stats').then(
        () => this.reconnectLater(),
        (e) => {
          if (e instanceof ApiError && e.status === 401) this.setState('unauthorized');
          else this.reconnectLater();
        },
      );
    };
  }

  private reconnectLater(): void {
    this.setState('closed');
    setTimeout(() => this.connect(), this.retry);
    this.retry = Math.min(this.retry * 2, MAX_RETRY_MS);
  }

  private setState(s: ConnState): void {
    this.state = s;
    for (const l of this.stateListeners) l(s);
  }

  private send(msg: ClientMessage): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  watch(filter: Filter | null): void {
    this.filter = filter;
    this.send(filter ? { type: 'watch', filter } : { type: 'unwatch' });
  }

  command(command: Command): Promise<CommandResult> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      if (!this.send({ type: 'command', id, command })) {
        this.waiting.delete(id);
        resolve({ result: 'error', code: 'disconnected', message: 'not connected to the server' });
      }
    });
  }

  onMessage(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  onState(l: (s: ConnState) => void): () => void {
    this.stateListeners.add(l);
    return () => this.stateListeners.delete(l);
  }
}

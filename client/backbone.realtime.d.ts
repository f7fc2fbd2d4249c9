// Type definitions for backbone.realtime.js 0.1
// Syncs Backbone models and collections over Socket.IO (Syncscope's native
// dialect). See docs/ADAPTER.md.

import * as Backbone from 'backbone';

/** The socket the adapter talks through: socket.io-client 2, 3 or 4. */
export interface RealtimeSocket {
  connected: boolean;
  on(event: string, listener: (...args: any[]) => void): any;
  emit(event: string, ...args: any[]): any;
  connect?(): any;
  close?(): any;
}

/** An error as the server sends it (`bad_request`, `not_found`, `conflict`,
 * `too_large`, `unknown_event`, `busy`, `storage_full`, `injected`, `internal`), or as the
 * adapter makes it (`timeout`, `offline`, `disconnected`). */
export interface RealtimeError {
  code: 'bad_request' | 'not_found' | 'conflict' | 'too_large' | 'unknown_event' | 'busy' |
    'storage_full' | 'injected' | 'internal' | 'timeout' | 'offline' | 'disconnected' | string;
  message: string;
  /** `conflict`: the model as stored now. */
  current?: { data: any; version: number };
  /** `bad_request`: the offending field. */
  field?: string;
  /** `not_found`: the url. */
  url?: string;
  /** `too_large`: the limit in bytes. */
  limit?: number;
  /** `timeout`: the time waited, in ms. */
  timeout?: number;
  /** `disconnected`: socket.io's disconnect reason. */
  reason?: string;
  [extra: string]: any;
}

/** What to do when a write meets a newer version on the server:
 * `'theirs'` takes the server's state (the write still fails with the conflict),
 * `'ours'` writes again over the server's version, a function decides per
 * conflict (returning `'theirs'`, `'ours'`, attributes to write over the
 * server's version, or nothing to report the conflict; it may return a promise). */
export type ConflictPolicy =
  | 'theirs'
  | 'ours'
  | null
  | ((error: RealtimeError, model: Backbone.Model, options: any) =>
      'theirs' | 'ours' | object | null | undefined | void |
      PromiseLike<'theirs' | 'ours' | object | null | undefined | void>);

/** Options read per call, then on the object (property or constructor
 * option), then on its collection, then in `Backbone.realtime.defaults`. */
export interface RealtimeOptions {
  /** Sync this object over the socket (`true`) or through `ajaxSync` (`false`). */
  realtime?: boolean;
  /** The socket for this object instead of `Backbone.realtime.socket`. */
  socket?: RealtimeSocket;
  /** ms before an unanswered request fails with `timeout`; 0 for never. Default 10000. */
  timeout?: number;
  /** Queue requests while offline (default), or fail them with `offline`. */
  queue?: boolean;
  /** `'ajax'`: while offline, send through `Backbone.realtime.ajaxSync` instead. */
  fallback?: 'ajax' | null;
  onConflict?: ConflictPolicy;
  /** `'replace'` (default): an `update` from the server leaves the model with exactly
   * the server's attributes (keys it no longer has are unset); `'merge'`: it only sets. */
  updates?: 'replace' | 'merge';
  /** Bytes of a write's `data` above which it fails with `too_large` without being sent;
   * default: the server's limit, announced in its subscribe answer (or a `too_large`). */
  maxData?: number | null;
}

/** A live query's parameters, as `collection.fetch({data})` gives them
 * (docs/PROTOCOL.md, *Queries*): equality on top-level attributes, and json-server's
 * `_sort` (`'-attr'` for descending), `_order`, `_start`, `_limit`. */
export interface RealtimeQuery {
  _sort?: string;
  _order?: 'asc' | 'desc';
  _start?: number | string;
  _limit?: number | string;
  [attribute: string]: string | number | boolean | null | undefined;
}

/** A change, as pushed by the server or replayed on resubscribe. */
export interface RealtimeChange {
  url: string;
  op: 'create' | 'update' | 'patch' | 'delete';
  id: string | number;
  data: any;
  version: number;
  seq: number;
  /** On a live query's channel: the query it concerns. */
  query?: RealtimeQuery;
  /** On a live query's channel: whether the model is in the query's result now. */
  match?: boolean;
  /** The seq of the channel's change before this one (servers with gap detection); never
   * on a live query's pushes, which skip the changes that do not concern the query. */
  prev?: number;
}

/** A gap in a channel: a `prev` other than the last change held (`since`). */
export interface GapInfo {
  url: string;
  since: number;
  prev: number;
  seq: number;
}

/** A write the server has not acknowledged yet: see `Backbone.realtime.pending()` and
 * the events 'queued' and 'sent'. */
export interface PendingWrite {
  model: Backbone.Model;
  method: 'create' | 'update' | 'patch' | 'delete';
  /** The url it goes to (normalised: a leading `/`, no origin). */
  url: string;
  /** The attributes it sends, as on the wire (the id in `id`). */
  data: any;
  /** `'queued'`: not sent yet (the socket is offline, or the previous write of the same
   * model awaits its ack); `'inflight'`: sent, its ack not here yet; `'sent'`: acknowledged
   * (then it is no longer listed). */
  state: 'queued' | 'inflight' | 'sent';
  /** It waited for the connection ('queued' was fired for it). */
  offline: boolean;
}

/** What a resubscribe after a reconnect brought. */
export interface ResyncInfo {
  url: string;
  since: number;
  seq: number;
  reset: boolean;
  /** The changes applied (own writes and already known changes are left out). */
  changes: RealtimeChange[];
  /** The live query of the resubscribed channel, if any. */
  query?: RealtimeQuery;
}

export interface Realtime extends Backbone.Events {
  VERSION: string;
  /** The `Backbone.sync` that was installed before the adapter. */
  ajaxSync: typeof Backbone.sync;
  /** The sync the adapter installs as `Backbone.sync`: realtime objects over
   * the socket, every other object through `ajaxSync`. */
  sync: typeof Backbone.sync;
  /** Always over the socket. */
  socketSync: typeof Backbone.sync;
  /** The shared socket; created on first use when null. */
  socket: RealtimeSocket | null;
  /** Where the shared socket connects; default: the origin that served the script. */
  url: string | null;
  /** Options for `io(url, options)` when the adapter creates the socket. */
  socketOptions: object | null;
  /** The socket.io client function; default: `require('socket.io-client')` or the global `io`. */
  io: ((url: string, options?: object) => RealtimeSocket) | null;
  /** Report CRUD round trips to a server that asks for them (default true). */
  reportLatency: boolean;
  defaults: {
    timeout: number;
    queue: boolean;
    fallback: 'ajax' | null;
    onConflict: ConflictPolicy;
    updates: 'replace' | 'merge';
    maxData: number | null;
  };
  /** Creates the shared socket if needed and returns it. */
  connect(): RealtimeSocket;
  /** This tab's client id (kept in sessionStorage), sent as `auth.client` and
   * `query.client` by the shared socket so that the server can tell a tab across
   * reconnects. */
  clientId(): string;
  isConnected(socket?: RealtimeSocket): boolean;
  /** The version the adapter would send with the model's next write, through its
   * socket (or `options.socket`). Versions are kept per socket. */
  version(model: Backbone.Model, options?: { socket?: RealtimeSocket }): number | undefined;
  normalizeUrl(url: string): string;
  /** The writes not acknowledged by the server yet, oldest first: all of them, a model's,
   * or those of a collection's models. */
  pending(obj?: Backbone.Model | Backbone.Collection<any>): PendingWrite[];

  on(event: 'connect', callback: (socket: RealtimeSocket, info: { reconnect: boolean }) => void, context?: any): this;
  on(event: 'disconnect', callback: (reason: string, socket: RealtimeSocket) => void, context?: any): this;
  on(event: 'resync', callback: (info: ResyncInfo) => void, context?: any): this;
  on(event: 'push', callback: (change: RealtimeChange) => void, context?: any): this;
  on(event: 'gap', callback: (gap: GapInfo) => void, context?: any): this;
  on(event: 'error', callback: (error: RealtimeError, context: { url: string }) => void, context?: any): this;
  /** `'queued'`: a write is held because the socket is offline; `'sent'`: the server
   * acknowledged a write. Also fired on the model (and so on its collection). */
  on(event: 'queued' | 'sent', callback: (model: Backbone.Model, write: PendingWrite) => void, context?: any): this;
  on(event: string, callback: (...args: any[]) => void, context?: any): this;
  on(eventMap: Backbone.EventMap, context?: any): this;
}

declare module 'backbone' {
  // Added to every model and collection by the adapter.
  interface Model {
    realtime?: boolean | (() => boolean);
    onConflict?: ConflictPolicy;
    updates?: 'replace' | 'merge';
    maxData?: number | null;
    /** Listen to the server's changes of this model (outside a realtime collection). */
    startRealtime(options?: { socket?: RealtimeSocket }): this;
    stopRealtime(): this;
  }
  interface Collection<TModel extends Model = Model> {
    realtime?: boolean | (() => boolean);
    onConflict?: ConflictPolicy;
    updates?: 'replace' | 'merge';
    maxData?: number | null;
    /** Listen to the server's changes of this collection url (the first fetch does it). */
    startRealtime(options?: { socket?: RealtimeSocket }): this;
    /** Stop listening; syncing still goes over the socket. */
    stopRealtime(): this;
  }
  interface ModelSetOptions extends RealtimeOptions {}
  interface ModelFetchOptions extends RealtimeOptions {}
  interface ModelSaveOptions extends RealtimeOptions {}
  interface ModelDestroyOptions extends RealtimeOptions {}
  interface CollectionFetchOptions extends RealtimeOptions {}
  interface ModelConstructorOptions<TModel extends Model = Model> extends RealtimeOptions {}
  // Backbone.realtime, once the adapter is loaded.
  const realtime: Realtime;
}

declare const realtime: Realtime;
export default realtime;
export const sync: typeof Backbone.sync;
export const socketSync: typeof Backbone.sync;
export const ajaxSync: typeof Backbone.sync;
export const connect: () => RealtimeSocket;
export const version: (model: Backbone.Model, options?: { socket?: RealtimeSocket }) => number | undefined;
export const pending: (obj?: Backbone.Model | Backbone.Collection<any>) => PendingWrite[];

// Compiled (never run) by the test command: the .d.ts must type a Backbone app's
// ordinary use of the adapter, and refuse what it does not offer.
import * as Backbone from 'backbone';
import realtime, { RealtimeError, RealtimeChange, RealtimeQuery, ResyncInfo, PendingWrite, pending } from '../backbone.realtime';

class Todo extends Backbone.Model {
  realtime = true;
  onConflict = 'theirs' as const;
}

class Todos extends Backbone.Collection<Todo> {
  url = '/todos';
  realtime = true;
}

const todos = new Todos();
todos.fetch({ reset: true, timeout: 2000 });
todos.startRealtime().stopRealtime();
// A live query: Backbone's own `data` option, json-server's spelling.
const query: RealtimeQuery = { done: false, _sort: 'title', _order: 'desc', _limit: 10 };
todos.fetch({ data: query });
realtime.on('resync', (info: ResyncInfo) => info.query && info.query._sort);
// @ts-expect-error: `_order` is 'asc' or 'desc'.
const badOrder: RealtimeQuery = { _order: 'down' };
const todo = new Todo({ title: 'typed' }, { realtime: true });
todo.save({ done: true }, { patch: true, wait: true, onConflict: (err: RealtimeError) => (err.current ? 'theirs' : 'ours') });

realtime.defaults.timeout = 5000;
realtime.on('push', (change: RealtimeChange) => change.seq.toFixed());
realtime.on('disconnect', (reason: string) => reason.length);
const version: number | undefined = realtime.version(todo);
Backbone.realtime.connect();

// @ts-expect-error: `onConflict` takes 'theirs', 'ours' or a function only.
todo.save({}, { onConflict: 'mine' });

// Updates replace by default; an app with local-only attributes opts out.
todo.save(null, { updates: 'merge', maxData: 100000 });
realtime.defaults.updates = 'merge';
realtime.defaults.maxData = null;
const versionOnSocket: number | undefined = realtime.version(todo, { socket: realtime.connect() });
// @ts-expect-error: `updates` is 'replace' or 'merge'.
todo.save({}, { updates: 'mine' });

// Pending writes: what is not acknowledged yet, and the events that change it.
const waiting: PendingWrite[] = realtime.pending(todo);
const waitingInList: number = pending(todos).length + realtime.pending().length;
realtime.on('queued', (model: Backbone.Model, write: PendingWrite) => write.offline && model.cid);
realtime.on('sent', (_model: Backbone.Model, write: PendingWrite) => write.state === 'sent');
todo.on('queued sent', () => realtime.pending(todo).map((w) => w.method));
// @ts-expect-error: a write's state is 'queued', 'inflight' or 'sent'.
const unknownState: PendingWrite['state'] = 'lost';

export { version, versionOnSocket, badOrder, waiting, waitingInList, unknownState };

// Compiled (never run) by the test command: the .d.ts must type a Backbone app's
// ordinary use of the adapter, and refuse what it does not offer.
import * as Backbone from 'backbone';
import realtime, { RealtimeError, RealtimeChange, RealtimeQuery, ResyncInfo } from '../backbone.realtime';

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

export { version, versionOnSocket, badOrder };

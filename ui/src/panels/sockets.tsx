import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { SocketInfo } from '../bindings/SocketInfo';
import { Empty, JsonTree, useFlash, VirtualList } from '../components';
import { injectTo, showInLog } from '../nav';
import { labelOf, pagePath, pageText } from '../labels';
import { fmtAgo, fmtLatency } from '../records';
import { store, useStore } from '../store';

/** The socket's two-word name and, when the client said, the page it shows. */
function SocketName({ id }: { id: string }): JSX.Element {
  const l = labelOf(id);
  const page = pageText(l.page);
  const path = pagePath(l.page);
  return (
    <span class="c-name ellipsis" title={[l.name, l.page?.title, l.page?.url, l.client ? `client ${l.client}` : ''].filter(Boolean).join('\n')} data-testid="socket-name">
      <span class="sock-name">{l.name}</span> {page && <span class="sock-page">{page}{path && page !== path ? ` ${path}` : ''}</span>}
    </span>
  );
}

function SocketRow({ s, selected, onSelect }: { s: SocketInfo; selected: boolean; onSelect: () => void }): JSX.Element {
  return (
    <div
      class={`row sock-row ${selected ? 'selected' : ''}`}
      onClick={onSelect}
      data-testid="socket-row"
      data-socket={s.id}
      role="row"
      aria-selected={selected}
    >
      <SocketName id={s.id} />
      <span class="c-id mono" title={s.client ? `${s.id}, client ${s.client}: ${s.reconnects} reconnect(s) before this socket` : s.id}>
        {s.client && (
          <span class="tag client-tag" data-testid="socket-client">
            {s.client}
            {s.reconnects > 0 ? ` ↻${s.reconnects}` : ''}
          </span>
        )}{' '}
        {s.id}
      </span>
      <span class="c-tr">
        <span class={`tag tag-${s.transport}`}>{s.transport}</span> <span class="muted">{s.protocol}</span>
      </span>
      <span class="c-addr mono">{s.remote_addr ?? '—'}</span>
      <span class="c-ua" title={s.user_agent ?? ''}>
        {s.user_agent ?? '—'}
      </span>
      <span class="c-dia">{s.dialects.join(', ') || <span class="muted">—</span>}</span>
      <span class="c-ch" title={s.channels.join('\n')}>
        {s.channels.join(', ') || <span class="muted">none</span>}
      </span>
      <span class="c-num" title="events in / acks out / error acks / pushes in">
        {s.events_in}/{s.acks_out}/<span class={s.error_acks ? 'err' : ''}>{s.error_acks}</span>/{s.pushes_in}
      </span>
      <span class="c-lat" data-testid="socket-last-ack">
        {fmtLatency(store.lastAck.get(s.id) ?? s.last_ack_latency_us)}
      </span>
      <span class="c-act muted">{fmtAgo(s.last_activity_us)}</span>
    </div>
  );
}

export function SocketsPanel(): JSX.Element {
  const s = useStore();
  const [selected, setSelected] = useState<string | null>(null);
  const [text, setText] = useState('');
  const [flash, say] = useFlash();
  const filtered = text
    ? s.sockets.filter((x) => `${labelOf(x.id).name} ${JSON.stringify(x)}`.toLowerCase().includes(text.toLowerCase()))
    : s.sockets;
  // A client's sockets (one tab across reconnects) together, in the order they came.
  const first = new Map<string, number>();
  filtered.forEach((x, i) => {
    if (x.client && !first.has(x.client)) first.set(x.client, i);
  });
  const list = filtered
    .map((x, i) => ({ x, key: x.client ? (first.get(x.client) ?? i) : i, i }))
    .sort((a, b) => a.key - b.key || a.i - b.i)
    .map((e) => e.x);
  const sel = s.sockets.find((x) => x.id === selected) ?? null;

  const disconnect = async (id: string) => {
    const r = await store.control.command({ command: 'disconnect', socket: id });
    if (r.result === 'ok') say('ok', `Disconnected ${id}.`);
    else say('error', r.message);
    store.refreshSoon();
  };

  return (
    <div class="split-v">
      <div class="toolbar">
        <h2>Sockets</h2>
        <span class="muted">{s.sockets.length.toLocaleString()} connected</span>
        <input
          type="search"
          placeholder="Filter: name, page, id, address, agent, channel…"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          data-testid="socket-search"
        />
      </div>
      <div class="table">
        <div class="row head sock-row" role="row">
          <span class="c-name" title="A name made from the tab's client id (or the socket id), and the page it showed">name · page</span>
          <span class="c-id">id</span>
          <span class="c-tr">transport</span>
          <span class="c-addr">address</span>
          <span class="c-ua">user agent</span>
          <span class="c-dia">dialect</span>
          <span class="c-ch">channels</span>
          <span class="c-num" title="events in / acks out / error acks / pushes in">
            in/ack/err/push
          </span>
          <span class="c-lat" title="Latency of the last ack sent to it">
            last ack
          </span>
          <span class="c-act">active</span>
        </div>
        {list.length === 0 ? (
          <Empty>
            No socket is connected. Point a Backbone app (or the demo at <a href="/demo/">/demo/</a>) at this server.
          </Empty>
        ) : (
          <VirtualList
            items={list}
            version={s.sockets.length}
            rowHeight={28}
            testId="sockets-list"
            render={(x) => (
              <SocketRow s={x} selected={x.id === selected} onSelect={() => setSelected(x.id)} />
            )}
          />
        )}
      </div>
      {sel && (
        <section class="detail" data-testid="socket-detail">
          <div class="toolbar">
            <h3>
              {labelOf(sel.id).name} <span class="mono muted">{sel.id}</span>
            </h3>
            <button onClick={() => showInLog({ socket: sel.id })} data-testid="socket-show-log">
              Show in log
            </button>
            <button onClick={() => injectTo({ to: 'socket', id: sel.id })} data-testid="socket-emit">
              Emit to it…
            </button>
            <button class="danger" onClick={() => disconnect(sel.id)} data-testid="socket-disconnect">
              Disconnect
            </button>
          </div>
          <dl class="props">
            <dt>page</dt>
            <dd>
              {labelOf(sel.id).page ? (
                <>
                  {labelOf(sel.id).page?.title ?? ''} <span class="mono">{labelOf(sel.id).page?.url ?? ''}</span>
                </>
              ) : (
                <span class="muted">not sent (backbone.realtime sends auth.page with socket.io-client 3 and later)</span>
              )}
            </dd>
            <dt>connected</dt>
            <dd>{new Date(sel.connected_at_us / 1000).toLocaleString()}</dd>
            <dt>origin</dt>
            <dd>{sel.http_origin ?? '—'}</dd>
            <dt>user agent</dt>
            <dd>{sel.user_agent ?? '—'}</dd>
            <dt>client</dt>
            <dd data-testid="socket-detail-client">
              {sel.client ? `${sel.client} (${sel.reconnects} reconnect${sel.reconnects === 1 ? '' : 's'} before this socket)` : 'none named (auth.client)'}
            </dd>
            <dt>channels</dt>
            <dd>{sel.channels.join(', ') || 'none'}</dd>
            <dt>auth</dt>
            <dd>
              <JsonTree value={sel.auth} />
            </dd>
          </dl>
        </section>
      )}
      {flash}
    </div>
  );
}

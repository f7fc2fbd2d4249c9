import type { JSX } from 'preact';
import type { JsonValue } from '../bindings/serde_json/JsonValue';
import { useState } from 'preact/hooks';
import { Empty } from '../components';
import { injectTo, showInLog } from '../nav';
import { labelOf, pageText } from '../labels';
import { channelKey, fmtAgo, fmtTime, modelOf, modelText, queryText, shortJson, shortUrl } from '../records';
import { useStore } from '../store';

export function ChannelsPanel(): JSX.Element {
  const s = useStore();
  const [selected, setSelected] = useState<string | null>(null);
  const key = (c: { url: string; query: JsonValue | null }) => channelKey(c.url, c.query);
  const sel = s.channels.find((c) => key(c) === selected) ?? s.channels[0] ?? null;
  const changes = sel ? (s.changes.get(key(sel)) ?? []) : [];
  return (
    <div class="split-h">
      <div class="pane">
        <div class="toolbar">
          <h2>Channels</h2>
          <span class="muted">{s.channels.length} channels</span>
        </div>
        {s.channels.length === 0 ? (
          <Empty>No channel yet: a client joins one with subscribe {'{url}'} (realtime: true on a collection).</Empty>
        ) : (
          <div class="table">
            <div class="row head chan-row">
              <span>url</span>
              <span>subscribers</span>
              <span>changes</span>
              <span>last change</span>
            </div>
            {s.channels.map((c) => (
              <div
                key={key(c)}
                class={`row chan-row ${sel && key(sel) === key(c) ? 'selected' : ''}`}
                onClick={() => setSelected(key(c))}
                data-testid="channel-row"
                data-channel={key(c)}
              >
                <span class="mono">
                  {c.url}
                  {c.query && (
                    <span class="muted" data-testid="channel-query" title="live query: this channel hears only what concerns its result">
                      {' ? '}
                      {queryText(c.query)}
                    </span>
                  )}
                </span>
                <span>{c.members.length}</span>
                <span>{c.changes}</span>
                <span class="muted">{fmtAgo(c.last_change_at_us)}</span>
              </div>
            ))}
          </div>
        )}
      </div>
      {sel && (
        <section class="pane detail" data-testid="channel-detail">
          <div class="toolbar">
            <h3 class="mono">
              {sel.url}
              {sel.query && <span class="muted"> ? {queryText(sel.query)}</span>}
            </h3>
            <button onClick={() => showInLog({ channel: sel.url })}>Show in log</button>
            {/* Inject addresses plain channels; a query's pushes are the server's to compute. */}
            {!sel.query && <button onClick={() => injectTo({ to: 'channel', url: sel.url })}>Push to channel…</button>}
          </div>
          <h4>Subscribers ({sel.members.length})</h4>
          <ul class="plain mono" data-testid="channel-members">
            {sel.members.map((m) => (
              <li key={m}>
                <a
                  href="#/log"
                  onClick={(e) => {
                    e.preventDefault();
                    showInLog({ socket: m });
                  }}
                >
                  <b>{labelOf(m).name}</b>
                </a>{' '}
                <span class="muted">
                  {pageText(labelOf(m).page)} {m}
                </span>
              </li>
            ))}
            {sel.members.length === 0 && <li class="muted">none</li>}
          </ul>
          <h4>Recent changes</h4>
          <div class="table" data-testid="channel-changes">
            {changes.length === 0 && <div class="muted pad">No change seen since this window opened.</div>}
            {[...changes].reverse().map((r) => {
              const c = r.kind === 'push_out' ? r.args[0] : null;
              const op = c && typeof c === 'object' && !Array.isArray(c) ? String(c.op ?? '') : '';
              return (
                <div key={r.seq} class="row change-row">
                  <span class="muted mono">{fmtTime(r.at_us)}</span>
                  <span class={`tag tag-${op}`}>{op}</span>
                  <span class="mono" title={r.url ?? ''}>
                    <b data-testid="change-model">{modelText(modelOf(r)) || shortUrl(r.url ?? '', 24)}</b>
                  </span>
                  <span class="mono ellipsis">{shortJson(c && typeof c === 'object' && !Array.isArray(c) ? c.data : c, 200)}</span>
                </div>
              );
            })}
          </div>
        </section>
      )}
    </div>
  );
}

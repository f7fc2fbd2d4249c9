import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { filterQuery, get } from '../api';
import type { EventsPage } from '../bindings/EventsPage';
import type { Filter } from '../bindings/Filter';
import type { SessionInfo } from '../bindings/SessionInfo';
import { Diff, Empty, JsonTree, VirtualList } from '../components';
import { LogModel } from '../log';
import { labelOf, pageText, remember, socketLine } from '../labels';
import { diff, fmtLatency, fmtTime, isError, KINDS, modelOf, modelText, receivedBy, shortUrl, snapshotOf, summary, type Rec } from '../records';
import { store, useStore } from '../store';

const ROW = 24;
const KIND_LABEL: Record<string, string> = {
  event_in: 'request',
  ack_out: 'ack',
  push_out: 'push',
  protocol_error: 'protocol error',
  fault: 'fault',
  refused: 'refused',
  fault_rules: 'rules',
};

function Row({ r, log, selected, onSelect }: { r: Rec; log: LogModel; selected: boolean; onSelect: () => void }): JSX.Element {
  const ack = r.kind === 'event_in' ? log.acks.get(r.seq) : undefined;
  const fault = r.kind === 'event_in' ? log.faults.get(r.seq) : undefined;
  const err = isError(r) || (ack?.kind === 'ack_out' && ack.error !== null);
  // Filtered to one socket, a push it received (caused by another) shows as its own.
  const only = log.filter.socket;
  const received = only && r.socket !== only && receivedBy(r, only) ? only : null;
  const model = r.kind === 'event_in' || r.kind === 'push_out' || r.kind === 'ack_out' ? modelOf(r) : null;
  const caused = r.kind === 'event_in' ? log.caused.get(r.seq) : undefined;
  const cls = ['row', 'log-row', `k-${r.kind}`, `o-${r.origin}`, err ? 'error' : '', selected ? 'selected' : '']
    .filter(Boolean)
    .join(' ');
  let result: JSX.Element | null = null;
  if (r.kind === 'event_in') {
    if (ack?.kind === 'ack_out' && ack.fault != null && ack.error === null) {
      // Delayed or stalled by a rule, then answered by the server.
      result = (
        <span class="res ok" data-testid="ack-result" title={`answered late: held by fault rule #${ack.fault}`}>
          ok · {fmtLatency(ack.latency_us)} <span class="res fault">· held by fault #{ack.fault}</span>
        </span>
      );
    } else if (ack?.kind === 'ack_out' && ack.fault != null) {
      // Made up by a rule: say so first, short enough to fit the column.
      result = (
        <span class="res fault" data-testid="ack-result" title={`error ${ack.error ?? ''} injected by fault rule #${ack.fault}`}>
          {ack.error} · fault #{ack.fault}
        </span>
      );
    } else if (ack?.kind === 'ack_out') {
      result = (
        <span class={ack.error ? 'res err' : 'res ok'} data-testid="ack-result">
          {ack.error ?? 'ok'} · {fmtLatency(ack.latency_us)}
        </span>
      );
    } else if (fault?.kind === 'fault' && (fault.action === 'drop' || fault.action === 'disconnect' || fault.action === 'cut')) {
      result = (
        <span class="res fault" data-testid="ack-result">
          {fault.action === 'drop' ? 'dropped' : 'cut off'} by fault #{fault.rule}
        </span>
      );
    } else if (fault?.kind === 'fault' && fault.action === 'stall') {
      result = (
        <span class="res fault" data-testid="ack-result">
          stalled by fault #{fault.rule}
        </span>
      );
    } else if (r.ack_id !== null) {
      result = <span class="res pending">waiting…</span>;
    }
    if (fault?.kind === 'fault' && ack?.kind === 'ack_out' && ack.fault == null) {
      result = (
        <>
          {result} <span class="res fault">· fault #{fault.rule}</span>
        </>
      );
    }
  } else if (r.kind === 'ack_out') {
    result =
      r.fault != null ? (
        <span class="res fault">
          {r.error} · fault #{r.fault}
        </span>
      ) : (
        <span class={r.error ? 'res err' : 'res ok'}>
          {r.error ?? 'ok'} · {fmtLatency(r.latency_us)}
        </span>
      );
  }
  return (
    <div class={cls} onClick={onSelect} data-testid="log-row" data-kind={r.kind} data-seq={r.seq} data-fault={fault?.kind === 'fault' ? fault.rule : undefined}>
      <span class="c-seq mono">{r.seq}</span>
      <span class="c-time mono">{fmtTime(r.at_us)}</span>
      {received ? (
        <span class="c-sock received" data-socket={received} title={`received by ${socketLine(received)}; sent because of ${r.socket ? socketLine(r.socket) : 'the inspector'}`} data-testid="received">
          → {labelOf(received).name}
        </span>
      ) : (
        <span class="c-sock" title={r.socket ? socketLine(r.socket) : ''} data-testid="row-socket" data-socket={r.socket ?? undefined}>
          {r.socket ? labelOf(r.socket).name : '—'}
        </span>
      )}
      <span class={`c-kind tag kind-${r.kind}`}>{KIND_LABEL[r.kind] ?? r.kind}</span>
      <span class="c-event mono">
        {r.origin !== 'client' && r.origin !== 'server' && <span class={`tag origin-${r.origin}`}>{r.origin}</span>}
        {r.kind === 'ack_out'
          ? `↳ ${r.event}`
          : r.kind === 'event_in' || r.kind === 'push_out' || r.kind === 'fault'
            ? r.event
            : r.kind === 'refused'
              ? r.reason
              : ''}
      </span>
      <span class="c-url mono" title={r.url ?? ''}>
        {r.url ? shortUrl(r.url) : ''}
      </span>
      <span class="c-res">{result}</span>
      <span class="c-sum mono">
        {model && (
          <>
            <b class="model" data-testid="row-model">
              {modelText(model)}
            </b>{' '}
          </>
        )}
        {caused ? (
          <>
            <span class="link-tag" title={`caused push${caused.length === 1 ? '' : 'es'} ${caused.map((x) => `#${x.seq}`).join(', ')}`}>
              → {caused.length} push{caused.length === 1 ? '' : 'es'}
            </span>{' '}
          </>
        ) : null}
        {r.kind === 'push_out' && r.cause != null ? (
          <>
            <span class="link-tag" title={`sent because of request #${r.cause}`}>
              ← #{r.cause}
            </span>{' '}
          </>
        ) : null}
        {summary(r)}
      </span>
    </div>
  );
}

function Detail({ r, log, onJump }: { r: Rec; log: LogModel; onJump: (seq: number) => void }): JSX.Element {
  const partner = log.partner(r);
  const request = r.kind === 'event_in' ? r : partner?.kind === 'event_in' ? partner : undefined;
  // For an update (or patch), the model before it: the latest version seen before the request.
  let diffView: JSX.Element | null = null;
  const answer = r.kind === 'ack_out' ? r : partner?.kind === 'ack_out' ? partner : undefined;
  if (request && answer?.error) {
    // A refused write changed nothing: a diff would show it as if it had been applied.
    diffView = (
      <section data-testid="detail-not-applied">
        <h4>Not applied</h4>
        <div class="muted">
          The server answered <code>{answer.error}</code>
          {answer.fault != null ? <> — made up by fault rule #{answer.fault}, not a real error</> : null}; the stored model did not change.
        </div>
      </section>
    );
  } else if (request && (request.event === 'update' || request.event === 'patch' || request.event.endsWith(':update'))) {
    const after = snapshotOf(request);
    if (after) {
      const prev = log.previous(request.seq, (x) => x.kind !== 'event_in' && snapshotOf(x)?.modelUrl === after.modelUrl);
      const before = prev ? snapshotOf(prev) : null;
      const merged = request.event === 'patch' && before ? { ...before.data, ...after.data } : after.data;
      diffView = (
        <section>
          <h4>
            Diff against the previous version {before?.version != null ? `(v${before.version})` : ''}
            {prev && (
              <a href="#/log" class="small" onClick={(e) => { e.preventDefault(); onJump(prev.seq); }}>
                {' '}#{prev.seq}
              </a>
            )}
          </h4>
          {before ? (
            <Diff lines={diff(before.data, merged)} />
          ) : (
            <div class="muted">No earlier version of {after.modelUrl} in this log.</div>
          )}
        </section>
      );
    }
  }
  return (
    <aside class="log-detail" data-testid="log-detail">
      <div class="toolbar">
        <h3>
          #{r.seq} {KIND_LABEL[r.kind] ?? r.kind}
        </h3>
        {partner && (
          <button onClick={() => onJump(partner.seq)} data-testid="detail-partner">
            {partner.kind === 'ack_out' ? `Its ack #${partner.seq}` : `Its request #${partner.seq}`}
          </button>
        )}
      </div>
      {partner?.kind === 'ack_out' && (
        <div class={`pair ${partner.error ? 'err' : 'ok'}`} data-testid="detail-ack">
          ack {partner.error ? `error ${partner.error}` : 'ok'} after {fmtLatency(partner.latency_us)}
          {partner.dialect ? ` · ${partner.dialect}` : ''}
          {partner.fault != null ? ` · injected by fault rule #${partner.fault}` : ''}
        </div>
      )}
      {diffView}
      {request && (log.caused.get(request.seq)?.length ?? 0) > 0 && (
        <section data-testid="detail-caused">
          <h4>Pushes its write caused</h4>
          <ul class="plain links">
            {(log.caused.get(request.seq) ?? []).map((p) => (
              <li key={p.seq}>
                <a href="#/log" onClick={(e) => { e.preventDefault(); onJump(p.seq); }} data-testid="detail-caused-push">
                  #{p.seq} {p.kind === 'push_out' ? p.event : ''}
                </a>{' '}
                <span class="muted">{p.kind === 'push_out' ? `→ ${p.recipients ? p.to.map((id) => labelOf(id).name).join(', ') || `${p.recipients} sockets` : 'nobody'}` : ''}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {r.kind === 'push_out' && r.cause != null && (
        <section data-testid="detail-cause">
          <h4>Caused by</h4>
          <a href="#/log" onClick={(e) => { e.preventDefault(); if (r.cause != null) onJump(r.cause); }} data-testid="detail-cause-link">
            request #{r.cause}
          </a>{' '}
          <span class="muted">
            {(() => {
              const q = log.bySeq(r.cause);
              if (q?.kind !== 'event_in') return r.socket ? `from ${labelOf(r.socket).name}` : '';
              return `${q.event}${q.url ? ` ${q.url}` : ''} from ${q.socket ? labelOf(q.socket).name : 'the inspector'}`;
            })()}
          </span>
        </section>
      )}
      {r.kind === 'push_out' && r.cause == null && r.origin !== 'server' && (
        <section>
          <h4>Caused by</h4>
          <span class="muted">{r.origin === 'inspector' ? 'the inspector (an emit or a write from the Data panel)' : r.origin === 'replay' ? 'a live replay' : 'no request recorded'}</span>
        </section>
      )}
      {r.kind === 'push_out' && (
        <section data-testid="detail-recipients">
          <h4>
            Received by {r.recipients} socket{r.recipients === 1 ? '' : 's'}
          </h4>
          {r.to.length ? (
            <ul class="recipients mono">
              {r.to.map((id) => (
                <li key={id}>
                  <b>{labelOf(id).name}</b> {pageText(labelOf(id).page)} <span class="muted">{id}</span>
                </li>
              ))}
              {r.recipients > r.to.length && <li class="muted">… and {r.recipients - r.to.length} more</li>}
            </ul>
          ) : (
            <div class="muted">{r.recipients ? 'Their ids were not recorded (an older record).' : 'Nobody was listening.'}</div>
          )}
        </section>
      )}
      <section>
        <h4>Record</h4>
        <JsonTree value={r as unknown as import('../bindings/serde_json/JsonValue').JsonValue} />
      </section>
      {partner && (
        <section>
          <h4>{partner.kind === 'ack_out' ? 'Ack' : 'Request'}</h4>
          <JsonTree value={partner as unknown as import('../bindings/serde_json/JsonValue').JsonValue} />
        </section>
      )}
    </aside>
  );
}

function FilterBar({ filter, onChange, known }: { filter: Filter; onChange: (f: Filter) => void; known?: Iterable<string> }): JSX.Element {
  const s = useStore();
  const [text, setText] = useState(filter.text ?? '');
  const [event, setEvent] = useState(filter.event ?? '');
  useEffect(() => setText(filter.text ?? ''), [filter.text]);
  useEffect(() => setEvent(filter.event ?? ''), [filter.event]);
  const timer = useRef(0);
  // The filter as last changed here: two changes before the next render both count.
  // Taken from the prop during render, not in an effect: a late effect would undo a
  // change made in between.
  const latest = useRef(filter);
  const given = useRef(filter);
  if (given.current !== filter) {
    given.current = filter;
    latest.current = filter;
  }
  const change = (k: keyof Filter, v: unknown) => {
    const f: Filter = { ...latest.current, [k]: v === '' || v === false ? undefined : v };
    latest.current = f;
    return f;
  };
  const later = (k: keyof Filter, v: unknown) => {
    const f = change(k, v);
    clearTimeout(timer.current);
    timer.current = window.setTimeout(() => onChange(f), 250);
  };
  const set = (k: keyof Filter, v: unknown) => onChange(change(k, v));
  const live = new Set(s.sockets.map((x) => x.id));
  // Live sockets first, then those that left (still selectable: their history stays).
  const sockets = new Set([...live, ...(known ?? [])]);
  if (filter.socket) sockets.add(filter.socket);
  const channels = new Set(s.channels.map((c) => c.url));
  if (filter.channel) channels.add(filter.channel);
  return (
    <div class="filters" data-testid="log-filters">
      <select value={filter.socket ?? ''} onChange={(e) => set('socket', e.currentTarget.value)} data-testid="filter-socket" title="Socket">
        <option value="">all sockets</option>
        {[...sockets].map((id) => (
          <option key={id} value={id}>
            {socketLine(id)}
            {live.has(id) ? '' : ' (gone)'}
          </option>
        ))}
      </select>
      <select value={filter.channel ?? ''} onChange={(e) => set('channel', e.currentTarget.value)} data-testid="filter-channel" title="Channel">
        <option value="">all channels</option>
        {[...channels].map((u) => (
          <option key={u} value={u}>
            {u}
          </option>
        ))}
      </select>
      <select
        value={filter.kinds?.[0] ?? ''}
        onChange={(e) => set('kinds', e.currentTarget.value ? [e.currentTarget.value] : '')}
        data-testid="filter-kind"
        title="Kind"
      >
        <option value="">all kinds</option>
        {KINDS.map((k) => (
          <option key={k} value={k}>
            {KIND_LABEL[k] ?? k}
          </option>
        ))}
      </select>
      <input
        placeholder="event"
        value={event}
        size={10}
        onInput={(e) => {
          setEvent(e.currentTarget.value);
          later('event', e.currentTarget.value);
        }}
        data-testid="filter-event"
      />
      <input
        type="search"
        placeholder="text in payload"
        value={text}
        onInput={(e) => {
          setText(e.currentTarget.value);
          later('text', e.currentTarget.value);
        }}
        data-testid="filter-text"
      />
      <label class="check">
        <input type="checkbox" checked={!!filter.errors_only} onChange={(e) => set('errors_only', e.currentTarget.checked)} data-testid="filter-errors" />
        errors only
      </label>
      <select
        value={filter.injected == null ? '' : String(filter.injected)}
        onChange={(e) => {
          // Not through `set`: false (real only) is a value here, not "no filter".
          const v = e.currentTarget.value;
          const f: Filter = { ...latest.current, injected: v === '' ? undefined : v === 'true' };
          latest.current = f;
          onChange(f);
        }}
        data-testid="filter-injected"
        title="Injected by a fault rule, or real"
      >
        <option value="">injected and real</option>
        <option value="true">injected only</option>
        <option value="false">real only</option>
      </select>
      {(filter.from_us != null || filter.to_us != null) && (
        <span class="chip" data-testid="filter-range" title="A range picked on a Stats chart">
          {filter.from_us != null ? fmtTime(filter.from_us) : '…'} – {filter.to_us != null ? fmtTime(filter.to_us) : '…'}
          <button
            class="link"
            aria-label="Clear the time range"
            onClick={() => {
              const f: Filter = { ...latest.current, from_us: undefined, to_us: undefined };
              latest.current = f;
              onChange(f);
            }}
          >
            ×
          </button>
        </span>
      )}
      <button
        class="link"
        onClick={() => {
          latest.current = {};
          onChange({});
        }} disabled={Object.values(filter).every((v) => v === undefined)}>
        clear filters
      </button>
    </div>
  );
}

/** Rows and detail over one LogModel. */
function LogView({
  log,
  follow,
  onNearEnd,
  onNearStart,
  footer,
}: {
  log: LogModel;
  follow: boolean;
  onNearEnd?: () => void;
  onNearStart?: () => void;
  footer?: JSX.Element;
}): JSX.Element {
  const [selected, setSelected] = useState<number | null>(null);
  const [jumpTo, setJumpTo] = useState<number | null>(null);
  const sel = selected === null ? undefined : (log.rows.find((x) => x.seq === selected) ?? log.all.find((x) => x.seq === selected));
  const rowsBox = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (jumpTo === null) return;
    const i = log.rows.findIndex((x) => x.seq === jumpTo);
    const list = rowsBox.current?.querySelector('.vlist');
    if (i >= 0 && list) list.scrollTop = Math.max(0, i * ROW - list.clientHeight / 2);
    setJumpTo(null);
  }, [jumpTo, log]);
  return (
    <div class="log-body">
      <div class="log-rows" ref={rowsBox}>
        <div class="row head log-row">
          <span class="c-seq">seq</span>
          <span class="c-time">time</span>
          <span class="c-sock">socket</span>
          <span class="c-kind">kind</span>
          <span class="c-event">event</span>
          <span class="c-url">url</span>
          <span class="c-res">ack · latency</span>
          <span class="c-sum">payload</span>
        </div>
        {log.rows.length === 0 ? (
          <Empty>No record matches yet.</Empty>
        ) : (
          <VirtualList
            items={log.rows}
            version={log.version}
            rowHeight={ROW}
            follow={follow && selected === null}
            onNearEnd={onNearEnd}
            onNearStart={onNearStart}
            testId="log-list"
            render={(r) => <Row r={r} log={log} selected={r.seq === selected} onSelect={() => setSelected(r.seq)} />}
          />
        )}
        {footer}
      </div>
      {sel ? (
        <Detail
          r={sel}
          log={log}
          onJump={(seq) => {
            setSelected(seq);
            setJumpTo(seq);
          }}
        />
      ) : (
        <aside class="log-detail muted pad">Select a row to see the record, its ack and, for updates, a diff.</aside>
      )}
    </div>
  );
}

function LiveLog(): JSX.Element {
  const s = useStore();
  const log = s.log;
  return (
    <>
      <div class="toolbar">
        <button onClick={() => s.setPaused(!s.paused)} class={s.paused ? 'primary' : ''} data-testid="log-pause">
          {s.paused ? `Resume (${s.pending.length.toLocaleString()} new)` : 'Pause'}
        </button>
        <button
          onClick={() => {
            log.clear();
            s.notify();
          }}
        >
          Clear
        </button>
        <span class="muted" data-testid="log-count">
          {log.rows.length.toLocaleString()} rows · {log.all.length.toLocaleString()} kept
          {log.dropped ? ` · ${log.dropped.toLocaleString()} older ones in the session (Sessions → open)` : ''}
        </span>
      </div>
      <FilterBar
        filter={log.filter}
        known={[...s.known.keys(), ...log.sockets]}
        onChange={(f) => {
          log.setFilter(f);
          s.notify();
        }}
      />
      {s.conn === 'closed' || (s.conn === 'connecting' && s.stats) ? (
        <div class="log-notice warn" data-testid="log-disconnected">
          Server unreachable (stopped or restarting) — retrying every second; the log resumes when it is back.
        </div>
      ) : s.restarted ? (
        <div class="log-notice" data-testid="log-restarted">
          Server restarted at {fmtTime(s.restarted.at_us)} — this log now shows the new launch
          {s.restarted.session !== null ? ` (session #${s.restarted.session})` : ''}.
        </div>
      ) : s.stats && !s.stats.recording ? (
        <div class="log-notice" data-testid="log-not-recording">
          Nothing is being recorded: this log shows what happens while the window is open, and
          what clients did before it opened was not kept. Start a recording in Sessions to keep it.
        </div>
      ) : null}
      <LogView log={log} follow={!s.paused} />
    </>
  );
}

/** Pages of a session kept at once: what the log holds is bounded, wherever the user scrolls. */
const WINDOW_PAGES = 5;
const PAGE = 1000;

/**
 * A recorded session paged from the database both ways, as far as the user scrolls:
 * a window of at most WINDOW_PAGES pages, extended at the end scrolled towards and
 * trimmed at the other, with the row in view kept in place.
 */
function SessionLog({ session }: { session: number }): JSX.Element {
  const log = useMemo(() => new LogModel(Infinity, false), [session]);
  const [filter, setFilter] = useState<Filter>({});
  const [, setN] = useState(0);
  const state = useRef({
    pages: [] as Rec[][],
    /** `before` of the page above the window; null at the start of the session. */
    prev: null as number | null,
    /** `after` of the page below the window; null at its end so far. */
    next: 0 as number | null,
    total: null as number | null,
    loading: false,
    gen: 0,
    /** Where to scroll once the rows are rendered: this seq's row, so many px from the top. */
    anchor: null as { seq: number; px: number } | null,
  });
  const box = useRef<HTMLDivElement>(null);
  const [jump, setJump] = useState('');
  // Every socket of the session (its connect records), for the socket filter.
  const [sockets, setSockets] = useState<string[]>([]);
  useEffect(() => {
    get<EventsPage>('events', { session, kinds: 'connect', limit: 1000 }).then(
      (page) => {
        const ids: string[] = [];
        for (const r of page.records) {
          if (r.kind !== 'connect' || !r.socket) continue;
          remember(r.socket, r.auth);
          ids.push(r.socket);
        }
        setSockets(ids);
      },
      () => setSockets([]),
    );
  }, [session]);
  const list = () => box.current?.querySelector<HTMLDivElement>('.vlist') ?? null;

  /** The row at the top of the view and how far it is scrolled past. */
  const topRow = (): { seq: number; px: number } | null => {
    const el = list();
    if (!el || !log.rows.length) return null;
    const i = Math.min(log.rows.length - 1, Math.floor(el.scrollTop / ROW));
    return { seq: log.rows[i].seq, px: i * ROW - el.scrollTop };
  };

  const rebuild = (anchor: { seq: number; px: number } | null) => {
    const st = state.current;
    log.clear();
    log.add(st.pages.flat());
    st.anchor = anchor;
    setN((n) => n + 1);
  };

  const fetchPage = (q: { after?: number; before?: number }, total = false) =>
    get<EventsPage>('events', { session, ...q, limit: PAGE, ...(total ? { total: true } : {}), ...filterQuery(filter) });

  /** Starts over with the records from seq `from` (and the page before them). */
  const reset = async (from: number) => {
    const st = state.current;
    const gen = ++st.gen;
    st.loading = true;
    st.pages = [];
    st.prev = null;
    st.next = null;
    try {
      const page = await fetchPage({ after: Math.max(0, from - 1) }, true);
      if (gen !== st.gen) return;
      const before = page.prev !== null ? await fetchPage({ before: page.prev }) : null;
      if (gen !== st.gen) return;
      st.total = page.total;
      st.pages = [...(before && before.records.length ? [before.records] : []), ...(page.records.length ? [page.records] : [])];
      st.prev = before ? before.prev : null;
      st.next = page.next;
      const target = page.records[0] ?? before?.records[before.records.length - 1];
      rebuild(target ? { seq: target.seq, px: 0 } : null);
    } finally {
      if (gen === st.gen) st.loading = false;
    }
  };

  const extend = async (down: boolean) => {
    const st = state.current;
    const cursor = down ? st.next : st.prev;
    if (st.loading || cursor === null) return;
    st.loading = true;
    const gen = st.gen;
    try {
      const page = await fetchPage(down ? { after: cursor } : { before: cursor });
      if (gen !== st.gen) return;
      const anchor = topRow();
      if (down) {
        if (page.records.length) st.pages.push(page.records);
        st.next = page.next;
        if (st.pages.length > WINDOW_PAGES) {
          st.pages.shift();
          st.prev = st.pages[0][0].seq;
        }
      } else {
        if (page.records.length) st.pages.unshift(page.records);
        st.prev = page.prev;
        if (st.pages.length > WINDOW_PAGES) {
          const gone = st.pages.pop() ?? [];
          st.next = gone.length ? gone[0].seq - 1 : st.next;
        }
      }
      rebuild(anchor);
    } finally {
      if (gen === st.gen) st.loading = false;
    }
  };

  useEffect(() => {
    void reset(0);
  }, [session, filter]);

  // Once the rows of a new window are rendered, put the anchored row back where it was.
  useLayoutEffect(() => {
    const st = state.current;
    const el = list();
    if (!st.anchor || !el) return;
    const { seq, px } = st.anchor;
    st.anchor = null;
    let i = log.rows.findIndex((r) => r.seq >= seq);
    if (i < 0) i = log.rows.length - 1;
    el.scrollTop = Math.max(0, i * ROW - px);
  });

  const st = state.current;
  const done = st.next === null;
  const firstSeq = log.all.length ? log.all[0].seq : null;
  const lastSeq = log.all.length ? log.all[log.all.length - 1].seq : null;
  return (
    <>
      <div class="toolbar">
        <span class="muted" data-testid="session-log-count">
          {log.rows.length.toLocaleString()} rows loaded
          {firstSeq !== null ? ` (seq ${firstSeq}–${lastSeq})` : ''}
          {st.total !== null ? ` of ${st.total.toLocaleString()} records` : ''}
          {st.prev !== null ? ' · scroll up for earlier' : ''}
          {done ? ' · end of the session so far' : ' · scroll down for more'}
        </span>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            const n = Number(jump);
            if (Number.isFinite(n)) void reset(Math.max(0, n));
          }}
        >
          <input placeholder="jump to seq" value={jump} size={10} onInput={(e) => setJump(e.currentTarget.value)} data-testid="session-jump" />
          <button type="submit">Go</button>
        </form>
        <button onClick={() => void reset(0)}>From the start</button>
        {done && (
          <button
            onClick={() => {
              state.current.next = lastSeq ?? 0;
              void extend(true);
            }}
          >
            Load newer
          </button>
        )}
      </div>
      <FilterBar filter={filter} onChange={setFilter} known={sockets} />
      <div class="session-log" ref={box}>
        <LogView log={log} follow={false} onNearEnd={() => void extend(true)} onNearStart={() => void extend(false)} />
      </div>
    </>
  );
}

export function LogPanel(): JSX.Element {
  const [source, setSource] = useState<'live' | number>(() => store.openSession ?? 'live');
  const [sessions, setSessions] = useState<SessionInfo[]>([]);
  useEffect(() => {
    store.openSession = null;
    get<SessionInfo[]>('sessions').then(setSessions, () => setSessions([]));
  }, []);
  return (
    <div class="log-panel">
      <div class="toolbar">
        <h2>Event log</h2>
        <select
          value={String(source)}
          onChange={(e) => setSource(e.currentTarget.value === 'live' ? 'live' : Number(e.currentTarget.value))}
          data-testid="log-source"
        >
          <option value="live">Live tail</option>
          {[...sessions].reverse().map((x) => (
            <option key={x.id} value={x.id}>
              Session #{x.id}
              {x.name ? ` ${x.name}` : ''} ({x.recorded.toLocaleString()} records, from the db)
            </option>
          ))}
        </select>
      </div>
      {source === 'live' ? <LiveLog /> : <SessionLog key={source} session={source} />}
    </div>
  );
}

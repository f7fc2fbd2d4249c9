import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { readToken, setToken } from './api';
import { currentPanel, go, PANELS, type Panel } from './nav';
import { ChannelsPanel } from './panels/channels';
import { DataPanel } from './panels/data';
import { FaultsPanel } from './panels/faults';
import { InjectPanel } from './panels/inject';
import { LogPanel } from './panels/log';
import { SessionsPanel } from './panels/sessions';
import { SocketsPanel } from './panels/sockets';
import { StatsPanel } from './panels/stats';
import { store, useStore } from './store';

const TITLES: Record<Panel, string> = {
  sockets: 'Sockets',
  channels: 'Channels',
  log: 'Event log',
  inject: 'Inject',
  data: 'Data',
  sessions: 'Sessions',
  stats: 'Stats',
  faults: 'Faults',
};

function Badge({ panel }: { panel: Panel }): JSX.Element | null {
  const s = useStore();
  const n =
    panel === 'sockets'
      ? s.sockets.length
      : panel === 'channels'
        ? s.channels.length
        : panel === 'log'
          ? s.log.all.length + s.log.dropped
          : null;
  if (panel === 'faults') {
    // How many rules are on: a fault left on is the first thing to know about.
    const on = s.faults?.filter((r) => r.enabled).length ?? 0;
    return on ? <span class="count count-fault" title="Fault rules on" data-testid="faults-on">{on}</span> : null;
  }
  return n === null ? null : <span class="count">{n.toLocaleString()}</span>;
}

function TopBar(): JSX.Element {
  const s = useStore();
  const st = s.stats;
  const last = s.series[s.series.length - 1];
  const conn = {
    open: 'connected',
    connecting: 'connecting…',
    closed: 'disconnected — reconnecting…',
    unauthorized: 'wrong or missing token',
  }[s.conn];
  return (
    <header class="topbar">
      <div class="brand">
        <span class="logo" aria-hidden="true" />
        Syncscope
      </div>
      <div class={`conn conn-${s.conn}`} data-testid="connection">
        <i />
        {conn} <span class="muted">{window.location.host}</span>
      </div>
      <div class="topstats">
        <span title="Connected sockets">
          <b data-testid="stat-sockets">{st?.sockets ?? '—'}</b> sockets
        </span>
        <span title="Channels with members or changes">
          <b>{st?.channels ?? '—'}</b> channels
        </span>
        <span title="Records per second on the bus">
          <b>{last ? last.events.toLocaleString() : '—'}</b> events/s
        </span>
        <span title="Recording session">
          {st?.recording ? (
            <>
              <i class="rec-dot" /> recording #{st.recording.id}
              {st.recording.name ? ` ${st.recording.name}` : ''}
            </>
          ) : (
            <span class="muted">not recording</span>
          )}
        </span>
        {st && st.recorder_lost > 0 && (
          <span class="warn" title="Records the recorder dropped because it fell behind">
            {st.recorder_lost.toLocaleString()} lost
          </span>
        )}
        {s.missed > 0 && (
          <span class="warn" title="Live records this window read too slowly to get">
            {s.missed.toLocaleString()} missed
          </span>
        )}
      </div>
    </header>
  );
}

function NoToken(): JSX.Element {
  return (
    <div class="gate">
      <h1>Syncscope inspector</h1>
      <p>
        This page needs the server's control token. Open the address the server printed at start, or add{' '}
        <code>?token=…</code> with the line <code>Control token: …</code> from its output:
      </p>
      <pre>http://{window.location.host}/_syncscope/ui/?token=TOKEN</pre>
    </div>
  );
}

export function App(): JSX.Element {
  const [token] = useState(() => readToken());
  const [panel, setPanel] = useState<Panel>(currentPanel());
  const s = useStore();
  useEffect(() => {
    const on = () => setPanel(currentPanel());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  useEffect(() => {
    if (!token) return;
    setToken(token);
    store.start();
  }, [token]);
  if (!token || s.conn === 'unauthorized') return <NoToken />;
  const Body = {
    sockets: SocketsPanel,
    channels: ChannelsPanel,
    log: LogPanel,
    inject: InjectPanel,
    data: DataPanel,
    sessions: SessionsPanel,
    stats: StatsPanel,
    faults: FaultsPanel,
  }[panel];
  return (
    <div class="shell">
      <TopBar />
      <nav class="sidebar" aria-label="Panels">
        {PANELS.map((p) => (
          <a
            key={p}
            href={`#/${p}`}
            class={p === panel ? 'active' : ''}
            data-testid={`nav-${p}`}
            onClick={(e) => {
              e.preventDefault();
              go(p);
            }}
          >
            {TITLES[p]}
            <Badge panel={p} />
          </a>
        ))}
      </nav>
      <main class="panel" data-testid={`panel-${panel}`}>
        <Body />
      </main>
    </div>
  );
}

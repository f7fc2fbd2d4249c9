import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, request } from '../api';
import type { Latency } from '../bindings/Latency';
import type { SessionInfo } from '../bindings/SessionInfo';
import { useFlash } from '../components';
import { go } from '../nav';
import { fmtLatency } from '../records';
import { store, useStore } from '../store';
import { replayCommand, ReplayView } from './replay';

function fmtDate(us: number | null): string {
  return us ? new Date(us / 1000).toLocaleString() : '—';
}

/** Downloads the server's session file (versioned NDJSON, docs/CONTROL-API.md). */
async function exportSession(s: SessionInfo): Promise<void> {
  const res = await request(`sessions/${s.id}/export`);
  const blob = await res.blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `session-${s.id}${s.name ? `-${s.name.replace(/[^\w.-]+/g, '_')}` : ''}.session.ndjson`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

export function SessionsPanel(): JSX.Element {
  const s = useStore();
  const [list, setList] = useState<SessionInfo[]>([]);
  const [latency, setLatency] = useState<Record<number, Latency>>({});
  const [name, setName] = useState('');
  const [exporting, setExporting] = useState<number | null>(null);
  const [flash, say] = useFlash();
  const recording = s.stats?.recording ?? null;
  /** The session in the Replay view: the one chosen here, else the one the server has loaded. */
  const [replayId, setReplayId] = useState<number | null>(null);
  const [replayClosed, setReplayClosed] = useState(false);
  const shownId = replayId ?? (replayClosed ? null : (s.stats?.replay?.session ?? null));
  const replaying = list.find((x) => x.id === shownId) ?? null;

  const openReplay = async (x: SessionInfo) => {
    setReplayId(x.id);
    setReplayClosed(false);
    if (s.stats?.replay?.session === x.id) return;
    const error = await replayCommand({ command: 'replay_load', session: x.id, speed: s.stats?.replay?.speed ?? 1 });
    if (error) say('error', error);
  };

  const reload = async () => {
    try {
      const sessions = await get<SessionInfo[]>('sessions');
      setList(sessions);
      const lat: Record<number, Latency> = {};
      await Promise.all(
        sessions.slice(-20).map(async (x) => {
          lat[x.id] = await get<Latency>('latency', { session: x.id });
        }),
      );
      setLatency(lat);
    } catch (e) {
      say('error', (e as Error).message);
    }
  };
  useEffect(() => {
    void reload();
  }, [recording?.id]);

  const start = async (e: Event) => {
    e.preventDefault();
    const r = await store.control.command({ command: 'record_start', name: name || undefined });
    if (r.result === 'ok') say('ok', `Recording session #${(r.value as { id?: number }).id}.`);
    else say('error', r.message);
    setName('');
    await reload();
  };
  const stop = async () => {
    const r = await store.control.command({ command: 'record_stop' });
    if (r.result === 'ok') say('ok', 'Recording stopped.');
    else say('error', r.message);
    await reload();
  };

  const importFile = async (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    try {
      const res = await request('sessions/import', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-ndjson' },
        body: file,
      });
      const body = (await res.json()) as { session: number; records: number };
      say('ok', `Imported ${file.name} as session #${body.session} (${body.records.toLocaleString()} records).`);
    } catch (err) {
      say('error', `Import failed: ${(err as Error).message}`);
    }
    await reload();
  };

  return (
    <div class="form-panel wide">
      <div class="toolbar">
        <h2>Sessions</h2>
        {recording ? (
          <>
            <span class="rec" data-testid="recording">
              <i class="rec-dot" /> recording #{recording.id} {recording.name ?? ''}
            </span>
            <button onClick={() => void stop()} data-testid="record-stop">
              Stop
            </button>
          </>
        ) : (
          <span class="muted">not recording</span>
        )}
        <form class="inline" onSubmit={start}>
          <input placeholder="name (optional)" value={name} onInput={(e) => setName(e.currentTarget.value)} data-testid="record-name" />
          <button type="submit" class="primary" data-testid="record-start">
            {recording ? 'Cut a new session' : 'Record'}
          </button>
        </form>
        <label class="button" title="Import a session file (.session.ndjson)">
          Import…
          <input type="file" accept=".ndjson,application/x-ndjson" onChange={importFile} hidden data-testid="session-import" />
        </label>
      </div>
      <div class="table" data-testid="sessions-list">
        <div class="row head session-row">
          <span>#</span>
          <span>name</span>
          <span>started</span>
          <span>stopped</span>
          <span>records</span>
          <span>lost</span>
          <span>acks · p50 · p99</span>
          <span />
        </div>
        {[...list].reverse().map((x) => {
          const l = latency[x.id];
          return (
            <div key={x.id} class={`row session-row ${recording?.id === x.id ? 'live' : ''}`} data-testid="session-row" data-session={x.id}>
              <span>{x.id}</span>
              <span>{x.name ?? <span class="muted">—</span>}</span>
              <span>{fmtDate(x.started_at_us)}</span>
              <span>{recording?.id === x.id ? <span class="rec">recording</span> : fmtDate(x.stopped_at_us)}</span>
              <span>{x.recorded.toLocaleString()}</span>
              <span class={x.lost ? 'err' : 'muted'}>{x.lost.toLocaleString()}</span>
              <span>{l ? `${l.count.toLocaleString()} · ${fmtLatency(l.p50_us)} · ${fmtLatency(l.p99_us)}` : '—'}</span>
              <span class="actions">
                <button
                  onClick={() => {
                    store.openSession = x.id;
                    go('log');
                  }}
                  data-testid="session-open"
                >
                  Open in log
                </button>
                <button onClick={() => void openReplay(x)} data-testid="session-replay" title="Replay its pushes into the clients connected now">
                  Replay
                </button>
                <button
                  disabled={exporting !== null}
                  onClick={async () => {
                    setExporting(x.id);
                    try {
                      await exportSession(x);
                      say('ok', `Exported session #${x.id}.`);
                    } catch (e) {
                      say('error', (e as Error).message);
                    } finally {
                      setExporting(null);
                    }
                  }}
                  data-testid="session-export"
                >
                  {exporting === x.id ? 'Exporting…' : 'Export'}
                </button>
              </span>
            </div>
          );
        })}
      </div>
      {replaying && (
        <ReplayView
          session={replaying}
          onClose={() => {
            setReplayId(null);
            setReplayClosed(true);
          }}
        />
      )}
      <p class="muted small">
        Export downloads the session file (versioned NDJSON, what <code>syncscope replay FILE --check</code> plays); Import
        adds one as a new session. Replay re-sends a session's server pushes to the clients connected now (also{' '}
        <code>syncscope replay FILE --live</code>).
      </p>
      {flash}
    </div>
  );
}

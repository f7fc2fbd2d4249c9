// The Replay view of the Sessions panel: a stored session's server pushes re-emitted
// into the clients connected now (docs/REPLAY.md, Live replay), with the controls of a player
// and the session's pushes listed, the one sent last highlighted.
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../api';
import type { Command } from '../bindings/Command';
import type { EventsPage } from '../bindings/EventsPage';
import type { ReplayStatus } from '../bindings/ReplayStatus';
import type { SessionInfo } from '../bindings/SessionInfo';
import { useFlash } from '../components';
import { fmtTime, shortJson, targetText, type Rec } from '../records';
import { store, useStore } from '../store';

export const SPEEDS = [0.5, 1, 2, 5] as const;
/** The most pushes listed; the player itself replays them all. */
const LIST_MAX = 2000;

type Push = Extract<Rec, { kind: 'push_out' }>;

/** Runs a replay command; on success its status becomes the one every view shows. */
export async function replayCommand(command: Command): Promise<string | null> {
  const r = await store.control.command(command);
  if (r.result !== 'ok') return r.message;
  if (store.stats) store.stats = { ...store.stats, replay: r.value as unknown as ReplayStatus };
  store.notify();
  return null;
}

/** The pushes the player replays: the session's push_out records of the server and the inspector. */
async function loadPushes(session: number): Promise<Push[]> {
  const out: Push[] = [];
  let after = 0;
  for (;;) {
    const page = await get<EventsPage>('events', { session, after, kinds: 'push_out', limit: 1000 });
    for (const r of page.records) {
      if (r.kind === 'push_out' && (r.origin === 'server' || r.origin === 'inspector')) out.push(r);
    }
    if (page.next === null || page.records.length === 0 || out.length >= LIST_MAX) break;
    after = page.next;
  }
  return out.slice(0, LIST_MAX);
}

export function ReplayView({ session, onClose }: { session: SessionInfo; onClose: () => void }): JSX.Element {
  const s = useStore();
  const status = s.stats?.replay?.session === session.id ? s.stats.replay : null;
  const [pushes, setPushes] = useState<Push[] | null>(null);
  const [flash, say] = useFlash();
  const list = useRef<HTMLDivElement>(null);

  useEffect(() => {
    setPushes(null);
    loadPushes(session.id).then(setPushes, (e: Error) => say('error', e.message));
  }, [session.id]);

  // Keep the push sent last in view as the replay moves.
  useEffect(() => {
    const current = list.current?.querySelector('.current');
    current?.scrollIntoView({ block: 'nearest' });
  }, [status?.current_seq]);

  const run = async (command: Command) => {
    const error = await replayCommand(command);
    if (error) say('error', error);
  };
  const load = () => run({ command: 'replay_load', session: session.id, speed: status?.speed ?? 1 });

  const seekTo = (position: number) => void run({ command: 'replay_seek', position });
  const onBar = (e: MouseEvent) => {
    if (!status) return;
    const bar = e.currentTarget as HTMLElement;
    const rect = bar.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
    seekTo(Math.round(fraction * status.total));
  };

  const total = status?.total ?? pushes?.length ?? 0;
  const position = status?.position ?? 0;
  const state = status?.state ?? 'not loaded';
  const playing = status?.state === 'playing';
  const percent = total ? (100 * position) / total : 0;

  return (
    <section class="replay" data-testid="replay-view" data-session={session.id}>
      <div class="toolbar">
        <h3>
          Replay #{session.id} {session.name ?? ''}
        </h3>
        <span class={`replay-state state-${state.replace(' ', '-')}`} data-testid="replay-state">
          {state}
        </span>
        <button class="push-right" onClick={onClose} data-testid="replay-close">
          Close
        </button>
      </div>
      <div class="toolbar replay-controls">
        {status ? (
          <>
            {playing ? (
              <button onClick={() => void run({ command: 'replay_pause' })} data-testid="replay-pause">
                ❚❚ Pause
              </button>
            ) : (
              <button class="primary" onClick={() => void run({ command: 'replay_play' })} data-testid="replay-play">
                ▶ Play
              </button>
            )}
            <button onClick={() => void run({ command: 'replay_step' })} data-testid="replay-step" title="Send the next push and stay paused">
              Step
            </button>
            <button onClick={() => void run({ command: 'replay_stop' })} data-testid="replay-stop" title="Stop and go back to the start">
              ■ Stop
            </button>
          </>
        ) : (
          <button class="primary" onClick={() => void load()} data-testid="replay-load">
            Load for replay
          </button>
        )}
        <span class="segmented" role="group" aria-label="speed">
          {SPEEDS.map((x) => (
            <button
              key={x}
              class={status?.speed === x ? 'on' : ''}
              disabled={!status}
              onClick={() => void run({ command: 'replay_speed', speed: x })}
              data-testid={`replay-speed-${x}`}
            >
              {x}×
            </button>
          ))}
        </span>
        <span class="muted small">
          Pushes go to the clients connected now, on their channels, with the recorded gaps ÷ speed (at most 10 s each).
        </span>
      </div>
      <div class="replay-progress">
        <div class="bar" onClick={onBar} title="Click to seek" data-testid="replay-bar">
          <div class="fill" style={{ width: `${percent}%` }} />
        </div>
        <input
          type="range"
          min={0}
          max={total}
          value={position}
          disabled={!status}
          onChange={(e) => seekTo(Number(e.currentTarget.value))}
          aria-label="position"
          data-testid="replay-slider"
        />
        <span class="count" data-testid="replay-position">
          {position} / {total}
        </span>
      </div>
      <div class="table replay-list" ref={list} data-testid="replay-pushes">
        <div class="row head replay-row">
          <span>#</span>
          <span>seq</span>
          <span>at</span>
          <span>event</span>
          <span>to</span>
          <span>payload</span>
        </div>
        {pushes === null ? (
          <div class="muted small">Loading the session's pushes…</div>
        ) : pushes.length === 0 ? (
          <div class="muted small">This session has no server pushes to replay.</div>
        ) : (
          pushes.map((p, i) => {
            const current = status?.current_seq === p.seq;
            const sent = i < position;
            return (
              <div
                key={p.seq}
                class={`row replay-row ${current ? 'current selected' : ''} ${sent ? 'sent' : ''}`}
                data-testid="replay-push"
                data-seq={p.seq}
                data-current={current ? 'true' : undefined}
                onDblClick={() => seekTo(i)}
                title="Double-click to seek here"
              >
                <span>{i + 1}</span>
                <span>{p.seq}</span>
                <span>{fmtTime(p.at_us)}</span>
                <span>{p.event}</span>
                <span>{targetText(p.target)}</span>
                <span class="mono">{shortJson(p.args.length === 1 ? p.args[0] : p.args, 160)}</span>
              </div>
            );
          })
        )}
      </div>
      {flash}
    </section>
  );
}

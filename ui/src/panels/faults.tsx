import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { FaultRule } from '../bindings/FaultRule';
import type { FaultFile } from '../bindings/FaultFile';
import type { FaultSpec } from '../bindings/FaultSpec';
import { Empty, useFlash } from '../components';
import { request } from '../api';
import { CODES, DEFAULT_MESSAGE, EVENTS, isStallRule, parseEvents, stallSpec, specText, timesText, whenText } from '../faults';
import { actionText } from '../records';
import { store, useStore } from '../store';

type Action = FaultSpec['action'];

/** The actions offered, by what they act on: requests, change pushes, connections. */
const ACTIONS: [Action, string][] = [
  ['fail', 'fail'],
  ['delay', 'delay (latency)'],
  ['drop', 'drop (no answer)'],
  ['disconnect', 'disconnect'],
  ['cut', 'cut (lost network)'],
  ['stall', 'stall (hold)'],
  ['push_drop', 'drop push'],
  ['push_duplicate', 'duplicate push'],
  ['push_delay', 'delay push'],
  ['push_reorder', 'reorder push'],
  ['bandwidth', 'bandwidth'],
  ['slice', 'slice writes'],
];

function actionLayer(a: Action): 'request' | 'push' | 'connection' {
  if (a.startsWith('push_')) return 'push';
  return a === 'bandwidth' || a === 'slice' ? 'connection' : 'request';
}
type Times = 'once' | 'always' | 'n';

type Say = (kind: 'ok' | 'error', text: string) => void;

function RuleRow({ r, say, onEdit, editing }: { r: FaultRule; say: Say; onEdit: () => void; editing: boolean }): JSX.Element {
  const run = async (cmd: Parameters<typeof store.faultCommand>[0]) => {
    const res = await store.faultCommand(cmd);
    if (res.result === 'error') say('error', `${res.code}: ${res.message}`);
  };
  const spent = r.times != null && r.fired >= r.times;
  return (
    <tr class={`rule ${r.enabled ? 'on' : 'off'} act-${r.action}${editing ? ' selected' : ''}`} data-testid="fault-rule" data-rule={r.id}>
      <td>
        <input
          type="checkbox"
          class="switch"
          checked={r.enabled}
          onChange={(e) => void run({ command: 'fault_set', id: r.id, enabled: e.currentTarget.checked })}
          title={r.enabled ? 'On: switch off' : 'Off: switch on'}
          aria-label={`rule ${r.id} on`}
          data-testid="fault-toggle"
        />
      </td>
      <td class="mono muted">#{r.id}</td>
      <td class="mono" title={JSON.stringify(r.when)}>
        {whenText(r.when, r.action)}
      </td>
      <td class={`act act-${r.action}`}>{actionText(r)}</td>
      <td>
        {timesText(r.times)}
        {spent && <span class="muted"> · spent</span>}
        {r.toxicity != null && (
          <span class="muted" data-testid="fault-toxicity">
            {' '}
            · {Math.round(r.toxicity * 1000) / 10}% of matches{r.seed != null ? `, seed ${r.seed}` : ''}
          </span>
        )}
      </td>
      <td class="num" data-testid="fault-fired" title={`${r.matched ?? r.fired} matching request(s) while on`}>
        {r.fired}
      </td>
      <td>
        <button class="small-btn" onClick={onEdit} title="Change this rule in place" data-testid="fault-edit">
          Edit
        </button>{' '}
        <button class="danger small-btn" onClick={() => void run({ command: 'fault_remove', id: r.id })} title="Delete this rule" data-testid="fault-delete">
          Delete
        </button>
      </td>
    </tr>
  );
}

/** The add form, or with `editing` the editor of one rule (saved in place). */
function RuleForm({ say, editing, onDone }: { say: Say; editing: FaultRule | null; onDone: () => void }): JSX.Element {
  const s = useStore();
  const e0 = editing;
  const [action, setAction] = useState<Action>(e0?.action ?? 'fail');
  const c0 = e0?.action === 'fail' ? e0.code : 'conflict';
  const [code, setCode] = useState<string>((CODES as readonly string[]).includes(c0) ? c0 : 'other');
  const [otherCode, setOtherCode] = useState((CODES as readonly string[]).includes(c0) ? '' : c0);
  const [message, setMessage] = useState(e0?.action === 'fail' ? e0.message : DEFAULT_MESSAGE.conflict);
  const [ms, setMs] = useState(e0?.action === 'delay' ? e0.ms : 800);
  const [bytesPerSec, setBytesPerSec] = useState(e0?.action === 'bandwidth' ? e0.bytes_per_sec : 262144);
  const [sliceBytes, setSliceBytes] = useState(e0?.action === 'slice' ? e0.bytes : 64);
  const [delayMs, setDelayMs] = useState(e0?.action === 'slice' || e0?.action === 'push_delay' ? e0.delay_ms : 20);
  const [jitterMs, setJitterMs] = useState(e0?.action === 'push_delay' ? e0.jitter_ms : 0);
  const [socket, setSocket] = useState(e0?.when.socket ?? '');
  const [client, setClient] = useState(e0?.when.client ?? '');
  const [event, setEvent] = useState(e0?.when.event ?? e0?.when.events?.join(' or ') ?? '');
  const [url, setUrl] = useState(e0?.when.url ?? '');
  const [times, setTimes] = useState<Times>(e0 ? (e0.times == null ? 'always' : e0.times === 1 ? 'once' : 'n') : 'once');
  const [timesTouched, setTimesTouched] = useState(e0 !== null);
  const [n, setN] = useState(e0?.times != null && e0.times > 1 ? e0.times : 3);
  const [toxicity, setToxicity] = useState(e0?.toxicity != null ? Math.round(e0.toxicity * 1000) / 10 : 100);
  const [seed, setSeed] = useState(e0?.seed != null ? String(e0.seed) : '');

  const pickAction = (a: Action) => {
    setAction(a);
    // Latency and a held socket are usually meant to last; a failure or a cut, once
    // (a cut on every request would cut each reconnect as soon as it asks something).
    if (!timesTouched) setTimes(['fail', 'cut', 'push_drop', 'push_duplicate', 'push_reorder'].includes(a) ? 'once' : 'always');
  };
  const pickTimes = (t: Times) => {
    setTimes(t);
    setTimesTouched(true);
  };
  const pickCode = (c: string) => {
    // Keep a message the user wrote; swap one of ours for the new code's.
    if (Object.values(DEFAULT_MESSAGE).includes(message) || !message) setMessage(DEFAULT_MESSAGE[c] ?? '');
    setCode(c);
  };

  const theCode = code === 'other' ? otherCode.trim() : code;
  const seedValue = seed.trim() && /^\d+$/.test(seed.trim()) ? Number(seed.trim()) : null;
  // Push rules match a channel (the url), connection rules only a socket or client,
  // and act while on (no times, no toxicity).
  const layer = actionLayer(action);
  const base = {
    when: {
      ...(socket ? { socket } : {}),
      ...(client.trim() ? { client: client.trim() } : {}),
      ...(layer === 'request' ? parseEvents(event) : {}),
      ...(layer !== 'connection' && url.trim() ? { url: url.trim() } : {}),
    },
    ...(layer === 'connection' ? {} : times === 'once' ? { times: 1 } : times === 'n' ? { times: Math.max(1, Math.floor(n)) } : {}),
    ...(layer !== 'connection' && toxicity < 100 ? { toxicity: Math.max(0, Math.min(100, toxicity)) / 100 } : {}),
    ...(seedValue !== null ? { seed: seedValue } : {}),
  };
  const whole = (x: number, least = 0) => Math.max(least, Math.floor(x) || 0);
  const spec: FaultSpec | null =
    action === 'fail' ? (theCode ? { ...base, action, code: theCode, message } : null)
    : action === 'delay' ? { ...base, action, ms: whole(ms) }
    : action === 'bandwidth' ? { ...base, action, bytes_per_sec: whole(bytesPerSec, 1) }
    : action === 'slice' ? { ...base, action, bytes: whole(sliceBytes, 1), delay_ms: whole(delayMs) }
    : action === 'push_delay' ? { ...base, action, delay_ms: whole(delayMs), jitter_ms: whole(jitterMs) }
    : { ...base, action };
  const num = (label: string, value: number, set: (v: number) => void, id: string, unit: string) => (
    <label class="check">
      {label}
      <input type="number" min={0} value={value} onInput={(e) => set(Number(e.currentTarget.value))} class="ms" data-testid={id} />
      {unit}
    </label>
  );

  const add = async (e: Event) => {
    e.preventDefault();
    if (!spec) return;
    if (editing) {
      const r = await store.faultCommand({ command: 'fault_edit', id: editing.id, rule: spec, enabled: editing.enabled || editing.times != null });
      if (r.result === 'ok') {
        say('ok', `Rule #${editing.id} changed: ${specText(spec)}.`);
        onDone();
      } else say('error', `${r.code}: ${r.message}`);
      return;
    }
    const r = await store.faultCommand({ command: 'fault_add', rule: spec });
    if (r.result === 'ok') say('ok', `Rule #${(r.value as { id?: number })?.id ?? '?'} set: ${specText(spec)}.`);
    else say('error', `${r.code}: ${r.message}`);
  };

  return (
    <form class={`form fault-form${editing ? ' editing' : ''}`} onSubmit={add} data-testid="fault-form">
      <h3 data-testid="fault-form-title">{editing ? `Edit rule #${editing.id}` : 'Add a rule'}</h3>
      <fieldset>
        <legend>Action</legend>
        <div class="radios">
          {ACTIONS.map(([a, label]) => (
            <label key={a} class="check">
              <input type="radio" name="fault-action" checked={action === a} onChange={() => pickAction(a)} data-testid={`fault-action-${a}`} />
              {label}
            </label>
          ))}
        </div>
        {action === 'fail' && (
          <div class="grid2">
            <label>
              Error code
              <select value={code} onChange={(e) => pickCode(e.currentTarget.value)} data-testid="fault-code">
                {CODES.map((c) => (
                  <option key={c} value={c}>
                    {c}
                  </option>
                ))}
                <option value="other">other…</option>
              </select>
            </label>
            {code === 'other' ? (
              <label>
                Your code
                <input value={otherCode} onInput={(e) => setOtherCode(e.currentTarget.value)} placeholder="e.g. too_large" required data-testid="fault-code-other" />
              </label>
            ) : (
              <span />
            )}
            <label class="span2">
              Message
              <input value={message} onInput={(e) => setMessage(e.currentTarget.value)} data-testid="fault-message" />
            </label>
            <span class="hint span2">
              The client's ack gets <code>{`{code: "${theCode || '…'}", message}`}</code>
              {theCode === 'conflict' ? ', with the stored model as current, like a real conflict' : ''}; nothing is written.
            </span>
          </div>
        )}
        {action === 'delay' && (
          <div class="latency">
            <label class="grow">
              Latency
              <input type="range" min={0} max={5000} step={50} value={ms} onInput={(e) => setMs(Number(e.currentTarget.value))} data-testid="fault-latency" />
            </label>
            <label class="check">
              <input type="number" min={0} max={600000} step={50} value={ms} onInput={(e) => setMs(Number(e.currentTarget.value))} class="ms" data-testid="fault-latency-ms" />
              ms
            </label>
            <span class="hint">Each matching request waits this long, then is handled normally (later requests of that socket queue behind it).</span>
          </div>
        )}
        {action === 'drop' && <span class="hint">No ack at all: the client's ack timeout fires, if it set one. Nothing is written.</span>}
        {action === 'disconnect' && <span class="hint">The server closes the socket (io server disconnect); the client does not reconnect by itself.</span>}
        {action === 'cut' && (
          <span class="hint">The socket's connection ends as a lost network's would (transport close); the client reconnects by itself. The request is not handled.</span>
        )}
        {action === 'stall' && (
          <span class="hint">The request, and every later one of that socket, waits unanswered on the open connection while the rule is on; switched off, they are answered in order.</span>
        )}
        {action === 'bandwidth' && (
          <div class="latency">
            {num('', bytesPerSec, setBytesPerSec, 'fault-bytes-per-sec', 'bytes/s')}
            <span class="hint">While on, the matching sockets' connections write at most this many bytes a second (262144 = 256 KB/s): a slow network.</span>
          </div>
        )}
        {action === 'slice' && (
          <div class="latency">
            {num('', sliceBytes, setSliceBytes, 'fault-slice-bytes', 'bytes per write,')}
            {num('', delayMs, setDelayMs, 'fault-delay-ms', 'ms apart')}
            <span class="hint">While on, what the matching sockets' connections write goes out in TCP writes this small: frames arrive in pieces.</span>
          </div>
        )}
        {action === 'push_delay' && (
          <div class="latency">
            {num('', delayMs, setDelayMs, 'fault-delay-ms', 'ms')}
            {num('±', jitterMs, setJitterMs, 'fault-jitter-ms', 'ms jitter')}
            <span class="hint">Each matching change push waits this long (the jitter drawn from the seed); later pushes may overtake it.</span>
          </div>
        )}
        {action === 'push_drop' && <span class="hint">The change push is not sent to the matching sockets: the adapter sees a gap at the next push and resubscribes since its last change.</span>}
        {action === 'push_duplicate' && <span class="hint">The change push is sent twice: the adapter applies it once.</span>}
        {action === 'push_reorder' && <span class="hint">The change push is held and sent after the next push to that socket (or after 2 s).</span>}
      </fieldset>
      <fieldset>
        <legend>{{ request: 'Which requests', push: 'Which change pushes', connection: 'Whose connections' }[layer]} (empty: any)</legend>
        <div class="grid3">
          {layer === 'request' && (
            <label>
              Event
              <input list="fault-events" value={event} onInput={(e) => setEvent(e.currentTarget.value)} placeholder="any" data-testid="fault-event" />
            </label>
          )}
          {layer !== 'connection' && (
            <label>
              {layer === 'push' ? 'Channel' : 'Url prefix'}
              <input list="fault-urls" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="any, e.g. /todos" data-testid="fault-url" />
            </label>
          )}
          <label>
            Client
            <input list="fault-clients" value={client} onInput={(e) => setClient(e.currentTarget.value)} placeholder="any (auth.client)" data-testid="fault-client" />
          </label>
          <label>
            Socket
            <select value={socket} onChange={(e) => setSocket(e.currentTarget.value)} data-testid="fault-socket">
              <option value="">any socket</option>
              {socket && !s.sockets.some((x) => x.id === socket) && <option value={socket}>{socket} (gone)</option>}
              {s.sockets.slice(0, 500).map((x) => (
                <option key={x.id} value={x.id}>
                  {x.id} {x.user_agent ? `— ${x.user_agent.slice(0, 30)}` : ''}
                </option>
              ))}
            </select>
          </label>
        </div>
        <datalist id="fault-events">
          {EVENTS.map((e) => (
            <option key={e} value={e} />
          ))}
        </datalist>
        <datalist id="fault-clients">
          {[...new Set(s.sockets.map((x) => x.client).filter((c): c is string => !!c))].map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
        <datalist id="fault-urls">
          {s.channels.map((c) => (
            <option key={c.url} value={c.url} />
          ))}
        </datalist>
      </fieldset>
      {layer !== 'connection' && (
        <>
      <fieldset>
        <legend>How many times</legend>
        <div class="radios">
          <label class="check">
            <input type="radio" name="fault-times" checked={times === 'once'} onChange={() => pickTimes('once')} data-testid="fault-times-once" />
            {layer === 'push' ? 'next push only' : 'next request only'}
          </label>
          <label class="check">
            <input type="radio" name="fault-times" checked={times === 'always'} onChange={() => pickTimes('always')} data-testid="fault-times-always" />
            every time
          </label>
          <label class="check">
            <input type="radio" name="fault-times" checked={times === 'n'} onChange={() => pickTimes('n')} data-testid="fault-times-n" />
            <input type="number" min={1} value={n} onInput={(e) => { setN(Number(e.currentTarget.value)); pickTimes('n'); }} class="ms" data-testid="fault-times-count" />
            times
          </label>
        </div>
      </fieldset>
      <fieldset>
        <legend>Toxicity</legend>
        <div class="latency">
          <label class="check">
            <input type="number" min={0} max={100} step={1} value={toxicity} onInput={(e) => setToxicity(Number(e.currentTarget.value))} class="ms" data-testid="fault-toxicity-input" />% of matching requests
          </label>
          <label class="check">
            seed
            <input value={seed} onInput={(e) => setSeed(e.currentTarget.value)} placeholder={`server's (${s.stats?.fault_seed ?? '…'})`} class="seed" data-testid="fault-seed-input" />
          </label>
          <span class="hint">Drawn per matching request from a seeded generator: the same seed and requests give the same faults. Only affected requests count toward the times.</span>
        </div>
      </fieldset>
        </>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={!spec} data-testid="fault-add">
          {editing ? `Save rule #${editing.id}` : 'Add rule'}
        </button>
        {editing && (
          <button type="button" onClick={onDone} data-testid="fault-edit-cancel">
            Cancel
          </button>
        )}
        <span class="muted" data-testid="fault-preview">
          {spec ? specText(spec) : 'Give the error a code.'}
        </span>
      </div>
    </form>
  );
}

/** The countdown of an offline client: the server's seconds left, ticking down here. */
function useTick(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, []);
  return now;
}

function Clients({ say }: { say: Say }): JSX.Element {
  const s = useStore();
  const [text, setText] = useState('');
  const [secs, setSecs] = useState(30);
  const now = useTick();
  const rules = s.faults ?? [];
  // Seconds left per offline client, counted down from when the stats said so.
  const [seen, setSeen] = useState<{ at: number; offline: { client: string; secs_left: number }[] }>({ at: Date.now(), offline: [] });
  useEffect(() => setSeen({ at: Date.now(), offline: s.stats?.offline ?? [] }), [s.stats]);
  const left = (client: string): number => {
    const o = seen.offline.find((x) => x.client === client);
    return o ? Math.max(0, o.secs_left - Math.floor((now - seen.at) / 1000)) : 0;
  };
  const shown = (text ? s.sockets.filter((x) => JSON.stringify(x).toLowerCase().includes(text.toLowerCase())) : s.sockets).slice(0, 100);
  const groups = new Map<string, typeof shown>();
  for (const x of shown) {
    const key = x.client ?? `socket:${x.id}`;
    groups.set(key, [...(groups.get(key) ?? []), x]);
  }
  const offlineOnly = seen.offline.filter((o) => !groups.has(o.client));
  const stall = async (id: string, on: boolean) => {
    const mine = rules.filter((r) => isStallRule(r, id));
    let r;
    if (on) {
      const off = mine.find((x) => !x.enabled);
      r = off ? await store.faultCommand({ command: 'fault_set', id: off.id, enabled: true }) : await store.faultCommand({ command: 'fault_add', rule: stallSpec(id) });
    } else {
      for (const x of mine.filter((m) => m.enabled)) r = await store.faultCommand({ command: 'fault_set', id: x.id, enabled: false });
    }
    if (r?.result === 'error') say('error', `${r.code}: ${r.message}`);
  };
  const offline = async (client: string, back: boolean) => {
    const r = back ? await store.control.command({ command: 'online', client }) : await store.control.command({ command: 'offline', client, secs: Math.max(1, Math.floor(secs)) });
    if (r.result === 'error') say('error', `${r.code}: ${r.message}`);
    else {
      say('ok', back ? `Client ${client} is back online.` : `Client ${client} is offline for ${secs} s: its sockets were cut and its reconnects are refused.`);
      await store.refresh();
    }
  };
  const offlineButton = (client: string) => {
    const l = left(client);
    return l > 0 ? (
      <button class="primary small-btn" onClick={() => void offline(client, true)} data-testid="offline-toggle">
        Back online <span data-testid="offline-countdown">({l} s)</span>
      </button>
    ) : (
      <button class="small-btn" onClick={() => void offline(client, false)} data-testid="offline-toggle">
        Offline {secs} s
      </button>
    );
  };
  return (
    <section class="offline" data-testid="fault-clients">
      <div class="toolbar">
        <h3>Clients: offline for a while, or stall</h3>
        <label class="check small">
          <input type="number" min={1} max={86400} value={secs} onInput={(e) => setSecs(Number(e.currentTarget.value))} class="ms" data-testid="offline-secs" /> s
        </label>
        <input type="search" placeholder="Filter sockets" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </div>
      <p class="hint pad-x">
        <b>Offline</b>: the client's sockets are cut and its reconnects refused (<code>connect_error</code>) for that long, then it is let back; needs a
        client id (the adapter sends one per tab). <b>Stall</b>: one socket's requests wait unanswered on the open connection until you resume it
        (formerly called offline).
      </p>
      {s.sockets.length === 0 && offlineOnly.length === 0 ? (
        <Empty>No socket is connected.</Empty>
      ) : (
        <table class="grid-table">
          <tbody>
            {offlineOnly.map((o) => (
              <tr key={o.client} class="is-offline client-row" data-testid="client-row" data-client={o.client}>
                <td class="mono" colSpan={2}>
                  client {o.client} <span class="muted">(no socket: refused)</span>
                </td>
                <td>
                  <span class="tag tag-offline">offline</span>
                </td>
                <td>{offlineButton(o.client)}</td>
              </tr>
            ))}
            {[...groups.entries()].map(([key, socks]) => {
              const client = socks[0].client;
              return [
                client ? (
                  <tr key={key} class={`client-row${left(client) > 0 ? ' is-offline' : ''}`} data-testid="client-row" data-client={client}>
                    <td class="mono" colSpan={2}>
                      client {client}{' '}
                      <span class="muted" data-testid="client-reconnects">
                        · {socks.length} socket{socks.length === 1 ? '' : 's'} · {Math.max(...socks.map((x) => x.reconnects))} reconnect
                        {Math.max(...socks.map((x) => x.reconnects)) === 1 ? '' : 's'}
                      </span>
                    </td>
                    <td>{left(client) > 0 ? <span class="tag tag-offline">offline</span> : <span class="tag tag-online">online</span>}</td>
                    <td>{offlineButton(client)}</td>
                  </tr>
                ) : null,
                ...socks.map((x) => {
                  const stalled = rules.some((r) => r.enabled && isStallRule(r, x.id));
                  return (
                    <tr key={x.id} class={stalled ? 'is-offline' : ''} data-testid="stall-row" data-socket={x.id}>
                      <td class="mono">{client ? '↳ ' : ''}{x.id}</td>
                      <td class="muted ellipsis ua" title={x.user_agent ?? ''}>
                        {x.user_agent ?? '—'}
                      </td>
                      <td>{stalled ? <span class="tag tag-offline">stalled</span> : <span class="tag tag-online">answering</span>}</td>
                      <td>
                        <button class={stalled ? 'primary small-btn' : 'small-btn'} onClick={() => void stall(x.id, !stalled)} data-testid="stall-toggle">
                          {stalled ? 'Resume' : 'Stall'}
                        </button>
                      </td>
                    </tr>
                  );
                }),
              ];
            })}
          </tbody>
        </table>
      )}
      {s.sockets.length > shown.length && <p class="hint pad-x">{(s.sockets.length - shown.length).toLocaleString()} more: filter to find one.</p>}
    </section>
  );
}

/** Saves the rules as a JSON file (GET /faults/export). */
async function exportRules(say: Say): Promise<void> {
  const res = await request('faults/export');
  if (!res.ok) {
    say('error', `export failed: ${res.status}`);
    return;
  }
  const blob = await res.blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'syncscope-faults.json';
  a.click();
  URL.revokeObjectURL(a.href);
}

async function importRules(file: File, replace: boolean, say: Say): Promise<void> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await file.text());
  } catch (e) {
    say('error', `${file.name} is not JSON: ${String(e)}`);
    return;
  }
  const r = await store.faultCommand({ command: 'fault_import', file: parsed as FaultFile, replace });
  if (r.result === 'ok') say('ok', `Imported ${file.name}: ${(r.value as unknown[]).length} rule(s) now.`);
  else say('error', `${r.code}: ${r.message}`);
}

export function FaultsPanel(): JSX.Element {
  const s = useStore();
  const [flash, say] = useFlash();
  const [editing, setEditing] = useState<number | null>(null);
  const [replace, setReplace] = useState(false);
  useEffect(() => {
    // Fresh on opening (the store reads them on connecting, too).
    if (store.conn === 'open') void store.refreshFaults();
  }, []);
  const rules = s.faults;
  const on = rules?.filter((r) => r.enabled).length ?? 0;
  const edited = rules?.find((r) => r.id === editing) ?? null;
  const clear = async () => {
    const r = await store.faultCommand({ command: 'fault_clear' });
    if (r.result === 'ok') say('ok', 'Every rule removed: requests are handled normally.');
    else say('error', `${r.code}: ${r.message}`);
  };
  return (
    <div class="form-panel faults-panel">
      <div class="toolbar">
        <h2>Faults</h2>
        <span class="muted" data-testid="fault-count">
          {rules === null ? 'reading the rules…' : `${rules.length} rule${rules.length === 1 ? '' : 's'}, ${on} on`}
        </span>
        <span class="muted small" data-testid="fault-seed" title="The seed of toxicity draws; start the server with --fault-seed N to repeat a run">
          seed {s.stats?.fault_seed ?? '…'}
        </span>
        <span class="muted small">Tried in order; the first rule on that matches a request fires. Kept in the database.</span>
        <button class="push-right" onClick={() => void exportRules(say)} disabled={!rules?.length} data-testid="fault-export">
          Export
        </button>
        <label class="button" title="Add the rules of a file made by Export">
          Import
          <input
            type="file"
            accept="application/json,.json"
            hidden
            data-testid="fault-import"
            onChange={(e) => {
              const f = e.currentTarget.files?.[0];
              if (f) void importRules(f, replace, say);
              e.currentTarget.value = '';
            }}
          />
        </label>
        <label class="check small">
          <input type="checkbox" checked={replace} onChange={(e) => setReplace(e.currentTarget.checked)} /> replace
        </label>
        <button class="danger" onClick={() => void clear()} disabled={!rules?.length} data-testid="fault-clear">
          Clear all
        </button>
      </div>
      {flash}
      <section class="rules">
        {!rules?.length ? (
          <Empty>No rule: every request is handled normally. Add one below, or stall a socket.</Empty>
        ) : (
          <table class="grid-table" data-testid="fault-rules">
            <thead>
              <tr>
                <th>on</th>
                <th>rule</th>
                <th>when</th>
                <th>action</th>
                <th>times</th>
                <th class="num">fired</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rules.map((r) => (
                <RuleRow key={r.id} r={r} say={say} editing={r.id === editing} onEdit={() => setEditing(r.id)} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      <div class="faults-grid">
        <RuleForm key={edited ? `edit-${edited.id}` : 'new'} say={say} editing={edited} onDone={() => setEditing(null)} />
        <Clients say={say} />
      </div>
    </div>
  );
}

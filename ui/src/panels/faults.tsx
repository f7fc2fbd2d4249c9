import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { FaultRule } from '../bindings/FaultRule';
import type { FaultSpec } from '../bindings/FaultSpec';
import { Empty, useFlash } from '../components';
import { CODES, DEFAULT_MESSAGE, EVENTS, isOfflineRule, offlineSpec, specText, timesText, whenText } from '../faults';
import { actionText } from '../records';
import { store, useStore } from '../store';

type Action = FaultSpec['action'];
type Times = 'once' | 'always' | 'n';

function RuleRow({ r, say }: { r: FaultRule; say: (kind: 'ok' | 'error', text: string) => void }): JSX.Element {
  const run = async (cmd: Parameters<typeof store.faultCommand>[0]) => {
    const res = await store.faultCommand(cmd);
    if (res.result === 'error') say('error', `${res.code}: ${res.message}`);
  };
  const spent = r.times != null && r.fired >= r.times;
  return (
    <tr class={`rule ${r.enabled ? 'on' : 'off'} act-${r.action}`} data-testid="fault-rule" data-rule={r.id}>
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
        {whenText(r.when)}
      </td>
      <td class={`act act-${r.action}`}>{actionText(r)}</td>
      <td>
        {timesText(r.times)}
        {spent && <span class="muted"> · spent</span>}
      </td>
      <td class="num" data-testid="fault-fired">
        {r.fired}
      </td>
      <td>
        <button class="danger small-btn" onClick={() => void run({ command: 'fault_remove', id: r.id })} title="Delete this rule" data-testid="fault-delete">
          Delete
        </button>
      </td>
    </tr>
  );
}

function AddRule({ say }: { say: (kind: 'ok' | 'error', text: string) => void }): JSX.Element {
  const s = useStore();
  const [action, setAction] = useState<Action>('fail');
  const [code, setCode] = useState<string>('conflict');
  const [otherCode, setOtherCode] = useState('');
  const [message, setMessage] = useState(DEFAULT_MESSAGE.conflict);
  const [ms, setMs] = useState(800);
  const [socket, setSocket] = useState('');
  const [event, setEvent] = useState('');
  const [url, setUrl] = useState('');
  const [times, setTimes] = useState<Times>('once');
  const [timesTouched, setTimesTouched] = useState(false);
  const [n, setN] = useState(3);

  const pickAction = (a: Action) => {
    setAction(a);
    // Latency and a cut-off network are usually meant to last; a failure, once.
    if (!timesTouched) setTimes(a === 'fail' ? 'once' : 'always');
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
  const base = {
    when: {
      ...(socket ? { socket } : {}),
      ...(event.trim() ? { event: event.trim() } : {}),
      ...(url.trim() ? { url: url.trim() } : {}),
    },
    ...(times === 'once' ? { times: 1 } : times === 'n' ? { times: Math.max(1, Math.floor(n)) } : {}),
  };
  const spec: FaultSpec | null =
    action === 'fail' ? (theCode ? { ...base, action, code: theCode, message } : null)
    : action === 'delay' ? { ...base, action, ms: Math.max(0, Math.floor(ms)) }
    : { ...base, action };

  const add = async (e: Event) => {
    e.preventDefault();
    if (!spec) return;
    const r = await store.faultCommand({ command: 'fault_add', rule: spec });
    if (r.result === 'ok') say('ok', `Rule #${(r.value as { id?: number })?.id ?? '?'} set: ${specText(spec)}.`);
    else say('error', `${r.code}: ${r.message}`);
  };

  return (
    <form class="form fault-form" onSubmit={add} data-testid="fault-form">
      <h3>Add a rule</h3>
      <fieldset>
        <legend>Action</legend>
        <div class="radios">
          {(['fail', 'delay', 'drop', 'disconnect'] as const).map((a) => (
            <label key={a} class="check">
              <input type="radio" name="fault-action" checked={action === a} onChange={() => pickAction(a)} data-testid={`fault-action-${a}`} />
              {{ fail: 'fail', delay: 'delay (latency)', drop: 'drop (no answer)', disconnect: 'disconnect' }[a]}
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
        {action === 'disconnect' && <span class="hint">The server closes the socket, as a dropped network would; the client may reconnect.</span>}
      </fieldset>
      <fieldset>
        <legend>Which requests (empty: any)</legend>
        <div class="grid3">
          <label>
            Event
            <input list="fault-events" value={event} onInput={(e) => setEvent(e.currentTarget.value)} placeholder="any" data-testid="fault-event" />
          </label>
          <label>
            Url prefix
            <input list="fault-urls" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="any, e.g. /todos" data-testid="fault-url" />
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
        <datalist id="fault-urls">
          {s.channels.map((c) => (
            <option key={c.url} value={c.url} />
          ))}
        </datalist>
      </fieldset>
      <fieldset>
        <legend>How many times</legend>
        <div class="radios">
          <label class="check">
            <input type="radio" name="fault-times" checked={times === 'once'} onChange={() => pickTimes('once')} data-testid="fault-times-once" />
            next request only
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
      <div class="actions">
        <button type="submit" class="primary" disabled={!spec} data-testid="fault-add">
          Add rule
        </button>
        <span class="muted" data-testid="fault-preview">
          {spec ? specText(spec) : 'Give the error a code.'}
        </span>
      </div>
    </form>
  );
}

function Offline({ say }: { say: (kind: 'ok' | 'error', text: string) => void }): JSX.Element {
  const s = useStore();
  const [text, setText] = useState('');
  const rules = s.faults ?? [];
  const shown = (text ? s.sockets.filter((x) => JSON.stringify(x).toLowerCase().includes(text.toLowerCase())) : s.sockets).slice(0, 100);
  const toggle = async (id: string, offline: boolean) => {
    const mine = rules.filter((r) => isOfflineRule(r, id));
    let r;
    if (offline) {
      const off = mine.find((x) => !x.enabled);
      r = off
        ? await store.faultCommand({ command: 'fault_set', id: off.id, enabled: true })
        : await store.faultCommand({ command: 'fault_add', rule: offlineSpec(id) });
    } else {
      for (const x of mine.filter((m) => m.enabled)) r = await store.faultCommand({ command: 'fault_set', id: x.id, enabled: false });
    }
    if (r?.result === 'error') say('error', `${r.code}: ${r.message}`);
  };
  return (
    <section class="offline" data-testid="fault-offline">
      <div class="toolbar">
        <h3>Take a socket offline</h3>
        <input type="search" placeholder="Filter sockets" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </div>
      <p class="hint pad-x">
        Offline: every request from the socket goes unanswered (no ack; the client's ack timeout fires, if it set one). The
        connection stays open and pushes still reach it. To cut the connection itself, use Disconnect in Sockets.
      </p>
      {s.sockets.length === 0 ? (
        <Empty>No socket is connected.</Empty>
      ) : (
        <table class="grid-table">
          <tbody>
            {shown.map((x) => {
              const offline = rules.some((r) => r.enabled && isOfflineRule(r, x.id));
              return (
                <tr key={x.id} class={offline ? 'is-offline' : ''} data-testid="offline-row" data-socket={x.id}>
                  <td class="mono">{x.id}</td>
                  <td class="muted ellipsis ua" title={x.user_agent ?? ''}>
                    {x.user_agent ?? '—'}
                  </td>
                  <td>{offline ? <span class="tag tag-offline">offline</span> : <span class="tag tag-online">online</span>}</td>
                  <td>
                    <button class={offline ? 'primary small-btn' : 'small-btn'} onClick={() => void toggle(x.id, !offline)} data-testid="offline-toggle">
                      {offline ? 'Back online' : 'Go offline'}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {s.sockets.length > shown.length && <p class="hint pad-x">{(s.sockets.length - shown.length).toLocaleString()} more: filter to find one.</p>}
    </section>
  );
}

export function FaultsPanel(): JSX.Element {
  const s = useStore();
  const [flash, say] = useFlash();
  useEffect(() => {
    // Fresh on opening (the store reads them on connecting, too).
    if (store.conn === 'open') void store.refreshFaults();
  }, []);
  const rules = s.faults;
  const on = rules?.filter((r) => r.enabled).length ?? 0;
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
        <span class="muted small">Tried in order; the first rule on that matches a request fires.</span>
        <button class="danger push-right" onClick={() => void clear()} disabled={!rules?.length} data-testid="fault-clear">
          Clear all
        </button>
      </div>
      {flash}
      <section class="rules">
        {!rules?.length ? (
          <Empty>No rule: every request is handled normally. Add one below, or take a socket offline.</Empty>
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
                <RuleRow key={r.id} r={r} say={say} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      <div class="faults-grid">
        <AddRule say={say} />
        <Offline say={say} />
      </div>
    </div>
  );
}

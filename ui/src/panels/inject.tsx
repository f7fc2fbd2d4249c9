import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api';
import type { JsonValue } from '../bindings/serde_json/JsonValue';
import type { StoreSnapshot } from '../bindings/StoreSnapshot';
import type { FaultSpec } from '../bindings/FaultSpec';
import type { Target } from '../bindings/Target';
import { useFlash } from '../components';
import { CODES, DEFAULT_MESSAGE, EVENTS, isWrite, parseEvents, specText, whenMatches } from '../faults';
import { checkChange, createTemplate, fromPush, modelTemplate } from '../inject';
import { go, handoff } from '../nav';
import { labelOf, socketLine } from '../labels';
import { shortId, titleOf, type Rec } from '../records';
import { store, useStore } from '../store';

type To = Target['to'];

/** The receivers' answers to an injected `change` (docs/PROTOCOL.md, Injected changes). */
type Answers = { applied: string[]; not_applied: { socket: string; reason: string }[]; silent: string[] };

/** "2 sockets (quiet otter, brave heron)": counted, then named. */
function sockets(ids: string[]): string {
  return `${ids.length} socket${ids.length === 1 ? '' : 's'} (${ids.map((id) => labelOf(id).name).join(', ')})`;
}

export function InjectPanel(): JSX.Element {
  const s = useStore();
  const given = handoff.injectTarget;
  const [to, setTo] = useState<To>(given?.to ?? 'channel');
  const [socket, setSocket] = useState(given?.to === 'socket' ? given.id : '');
  const [channel, setChannel] = useState(given?.to === 'channel' ? given.url : '');
  const [ns, setNs] = useState('');
  const [event, setEvent] = useState('change');
  const [payload, setPayload] = useState(() =>
    JSON.stringify(createTemplate(given?.to === 'channel' ? given.url : '/todos', `pushed-${Date.now().toString(36)}`), null, 2),
  );
  const [spread, setSpread] = useState(false);
  const [snap, setSnap] = useState<StoreSnapshot | null>(null);
  const [tplCollection, setTplCollection] = useState('');
  const [flash, say] = useFlash();

  useEffect(() => {
    handoff.injectTarget = null;
    get<StoreSnapshot>('store').then(setSnap, () => setSnap(null));
  }, []);
  useEffect(() => {
    if (!tplCollection) return;
    get<StoreSnapshot>('store', { url: tplCollection }).then(setSnap, () => undefined);
  }, [tplCollection]);
  useEffect(() => {
    if (!socket && s.sockets[0]) setSocket(s.sockets[0].id);
    if (!channel && s.channels[0]) setChannel(s.channels[0].url);
  }, [s.sockets.length, s.channels.length]);

  let parsed: JsonValue | undefined;
  let parseError = '';
  try {
    parsed = JSON.parse(payload) as JsonValue;
  } catch (e) {
    parseError = (e as Error).message;
  }
  const target: Target | null =
    to === 'socket' ? (socket ? { to, id: socket } : null)
    : to === 'channel' ? (channel ? { to, url: channel } : null)
    : to === 'iobind' ? (ns ? { to, ns } : null)
    : { to: 'all' };

  const fromModel = (id: string) => {
    const m = snap?.models?.find((x) => x.id === id);
    if (!m) return;
    if (event.includes(':')) {
      // The iobind dialect: the model's attributes, on the model url's event.
      setEvent(`${tplCollection}/${encodeURIComponent(m.id)}:update`);
      setPayload(JSON.stringify(m.data, null, 2));
    } else {
      setEvent('change');
      setPayload(JSON.stringify(modelTemplate(tplCollection, m), null, 2));
    }
    if (to === 'channel') setChannel(tplCollection);
  };

  // The last real push of the target channel: the surest shape there is.
  const lastPush = to === 'channel' && channel ? s.changes.get(channel)?.at(-1) : undefined;
  const fromLastPush = () => {
    const copy = lastPush?.kind === 'push_out' ? fromPush(lastPush.args[0] ?? null) : null;
    if (!copy) return;
    setEvent('change');
    setPayload(JSON.stringify(copy, null, 2));
  };

  // backbone.realtime's view of a `change`: why it would be dropped, before sending.
  const check =
    event === 'change' && parsed !== undefined && !spread
      ? checkChange(parsed, to === 'channel' ? channel.replace(/\/+$/, '') || null : null, snap?.seq ?? null)
      : null;

  const send = async (e: Event) => {
    e.preventDefault();
    if (parsed === undefined || !target) return;
    const args = spread && Array.isArray(parsed) ? parsed : [parsed];
    const r = await store.control.command({ command: 'emit', target, event, args });
    if (r.result !== 'ok') {
      say('error', `${r.code}: ${r.message}`);
      return;
    }
    const v = r.value as { recipients?: number; to?: string[]; answers?: Answers };
    const n = v?.recipients ?? 0;
    const who = v?.to?.length ? `: ${v.to.join(', ')}` : '';
    const delivered = `Delivered ${event} to ${n} socket${n === 1 ? '' : 's'}${who}.`;
    // The pages' own word (docs/PROTOCOL.md, Injected changes), when any answered.
    const a = v.answers;
    const silent = a?.silent.length ? ` No answer from ${sockets(a.silent)} (not a backbone.realtime page).` : '';
    if (n === 0) {
      say('error', `Sent ${event} to no socket: ${to === 'channel' ? `nobody is subscribed to ${channel}` : 'no socket matched the target'}. Open the app first, or pick another target.`);
    } else if (a && a.applied.length + a.not_applied.length > 0) {
      const parts = [];
      if (a.applied.length) parts.push(`Applied by ${sockets(a.applied)}.`);
      for (const no of a.not_applied) parts.push(`Not applied by ${labelOf(no.socket).name}: ${no.reason}.`);
      say(a.not_applied.length ? 'error' : 'ok', `${delivered} ${parts.join(' ')}${silent}`);
    } else if (check?.problems.length) {
      say('error', `${delivered.slice(0, -1)}, but backbone.realtime ignores it: ${check.problems[0]}${silent}`);
    } else {
      say('ok', `${delivered}${silent}`);
    }
  };

  return (
    <div class="form-panel">
      <div class="toolbar">
        <h2>Inject a push</h2>
        <span class="muted">The clients get it exactly as if the server had sent it.</span>
      </div>
      <div class="inject-grid">
        <form onSubmit={send} class="form" data-testid="inject-form">
          <label>
            Event
            <input value={event} onInput={(e) => setEvent(e.currentTarget.value)} required data-testid="inject-event" />
            <span class="hint">
              <code>change</code> for backbone.realtime; <code>/todos:create</code>, <code>/todos/1:update</code> for backbone.iobind.
            </span>
          </label>
          <fieldset>
            <legend>Target</legend>
            <div class="radios">
              {(['socket', 'channel', 'iobind', 'all'] as const).map((t) => (
                <label key={t} class="check">
                  <input type="radio" name="to" checked={to === t} onChange={() => setTo(t)} data-testid={`inject-to-${t}`} />
                  {{ socket: 'one socket', channel: 'a channel', iobind: 'iobind namespace', all: 'everyone' }[t]}
                </label>
              ))}
            </div>
            {to === 'socket' && (
              <select value={socket} onChange={(e) => setSocket(e.currentTarget.value)} data-testid="inject-socket">
                {!s.sockets.some((x) => x.id === socket) && socket && <option value={socket}>{socketLine(socket)} (gone)</option>}
                {s.sockets.map((x) => (
                  <option key={x.id} value={x.id}>
                    {socketLine(x.id)} — {x.remote_addr ?? ''}
                  </option>
                ))}
              </select>
            )}
            {to === 'channel' && (
              <input list="channel-list" value={channel} onInput={(e) => setChannel(e.currentTarget.value)} placeholder="/todos" data-testid="inject-channel" />
            )}
            <datalist id="channel-list">
              {s.channels.map((c) => (
                <option key={c.url} value={c.url} />
              ))}
            </datalist>
            {to === 'iobind' && <input value={ns} onInput={(e) => setNs(e.currentTarget.value)} placeholder="todos" />}
          </fieldset>
          <fieldset>
            <legend>Template from a stored model</legend>
            <div class="hint">
              A <code>change</code> as backbone.realtime applies it: the collection <code>url</code>, the model&rsquo;s <code>id</code>, <code>op</code>,{' '}
              <code>data</code> and its stored <code>version</code>; no <code>seq</code>, which would make clients skip later real changes.
            </div>
            <div class="inline">
              <select value={tplCollection} onChange={(e) => setTplCollection(e.currentTarget.value)} data-testid="inject-tpl-collection">
                <option value="">collection…</option>
                {snap?.collections.map((c) => (
                  <option key={c.url} value={c.url}>
                    {c.url} ({c.models})
                  </option>
                ))}
              </select>
              <select value="" onChange={(e) => fromModel(e.currentTarget.value)} disabled={!tplCollection || !snap?.models} data-testid="inject-tpl-model">
                <option value="">model…</option>
                {snap?.models?.map((m) => (
                  <option key={m.id} value={m.id}>
                    {shortId(m.id, 18)} {titleOf(m.data) ? `“${titleOf(m.data)}”` : JSON.stringify(m.data).slice(0, 40)} v{m.version}
                  </option>
                ))}
              </select>
              <button type="button" onClick={fromLastPush} disabled={!lastPush} data-testid="inject-tpl-last" title="The last change pushed on the target channel, without its seq">
                last push of {to === 'channel' && channel ? channel : 'the channel'}
              </button>
            </div>
          </fieldset>
          <label>
            Payload (JSON)
            <textarea rows={10} value={payload} onInput={(e) => setPayload(e.currentTarget.value)} class={parseError ? 'invalid' : ''} spellcheck={false} data-testid="inject-payload" />
            <span class={parseError ? 'hint err' : 'hint'}>{parseError || 'Sent as the event’s one argument.'}</span>
          </label>
          {check && (check.problems.length > 0 || check.warnings.length > 0) && (
            <ul class="shape-check" data-testid="inject-check">
              {check.problems.map((p) => (
                <li key={p} class="err">
                  backbone.realtime ignores it: {p}
                </li>
              ))}
              {check.warnings.map((w) => (
                <li key={w} class="warn">
                  {w}
                </li>
              ))}
            </ul>
          )}
          <label class="check">
            <input type="checkbox" checked={spread} onChange={(e) => setSpread(e.currentTarget.checked)} />
            the payload is an array of arguments (emit each one)
          </label>
          <div class="actions">
            <button type="submit" class="primary" disabled={!!parseError || !target || !event} data-testid="inject-send">
              Send push
            </button>
          </div>
          {flash}
        </form>
        <FailNext />
      </div>
    </div>
  );
}

/** One click to make the next matching request fail: a `times: 1` fail rule. */
function FailNext(): JSX.Element {
  const s = useStore();
  // Backbone saves a whole model with `update` and a changed attribute (a toggle) with
  // `patch`: "the next write" means either.
  const [event, setEvent] = useState('update or patch');
  const [url, setUrl] = useState('/todos');
  const [code, setCode] = useState('conflict');
  const [armed, setArmed] = useState<{ id: number; afterSeq: number } | null>(null);
  const [flash, say] = useFlash();
  const rule = armed === null ? undefined : s.faults?.find((r) => r.id === armed.id);

  const fail = async (e: Event) => {
    e.preventDefault();
    const spec: FaultSpec = {
      when: { ...parseEvents(event), ...(url.trim() ? { url: url.trim() } : {}) },
      action: 'fail',
      code,
      message: DEFAULT_MESSAGE[code] ?? code,
      times: 1,
    };
    const afterSeq = s.stats?.last_seq ?? 0;
    const r = await store.faultCommand({ command: 'fault_add', rule: spec });
    if (r.result === 'ok') {
      const id = (r.value as { id?: number })?.id;
      setArmed(id == null ? null : { id, afterSeq });
      say('ok', `Set: ${specText(spec)}.`);
    } else say('error', `${r.code}: ${r.message}`);
  };

  // While armed: the latest write since arming that the rule let pass, when it was
  // close (same url and another method, or the method elsewhere): the usual reason a
  // rule "never fires" is that the app sends `patch` where it said `update`.
  let missed: Rec | undefined;
  if (armed && rule && rule.enabled && rule.fired === 0) {
    const all = s.log.all;
    for (let i = all.length - 1; i >= 0 && all[i].seq > armed.afterSeq; i--) {
      const r = all[i];
      if (r.kind !== 'event_in' || !isWrite(r.event) || whenMatches(rule.when, r.socket, r.event, r.url)) continue;
      const sameUrl = whenMatches({ url: rule.when.url }, r.socket, r.event, r.url);
      const sameEvent = whenMatches({ event: rule.when.event, events: rule.when.events }, r.socket, r.event, r.url);
      if (sameUrl || sameEvent) {
        missed = r;
        break;
      }
    }
  }

  // The methods the app sent lately, first: what to pick from.
  const seen = new Set<string>();
  for (let i = s.log.all.length - 1; i >= 0 && seen.size < 12 && i > s.log.all.length - 2000; i--) {
    const r = s.log.all[i];
    if (r.kind === 'event_in' && isWrite(r.event)) seen.add(r.event);
  }
  const offered = ['update or patch', ...seen, ...EVENTS.filter((x) => !seen.has(x))];

  return (
    <section class="note builder" data-testid="fail-next">
      <h3>Fail the next request</h3>
      <form class="inline" onSubmit={fail}>
        the next
        <input list="fail-next-events" value={event} size={9} onInput={(e) => setEvent(e.currentTarget.value)} placeholder="any request" data-testid="fail-next-event" />
        on
        <input list="channel-list" value={url} size={12} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="any url" data-testid="fail-next-url" />
        fails with
        <select value={code} onChange={(e) => setCode(e.currentTarget.value)} data-testid="fail-next-code">
          {CODES.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
        <button type="submit" class="primary" data-testid="fail-next-go">
          Fail the next request
        </button>
        <datalist id="fail-next-events">
          {offered.map((x) => (
            <option key={x} value={x} />
          ))}
        </datalist>
      </form>
      {armed !== null && (
        <div class="builder-status muted" data-testid="fail-next-status">
          Rule #{armed.id}:{' '}
          {!rule ? 'removed' : rule.fired > 0 ? <span class="res fault">fired on the next one, now spent</span> : rule.enabled ? 'armed, waiting for a matching request' : 'switched off'}
        </div>
      )}
      {missed?.kind === 'event_in' && (
        <div class="builder-status warn" data-testid="fail-next-missed">
          A <code>{missed.event}</code> on <code>{missed.url ?? '?'}</code> (#{missed.seq}) went by without matching: the rule waits for{' '}
          <code>{rule?.when.event ?? rule?.when.events?.join(' or ') ?? 'any request'}</code>
          {rule?.when.url ? <> on <code>{rule.when.url}</code></> : null}.{' '}
          <button
            type="button"
            class="link"
            data-testid="fail-next-include"
            onClick={() => setEvent([...new Set([...(rule?.when.events ?? (rule?.when.event ? [rule.when.event] : [])), missed?.kind === 'event_in' ? missed.event : ''])].filter(Boolean).join(' or '))}
          >
            Include {missed.event}
          </button>
        </div>
      )}
      {flash}
      <p class="muted small-note">
        Any request from any socket that matches fails once, as a real error would (a conflict carries the stored model).
        More rules, latency and offline sockets in{' '}
        <a href="#/faults" onClick={(e) => { e.preventDefault(); go('faults'); }}>Faults</a>.
      </p>
    </section>
  );
}

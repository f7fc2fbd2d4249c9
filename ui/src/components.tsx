// Small shared components: a virtualized list, a JSON tree, a diff (the chart is chart.tsx).
import { Fragment, type ComponentChildren, type JSX } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { JsonValue } from './bindings/serde_json/JsonValue';
import type { DiffLine } from './records';

interface VirtualListProps<T> {
  items: T[];
  /** Changes whenever `items` changed in place. */
  version: number;
  rowHeight: number;
  render: (item: T, index: number) => JSX.Element;
  /** Keep the last row in view while the user has not scrolled up. */
  follow?: boolean;
  onNearEnd?: () => void;
  /** Called when the user scrolls near the first row (to load earlier items). */
  onNearStart?: () => void;
  testId?: string;
  class?: string;
}

/** Renders only the rows in view (plus a few), whatever the number of items. */
export function VirtualList<T>(p: VirtualListProps<T>): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  const stuck = useRef(true);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  const total = p.items.length * p.rowHeight;
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (p.follow && stuck.current) el.scrollTop = el.scrollHeight;
    // The browser clamps scrollTop when the list shrinks, without a scroll event.
    else if (el.scrollTop !== scrollTop) setScrollTop(el.scrollTop);
  }, [p.version, p.items.length, p.follow, total]);

  const onScroll = (e: Event) => {
    const el = e.currentTarget as HTMLDivElement;
    stuck.current = el.scrollTop + el.clientHeight >= el.scrollHeight - p.rowHeight;
    // Following the tail, the next render puts the window at the end anyway.
    if (!(p.follow && stuck.current)) setScrollTop(el.scrollTop);
    // Well ahead (a few screens), so that the next page is there before the user is.
    const ahead = p.rowHeight * 20 + el.clientHeight * 3;
    if (p.onNearEnd && el.scrollTop + el.clientHeight >= el.scrollHeight - ahead) p.onNearEnd();
    if (p.onNearStart && el.scrollTop <= ahead) p.onNearStart();
  };

  const end = Math.max(0, total - height);
  const top = p.follow && stuck.current ? end : Math.min(scrollTop, end);
  const first = Math.max(0, Math.floor(top / p.rowHeight) - 8);
  const last = Math.min(p.items.length, Math.ceil((top + height) / p.rowHeight) + 8);
  const rows: JSX.Element[] = [];
  // Keyed by slot, not by item: as the window moves, the same DOM rows take new
  // contents instead of being torn down and rebuilt.
  for (let i = first; i < last; i++) {
    rows.push(<Fragment key={i % 512}>{p.render(p.items[i], i)}</Fragment>);
  }
  return (
    <div ref={box} class={`vlist ${p.class ?? ''}`} onScroll={onScroll} data-testid={p.testId}>
      <div class="vlist-space" style={{ height: `${total}px` }}>
        <div class="vlist-rows" style={{ transform: `translateY(${first * p.rowHeight}px)` }}>
          {rows}
        </div>
      </div>
    </div>
  );
}

function JsonNode({ name, value, depth }: { name?: string; value: JsonValue; depth: number }): JSX.Element {
  const label = name !== undefined ? <span class="jt-key">{name}: </span> : null;
  if (value === null || typeof value !== 'object') {
    const cls = value === null ? 'jt-null' : `jt-${typeof value}`;
    return (
      <div class="jt-leaf">
        {label}
        <span class={cls}>{JSON.stringify(value)}</span>
      </div>
    );
  }
  const entries: [string, JsonValue][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value).map(([k, v]) => [k, v as JsonValue]);
  const brackets = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  return (
    <details class="jt-node" open={depth < 3}>
      <summary>
        {label}
        <span class="jt-brace">
          {brackets[0]}
          {entries.length === 0 ? brackets[1] : <span class="jt-count"> {entries.length} </span>}
        </span>
      </summary>
      {entries.map(([k, v]) => (
        <JsonNode key={k} name={k} value={v} depth={depth + 1} />
      ))}
      {entries.length > 0 && <div class="jt-brace">{brackets[1]}</div>}
    </details>
  );
}

export function JsonTree({ value }: { value: JsonValue }): JSX.Element {
  return (
    <div class="json-tree" data-testid="json-tree">
      <JsonNode value={value} depth={0} />
    </div>
  );
}

export function Diff({ lines }: { lines: DiffLine[] }): JSX.Element {
  const show = (v: JsonValue | undefined) => JSON.stringify(v);
  return (
    <table class="diff" data-testid="diff">
      <tbody>
        {lines.map((l) => (
          <tr key={l.key} class={`diff-${l.kind}`}>
            <td class="diff-mark">{{ added: '+', removed: '−', changed: '~', same: '' }[l.kind]}</td>
            <td class="diff-key">{l.key}</td>
            <td class="diff-before">{l.kind === 'added' ? '' : show(l.before)}</td>
            <td class="diff-after">{l.kind === 'removed' ? '' : l.kind === 'same' ? '' : show(l.after)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Empty({ children }: { children: ComponentChildren }): JSX.Element {
  return <div class="empty">{children}</div>;
}

/** A transient message at the bottom of a form. */
export function useFlash(): [JSX.Element | null, (kind: 'ok' | 'error', text: string) => void] {
  const [msg, setMsg] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  useEffect(() => {
    if (!msg || msg.kind === 'error') return;
    const t = setTimeout(() => setMsg(null), 6000);
    return () => clearTimeout(t);
  }, [msg]);
  const el = msg ? (
    <div class={`flash flash-${msg.kind}`} role="status" data-testid="flash">
      {msg.text}
    </div>
  ) : null;
  return [el, (kind, text) => setMsg({ kind, text })];
}

// A time-series chart in plain SVG for the Stats panel, made to drive debugging
// rather than to decorate: axes with round ticks (1, 2, 5 × 10^k, in the unit that
// reads best), a second axis on the right for a small series (error acks) that would
// lie flat against a large one, the values under the pointer, and a range dragged
// across it handed back to the caller (the Stats panel filters the log with it).
import type { JSX } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { fmtTime } from './records';

export interface ChartSeries {
  name: string;
  color: string;
  /** One value per point of `times` (null: no value that second). */
  values: (number | null)[];
  /** Which axis it is read against; the right one has its own scale. */
  axis?: 'left' | 'right';
}

export interface Axis {
  /** A tick's label (the value is one of the round steps). */
  tick: (v: number) => string;
  /** A value under the pointer. */
  value: (v: number) => string;
  /** Only whole steps (counts): no 0.5 events. */
  integer?: boolean;
}

/** Round ticks from 0 to at least `max`: steps of 1, 2 or 5 × 10^k, about `count` of them. */
export function niceTicks(max: number, count = 4, integer = false): number[] {
  const top = max > 0 ? max : 1;
  const raw = top / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  if (integer) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let v = 0; ticks.length === 0 || ticks[ticks.length - 1] < top; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Counts: 0, 5, 10, 2k, 1.5M — no 453/906/1,360. */
export function countTick(v: number): string {
  if (v >= 1e6) return `${trim(v / 1e6)}M`;
  if (v >= 1e4) return `${trim(v / 1e3)}k`;
  return trim(v);
}

/** Microseconds on an axis: 0, 200 µs, 1 ms, 2.5 ms, 1 s — never "0 µs". */
export function latencyTick(us: number): string {
  if (us === 0) return '0';
  if (us < 1000) return `${trim(us)} µs`;
  if (us < 1e6) return `${trim(us / 1000)} ms`;
  return `${trim(us / 1e6)} s`;
}

function trim(v: number): string {
  return String(Number(v.toFixed(2)));
}

/** Time-axis steps (ms) and the one that gives about 6 labels over `span`. */
const TIME_STEPS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800].map((s) => s * 1000);

function clockTick(ms: number, withSeconds: boolean): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return withSeconds ? `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}` : `${p(d.getHours())}:${p(d.getMinutes())}`;
}

export interface ChartProps {
  title: string;
  testId?: string;
  /** Time of each point (ms, the end of its second). */
  times: number[];
  series: ChartSeries[];
  /** The window shown: [end - span, end] (ms). */
  end: number;
  span: number;
  left: Axis;
  right?: Axis;
  /** Called with the time range (ms) dragged across the chart. */
  onRange?: (from: number, to: number) => void;
}

const W = 960;
const H = 200;
const PAD = { l: 64, r: 56, t: 10, b: 22 };

export function Chart(p: ChartProps): JSX.Element {
  const svg = useRef<SVGSVGElement>(null);
  const [hover, setHover] = useState<number | null>(null);
  const [drag, setDrag] = useState<{ from: number; to: number } | null>(null);
  const start = p.end - p.span;
  const x = (t: number) => PAD.l + ((t - start) / p.span) * (W - PAD.l - PAD.r);
  const tAt = (px: number) => start + ((px - PAD.l) / (W - PAD.l - PAD.r)) * p.span;
  const inView = (t: number) => t >= start && t <= p.end;

  const maxOf = (axis: 'left' | 'right') =>
    Math.max(
      0,
      ...p.series
        .filter((s) => (s.axis ?? 'left') === axis)
        .flatMap((s) => s.values.filter((v, i): v is number => v !== null && inView(p.times[i]))),
    );
  const leftTicks = niceTicks(maxOf('left'), 4, p.left.integer);
  const rightTicks = p.right ? niceTicks(maxOf('right'), 4, p.right.integer) : [];
  const top = { left: leftTicks[leftTicks.length - 1], right: rightTicks[rightTicks.length - 1] ?? 1 };
  const y = (v: number, axis: 'left' | 'right') => H - PAD.b - (v / top[axis]) * (H - PAD.t - PAD.b);

  const step = TIME_STEPS.find((s) => p.span / s <= 6) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const timeTicks: number[] = [];
  for (let t = Math.ceil(start / step) * step; t <= p.end; t += step) timeTicks.push(t);

  /** The pointer's x in the SVG's own units. */
  const svgX = (e: MouseEvent): number => {
    const box = svg.current?.getBoundingClientRect();
    if (!box) return 0;
    return ((e.clientX - box.left) / box.width) * W;
  };
  const nearest = (t: number): number | null => {
    let best: number | null = null;
    for (let i = 0; i < p.times.length; i++) {
      if (!inView(p.times[i])) continue;
      if (best === null || Math.abs(p.times[i] - t) < Math.abs(p.times[best] - t)) best = i;
    }
    return best;
  };
  const clampT = (t: number) => Math.min(p.end, Math.max(start, t));

  const onMove = (e: MouseEvent) => {
    const t = tAt(svgX(e));
    setHover(nearest(t));
    if (drag) setDrag({ ...drag, to: clampT(t) });
  };
  const onDown = (e: MouseEvent) => {
    if (!p.onRange || e.button !== 0) return;
    e.preventDefault();
    const t = clampT(tAt(svgX(e)));
    setDrag({ from: t, to: t });
  };
  const onUp = () => {
    if (!drag) return;
    const from = Math.min(drag.from, drag.to);
    const to = Math.max(drag.from, drag.to);
    setDrag(null);
    // A click is not a range: at least a second of it.
    if (to - from >= 1000 && p.onRange) p.onRange(from, to);
  };

  const h = hover !== null && hover < p.times.length ? hover : null;
  return (
    <figure class="chart" data-testid={p.testId}>
      <figcaption>
        {p.title}
        {p.series.map((s) => {
          const lastVal = [...s.values].reverse().find((v) => v !== null);
          const axis = (s.axis ?? 'left') === 'right' && p.right ? p.right : p.left;
          return (
            <span key={s.name} class="legend">
              <i style={{ background: s.color }} /> {s.name}
              {s.axis === 'right' ? <span class="muted"> (right axis)</span> : null} <b>{lastVal == null ? '—' : axis.value(lastVal)}</b>
            </span>
          );
        })}
      </figcaption>
      <div class="chart-box">
        <svg
          ref={svg}
          viewBox={`0 0 ${W} ${H}`}
          role="img"
          aria-label={p.title}
          onMouseMove={onMove}
          onMouseLeave={() => {
            setHover(null);
            onUp();
          }}
          onMouseDown={onDown}
          onMouseUp={onUp}
          class={p.onRange ? 'draggable' : ''}
        >
          {leftTicks.map((t) => (
            <g key={`l${t}`}>
              <line x1={PAD.l} x2={W - PAD.r} y1={y(t, 'left')} y2={y(t, 'left')} class="grid" />
              <text x={PAD.l - 6} y={y(t, 'left') + 4} class="tick" data-testid="tick-left">
                {p.left.tick(t)}
              </text>
            </g>
          ))}
          {p.right &&
            rightTicks.map((t) => (
              <text key={`r${t}`} x={W - PAD.r + 6} y={y(t, 'right') + 4} class="tick start right" data-testid="tick-right">
                {p.right?.tick(t)}
              </text>
            ))}
          {timeTicks.map((t) => (
            <text key={`t${t}`} x={x(t)} y={H - 6} class="tick mid">
              {clockTick(t, step < 60_000)}
            </text>
          ))}
          {p.series.map((s) => {
            const axis = s.axis ?? 'left';
            let d = '';
            s.values.forEach((v, i) => {
              if (v === null || !inView(p.times[i])) return;
              d += `${d ? 'L' : 'M'}${x(p.times[i]).toFixed(1)},${y(v, axis).toFixed(1)}`;
            });
            return <path key={s.name} d={d} fill="none" stroke={s.color} stroke-width="1.8" stroke-dasharray={axis === 'right' ? '5 3' : undefined} />;
          })}
          {drag && (
            <rect
              x={x(Math.min(drag.from, drag.to))}
              width={Math.abs(x(drag.to) - x(drag.from))}
              y={PAD.t}
              height={H - PAD.t - PAD.b}
              class="range"
            />
          )}
          {h !== null && <line x1={x(p.times[h])} x2={x(p.times[h])} y1={PAD.t} y2={H - PAD.b} class="cursor" />}
        </svg>
        {h !== null && (
          <div
            class="chart-hover"
            data-testid="chart-hover"
            style={{ left: `${(x(p.times[h]) / W) * 100}%`, transform: x(p.times[h]) > W * 0.7 ? 'translateX(-105%)' : 'translateX(8px)' }}
          >
            <div class="muted mono">{fmtTime(p.times[h] * 1000)}</div>
            {p.series.map((s) => {
              const v = s.values[h];
              const axis = s.axis === 'right' && p.right ? p.right : p.left;
              return (
                <div key={s.name}>
                  <i style={{ background: s.color }} /> {s.name} <b>{v == null ? '—' : axis.value(v)}</b>
                </div>
              );
            })}
          </div>
        )}
      </div>
    </figure>
  );
}

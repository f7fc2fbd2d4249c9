import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Chart, countTick, latencyTick } from '../chart';
import { showInLog } from '../nav';
import { fmtLatency, fmtTime } from '../records';
import { store, useStore } from '../store';

/** The windows offered, in seconds. */
const WINDOWS = [60, 300, 900, 3600];

function windowText(s: number): string {
  return s < 3600 ? `${s / 60} min` : `${s / 3600} h`;
}

export function StatsPanel(): JSX.Element {
  const s = useStore();
  const [span, setSpan] = useState(300);
  // The chart's "now", moved on with every new point (not on every render).
  const last = s.series[s.series.length - 1];
  const [end, setEnd] = useState(() => last?.t ?? Date.now());
  useEffect(() => setEnd(last?.t ?? Date.now()), [last?.t]);
  const from = end - span * 1000;
  const inWindow = s.series.filter((x) => x.t > from);
  const st = s.stats;
  const total = inWindow.reduce((a, x) => a + x.events, 0);
  const peak = inWindow.reduce((a, x) => Math.max(a, x.events), 0);
  const errors = inWindow.reduce((a, x) => a + x.errors, 0);
  const injected = inWindow.reduce((a, x) => a + x.injected, 0);
  const times = s.series.map((x) => x.t);
  // A point is the second that ends at its time: a range starts a second earlier.
  const toLog = (a: number, b: number) => {
    showInLog({ ...store.log.filter, from_us: Math.round(a - 1000) * 1000, to_us: Math.round(b) * 1000 });
  };
  const first = s.series[0];
  return (
    <div class="form-panel wide">
      <div class="toolbar">
        <h2>Stats</h2>
        <div class="seg" role="group" aria-label="Window" data-testid="stats-window">
          {WINDOWS.map((w) => (
            <button key={w} class={w === span ? 'active' : ''} onClick={() => setSpan(w)} data-testid={`stats-window-${w}`}>
              {windowText(w)}
            </button>
          ))}
        </div>
        <span class="muted">
          One point a second{first ? `, since ${fmtTime(first.t * 1000)}` : ''}. Hover for values; drag across a chart to open the log on that range.
        </span>
      </div>
      <div class="cards">
        <div class="card">
          <b data-testid="stats-total">{total.toLocaleString()}</b>
          <span>records in the last {windowText(span)}</span>
        </div>
        <div class="card">
          <b>{peak.toLocaleString()}</b>
          <span>peak records/s</span>
        </div>
        <div class={`card ${errors ? 'warn' : ''}`}>
          <b data-testid="stats-errors">{errors.toLocaleString()}</b>
          <span>error acks (real)</span>
        </div>
        <div class="card">
          <b data-testid="stats-injected">{injected.toLocaleString()}</b>
          <span>error acks injected by faults</span>
        </div>
        <div class="card">
          <b>{st?.sockets ?? '—'}</b>
          <span>sockets</span>
        </div>
        <div class="card">
          <b>
            {st?.recorder_queued ?? 0} / {st?.recorder_capacity ?? 0}
          </b>
          <span>recorder queue</span>
        </div>
        <div class={`card ${st?.recorder_lost ? 'warn' : ''}`}>
          <b>{(st?.recorder_lost ?? 0).toLocaleString()}</b>
          <span>records lost by the recorder</span>
        </div>
      </div>
      <Chart
        title="Records per second"
        testId="chart-events"
        times={times}
        end={end}
        span={span * 1000}
        left={{ tick: countTick, value: (v) => `${v.toLocaleString()}/s`, integer: true }}
        right={{ tick: countTick, value: (v) => `${v.toLocaleString()}/s`, integer: true }}
        onRange={toLog}
        series={[
          { name: 'all records', color: '#4f8cff', values: s.series.map((x) => x.events) },
          { name: 'acks', color: '#3fb97f', values: s.series.map((x) => x.acks) },
          { name: 'error acks', color: '#ef5b5b', values: s.series.map((x) => x.errors), axis: 'right' },
          { name: 'injected errors', color: '#f08a3a', values: s.series.map((x) => x.injected), axis: 'right' },
        ]}
      />
      <Chart
        title="Ack latency (server side: from receiving a request to sending its ack)"
        testId="chart-latency"
        times={times}
        end={end}
        span={span * 1000}
        left={{ tick: latencyTick, value: (v) => fmtLatency(Math.round(v)) }}
        onRange={toLog}
        series={[
          { name: 'p50', color: '#3fb97f', values: s.series.map((x) => x.p50) },
          { name: 'p99', color: '#f0a33a', values: s.series.map((x) => x.p99) },
        ]}
      />
    </div>
  );
}

import type { JSX } from 'preact';
import { Chart } from '../components';
import { fmtLatency } from '../records';
import { useStore } from '../store';

export function StatsPanel(): JSX.Element {
  const s = useStore();
  const series = s.series;
  const st = s.stats;
  const total = series.reduce((a, x) => a + x.events, 0);
  const peak = series.reduce((a, x) => Math.max(a, x.events), 0);
  return (
    <div class="form-panel wide">
      <div class="toolbar">
        <h2>Stats</h2>
        <span class="muted">The last {series.length} s, one point a second, since this window opened.</span>
      </div>
      <div class="cards">
        <div class="card">
          <b data-testid="stats-total">{total.toLocaleString()}</b>
          <span>records in this window</span>
        </div>
        <div class="card">
          <b>{peak.toLocaleString()}</b>
          <span>peak events/s</span>
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
        title="Events per second"
        testId="chart-events"
        unit={(v) => Math.round(v).toLocaleString()}
        series={[
          { name: 'all records', color: '#4f8cff', values: series.map((x) => x.events) },
          { name: 'acks', color: '#3fb97f', values: series.map((x) => x.acks) },
          { name: 'error acks', color: '#ef5b5b', values: series.map((x) => x.errors) },
        ]}
      />
      <Chart
        title="Ack latency"
        testId="chart-latency"
        unit={(v) => fmtLatency(Math.round(v))}
        series={[
          { name: 'p50', color: '#3fb97f', values: series.map((x) => x.p50) },
          { name: 'p99', color: '#f0a33a', values: series.map((x) => x.p99) },
        ]}
      />
    </div>
  );
}

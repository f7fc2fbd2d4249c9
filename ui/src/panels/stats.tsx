import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Chart, countTick, latencyTick } from '../chart';
import { showInLog } from '../nav';
import type { ClientLatency } from '../bindings/ClientLatency';
import type { SocketInfo } from '../bindings/SocketInfo';
import { socketLine } from '../labels';
import { fmtLatency, fmtTime } from '../records';
import { recentAckLatency, store, useStore } from '../store';

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
      <Latency page={st?.client_latency ?? null} sockets={s.sockets} connected={st?.sockets ?? 0} />
      <Chart
        title="Latency: in the server (request received → ack sent) and as the pages saw it (emit → ack: network, queues and server)"
        testId="chart-latency"
        times={times}
        end={end}
        span={span * 1000}
        left={{ tick: latencyTick, value: (v) => fmtLatency(Math.round(v)) }}
        onRange={toLog}
        series={[
          { name: 'server p50', color: '#3fb97f', values: s.series.map((x) => x.p50) },
          { name: 'server p99', color: '#f0a33a', values: s.series.map((x) => x.p99) },
          { name: 'page p50', color: '#4fb8e8', values: s.series.map((x) => x.pageP50) },
          { name: 'page p99', color: '#c77dff', values: s.series.map((x) => x.pageP99) },
        ]}
      />
    </div>
  );
}

/**
 * Client-observed latency beside the server's: what a user waits for (the round trip
 * a page measured) against the part spent inside the server (its ack latency), over
 * the same last few seconds, per method and per page. Only pages running
 * backbone.realtime report round trips (docs/PROTOCOL.md, Client latency); without
 * one the panel says why there is nothing to show.
 */
function Latency(p: { page: ClientLatency | null; sockets: SocketInfo[]; connected: number }): JSX.Element {
  const secs = p.page?.window_secs || 5;
  const server = recentAckLatency(store.recentAcks, secs);
  const page = p.page;
  const reporting = p.sockets.filter((x) => x.client_latency);
  let why: string | null = null;
  if (!page || page.reporting === 0) {
    why =
      p.connected === 0
        ? 'No page reports its round trips: no client is connected. Pages using backbone.realtime.js report them once they have subscribed.'
        : `No page reports its round trips: none of the ${p.connected} connected socket${p.connected === 1 ? '' : 's'} is a backbone.realtime.js page that has subscribed to a collection. Raw Socket.IO clients, backbone.iobind and older adapters do not report; only the server side is known for them.`;
  } else if (page.count === 0) {
    why = `${page.reporting} page${page.reporting === 1 ? ' reports' : 's report'} round trips, but made no request in the last ${secs} s.`;
  }
  return (
    <section class="latency" data-testid="client-latency">
      <div class="cards">
        <div class="card" data-testid="latency-page">
          <b>
            {page && page.count > 0 ? (
              <>
                <span data-testid="latency-page-p50">{fmtLatency(page.p50_us)}</span> / <span data-testid="latency-page-p99">{fmtLatency(page.p99_us)}</span>
              </>
            ) : (
              '—'
            )}
          </b>
          <span>
            round trip as the pages saw it, p50 / p99 (emit → ack: network, queues and server; last {secs} s
            {page && page.pages > 0 ? `, ${page.pages} page${page.pages === 1 ? '' : 's'}` : ''})
          </span>
        </div>
        <div class="card" data-testid="latency-server">
          <b>
            {server.count > 0 ? (
              <>
                <span data-testid="latency-server-p50">{fmtLatency(server.p50)}</span> / <span data-testid="latency-server-p99">{fmtLatency(server.p99)}</span>
              </>
            ) : (
              '—'
            )}
          </b>
          <span>ack latency inside the server, p50 / p99 (request received → ack sent; last {secs} s, every client)</span>
        </div>
      </div>
      {why ? (
        <p class="note muted" data-testid="client-latency-empty">
          {why}
        </p>
      ) : null}
      {page && page.ops.length > 0 ? (
        <div class="latency-tables">
          <table class="grid-table" data-testid="client-latency-ops">
            <thead>
              <tr>
                <th>method</th>
                <th class="num">round trips</th>
                <th class="num">page p50</th>
                <th class="num">page p99</th>
                <th class="num">page max</th>
              </tr>
            </thead>
            <tbody>
              {page.ops.map((o) => (
                <tr key={o.op} data-testid={`client-latency-op-${o.op}`}>
                  <td class="mono">{o.op}</td>
                  <td class="num">{o.count.toLocaleString()}</td>
                  <td class="num">{fmtLatency(o.p50_us)}</td>
                  <td class="num" data-testid="op-p99">
                    {fmtLatency(o.p99_us)}
                  </td>
                  <td class="num">{fmtLatency(o.max_us)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <table class="grid-table" data-testid="client-latency-pages">
            <thead>
              <tr>
                <th>page (last minute)</th>
                <th class="num">round trips</th>
                <th class="num">p50</th>
                <th class="num">p99</th>
                <th class="num" title="How long the server took over this socket's last request (request received → ack sent)">
                  server, last ack
                </th>
              </tr>
            </thead>
            <tbody>
              {reporting.map((x) => (
                <tr key={x.id}>
                  <td class="ellipsis" title={x.id}>
                    {socketLine(x.id)}
                  </td>
                  <td class="num">{x.client_latency?.count.toLocaleString()}</td>
                  <td class="num">{fmtLatency(x.client_latency?.p50_us)}</td>
                  <td class="num">{fmtLatency(x.client_latency?.p99_us)}</td>
                  <td class="num">{fmtLatency(x.last_ack_latency_us)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

// The status page of `sidekick-ship --http` at /: the engine and whether it answers, requests, retries and dead
// letters, then every followed file with how far it is read and acknowledged and how far behind, from /status.
import type { Route } from '../common/http';
import { badge, bytes, count, html, pageRoutes, renderPage, span, type Html, type Tone } from '../common/page';
import type { FileStatus, ShipStatus, StatusTracker } from './status';

export function renderShipPage(s: ShipStatus, opts: { startedAt: number }): string {
  const e = s.engine;
  const behind = s.files.filter((f) => f.lag_bytes > 0);
  const lagBytes = s.files.reduce((n, f) => n + f.lag_bytes, 0);
  const maxLag = Math.max(0, ...s.files.map((f) => f.lag_seconds));
  const headline = !e.reachable ? 'engine unreachable' : behind.length === 0 ? 'caught up' : `${bytes(lagBytes)} behind`;
  const engineTone: Tone = e.reachable ? 'ok' : 'bad';
  const lagTone: Tone = lagBytes === 0 ? 'ok' : e.reachable ? 'warn' : 'bad';
  const budgetUse = s.memory_budget > 0 ? s.bytes_pending / s.memory_budget : 0;
  const main = html`
<section class="tiles" aria-label="Overall">
  <div class="tile big ${engineTone}" id="engine">
    <div class="label">Engine</div>
    <div class="value ${engineTone}">${e.reachable ? 'Reachable' : 'Unreachable'}</div>
    <div class="sub"><span class="mono">${e.urls.join(', ')}</span> → <span class="mono">${e.index}</span>${e.reachable ? '' : html`<br><strong>failing for ${span(e.unreachable_for_ms)}</strong>${e.last_error ? `: ${e.last_error}` : ''}`}</div>
  </div>
  <div class="tile big ${lagTone}" id="lag">
    <div class="label">Behind</div>
    <div class="value ${lagTone}">${lagBytes === 0 ? 'Caught up' : bytes(lagBytes)}</div>
    <div class="sub">${lagBytes === 0 ? `every line of ${s.files.length} file${s.files.length === 1 ? '' : 's'} stored` : `in ${behind.length} of ${s.files.length} files · oldest for ${span(maxLag * 1000)}`}</div>
  </div>
  <div class="tile" id="requests">
    <div class="label">Requests in flight</div>
    <div class="value">${s.requests.in_flight} <span class="muted">/ ${s.requests.concurrency}</span></div>
    <div class="sub">${s.requests.queued} waiting · ${bytes(s.bytes_pending)} held (${Math.round(budgetUse * 100)}% of budget)</div>
  </div>
  <div class="tile" id="retries">
    <div class="label">Retries</div>
    <div class="value ${s.retries.request + s.retries.item > 0 ? 'warn' : ''}">${count(s.retries.request + s.retries.item)}</div>
    <div class="sub">${count(s.retries.request)} requests · ${count(s.retries.item)} docs</div>
  </div>
  <div class="tile" id="dead-letters">
    <div class="label">Dead letters</div>
    <div class="value ${s.dead_letters > 0 ? 'bad' : ''}">${count(s.dead_letters)}</div>
    <div class="sub">refused for good</div>
  </div>
  <div class="tile" id="rate">
    <div class="label">Lines read</div>
    <div class="value">${count(s.lines_read)}</div>
    <div class="sub">${count(s.lines_per_second)} lines/s now</div>
  </div>
</section>
<h2>Files <span class="muted">being followed; acknowledged means stored, and is where a restart resumes</span></h2>
<div class="card scroll">
${s.files.length === 0
  ? html`<div class="empty">No file is open: none matches the paths yet, or every file was read to its end and closed.</div>`
  : html`<table id="files">
<thead><tr><th>File</th><th>State</th><th class="num">Size</th><th class="num">Read</th><th class="num">Acknowledged</th><th class="num">Behind</th><th class="num">Lag</th><th class="num">Lines/s</th></tr></thead>
<tbody>${s.files.map((f) => fileRow(f, e.reachable))}</tbody>
</table>`}
</div>`;
  return renderPage({
    program: 'sidekick-ship',
    headline,
    refreshMs: 1000,
    links: ['/status', '/healthz', '/metrics'],
    startedAt: opts.startedAt,
    main,
  });
}

function fileRow(f: FileStatus, reachable: boolean): Html {
  const tone: Tone = f.lag_bytes === 0 ? 'ok' : reachable ? 'warn' : 'bad';
  const done = f.size > 0 ? Math.min(1, f.acknowledged / f.size) : 1;
  return html`<tr class="${tone === 'ok' ? '' : tone}" data-path="${f.path}">
<td><div class="name mono">${f.path}</div><div class="sub">key <span class="mono">${f.key}</span> · ${count(f.lines)} lines</div></td>
<td class="nowrap">${badge(tone, f.lag_bytes === 0 ? 'caught up' : reachable ? 'shipping' : 'waiting for engine')}<svg class="bar" viewBox="0 0 100 6" preserveAspectRatio="none" role="img" aria-label="${Math.floor(done * 100)}% acknowledged"><rect class="track" width="100" height="6"></rect><rect class="${tone}" width="${(done * 100).toFixed(1)}" height="6"></rect></svg></td>
<td class="num">${bytes(f.size)}</td>
<td class="num">${bytes(f.read)}</td>
<td class="num">${bytes(f.acknowledged)}</td>
<td class="num">${f.lag_bytes === 0 ? '0' : bytes(f.lag_bytes)}</td>
<td class="num">${f.lag_bytes === 0 ? '—' : span(f.lag_seconds * 1000)}</td>
<td class="num">${count(f.lines_per_second)}</td>
</tr>`;
}

/** /status and the page, for the shipper's HTTP listener. */
export function statusRoutes(tracker: StatusTracker, startedAt: number): Record<string, Route> {
  return {
    '/status': async () => ({ status: 200, body: await tracker.status() }),
    ...pageRoutes(async () => renderShipPage(await tracker.status(), { startedAt })),
  };
}

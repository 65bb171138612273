// The status page of `sidekick-probe serve` at /: liveness and readiness, then every check with its state, time in
// state, rise/fall progress, last result and a strip of recent results, rendered from the /checks body.
import { badge, count, html, renderPage, since, span, type Html, type Tone } from '../common/page';
import type { ChecksBody, CheckView, ResultView } from './serve';
import type { Health } from './state';

export interface ProbePageOptions {
  /** Results kept per check (`history`): every strip has this many slots, so the strips line up. */
  historySize: number;
  /** Webhook URLs configured (only their number is shown). */
  webhooks: number;
  startedAt: number;
  now?: number;
}

const TONE: Record<Health, Tone> = { healthy: 'ok', unhealthy: 'bad', starting: 'warn' };

/** The whole page for a /checks body. */
export function renderProbePage(body: ChecksBody, opts: ProbePageOptions): string {
  const now = opts.now ?? Date.now();
  const by = (h: Health) => body.checks.filter((c) => c.state === h).length;
  const counts = { healthy: by('healthy'), unhealthy: by('unhealthy'), starting: by('starting') };
  const headline =
    counts.unhealthy + counts.starting === 0
      ? 'all healthy'
      : [counts.unhealthy && `${counts.unhealthy} unhealthy`, counts.starting && `${counts.starting} starting`].filter(Boolean).join(', ');
  const failing = (role: 'liveness' | 'readiness') =>
    body.checks.filter((c) => (c.role === role || c.role === 'both') && (role === 'liveness' ? c.state === 'unhealthy' : c.state !== 'healthy')).map((c) => c.check);
  const notLive = failing('liveness');
  const notReady = failing('readiness');
  const w = body.webhooks;
  const main = html`
<section class="tiles" aria-label="Overall">
  <div class="tile big ${body.live ? 'ok' : 'bad'}" id="liveness">
    <div class="label">Liveness · /healthz</div>
    <div class="value ${body.live ? 'ok' : 'bad'}">${body.live ? 'Live' : 'Not live'}</div>
    <div class="sub">${body.live ? 'no liveness check has failed' : `failing: ${notLive.join(', ')}`}</div>
  </div>
  <div class="tile big ${body.ready ? 'ok' : 'bad'}" id="readiness">
    <div class="label">Readiness · /readyz</div>
    <div class="value ${body.ready ? 'ok' : 'bad'}">${body.ready ? 'Ready' : 'Not ready'}</div>
    <div class="sub">${body.ready ? 'every readiness check is healthy' : `waiting for: ${notReady.join(', ')}`}</div>
  </div>
  <div class="tile">
    <div class="label">Checks</div>
    <div class="value">${body.checks.length}</div>
    <div class="sub">${counts.healthy} healthy · ${counts.unhealthy} unhealthy · ${counts.starting} starting</div>
  </div>
  ${opts.webhooks > 0
    ? html`<div class="tile">
    <div class="label">Webhook events</div>
    <div class="value ${w.failed + w.dropped > 0 ? 'warn' : ''}">${count(w.delivered)}</div>
    <div class="sub">delivered to ${opts.webhooks} URL${opts.webhooks === 1 ? '' : 's'} · ${w.queued} queued · ${w.failed} failed · ${w.dropped} dropped</div>
  </div>`
    : ''}
</section>
<h2>Checks <span class="muted">in configuration order; the strip shows the last ${opts.historySize} results, newest on the right, bar height is latency</span></h2>
<div class="card scroll">
<table id="checks">
<thead><tr><th>Check</th><th>Role</th><th>State</th><th>For</th><th>Rise / fall</th><th>Last result</th><th class="num">Took</th><th>Recent results</th></tr></thead>
<tbody>
${body.checks.map((c) => checkRow(c, opts.historySize, now))}
</tbody>
</table>
</div>`;
  return renderPage({
    program: 'sidekick-probe',
    headline,
    // A page of 1,000 checks takes tens of milliseconds to render on the probe's event loop: refresh it less often.
    refreshMs: Math.min(10_000, Math.max(1000, body.checks.length * 5)),
    links: ['/checks', '/healthz', '/readyz', '/metrics'],
    startedAt: opts.startedAt,
    main,
  });
}

function checkRow(c: CheckView, historySize: number, now: number): Html {
  const tone = TONE[c.state];
  const last = c.last;
  return html`<tr class="${tone}" data-check="${c.check}">
<td><div class="name">${c.check}</div><div class="sub"><span class="kind">${c.kind}</span> <span class="mono">${c.target}</span></div><div class="sub">every ${span(c.interval_ms)}, timeout ${span(c.timeout_ms)}</div></td>
<td class="nowrap">${c.role}</td>
<td class="state">${badge(tone, c.state)}</td>
<td class="nowrap">${since(c.since, now)}</td>
<td>${progress(c)}</td>
<td class="msg ${last && !last.ok ? 'bad' : ''}">${last ? html`${last.ok ? '' : html`<strong>failed:</strong> `}${last.message}` : html`<span class="muted">not run yet</span>`}</td>
<td class="num">${last ? took(last.duration_ms) : ''}</td>
<td>${strip(c.history, historySize, now)}</td>
</tr>`;
}

/** Rise/fall progress: how many consecutive results of the kind that would change the state, out of how many needed. */
function progress(c: CheckView): Html {
  const { successes, failures } = c.consecutive;
  if (c.state === 'healthy' || (c.state === 'starting' && failures > 0)) {
    if (failures === 0) return html`<span class="progress muted">steady · fall ${c.fall}</span>`;
    return html`<span class="progress">${dots(failures, c.fall, 'bad')}${failures} of ${c.fall} ${c.fall === 1 ? 'failure' : 'failures'} to unhealthy</span>`;
  }
  return html`<span class="progress">${dots(successes, c.rise, 'ok')}${successes} of ${c.rise} ${c.rise === 1 ? 'success' : 'successes'} to healthy</span>`;
}

function dots(n: number, of: number, tone: 'ok' | 'bad'): Html | '' {
  if (of > 10) return '';
  return html`<span class="dots ${tone}" aria-hidden="true">${Array.from({ length: of }, (_v, i) => html`<i class="${i < n ? 'on' : ''}"></i>`)}</span>`;
}

function took(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

const BAR_W = 6;
const GAP = 2;
const STRIP_H = 24;

/** The recent results as bars (green ok, red failed; height is latency against the slowest shown) and in words. */
function strip(history: ResultView[], slots: number, now: number): Html {
  const n = Math.max(slots, history.length);
  const width = n * (BAR_W + GAP) - GAP;
  // Successes are scaled against the slowest success shown, up to most of the height; a failure fills it.
  const slowest = Math.max(0.001, ...history.filter((r) => r.ok).map((r) => r.duration_ms));
  const offset = n - history.length;
  const bars = history.map((r, i) => {
    const h = r.ok ? Math.max(4, Math.round((r.duration_ms / slowest) * (STRIP_H - 6))) : STRIP_H;
    return html`<rect class="${r.ok ? 'ok' : 'bad'}" x="${(offset + i) * (BAR_W + GAP)}" y="${STRIP_H - h}" width="${BAR_W}" height="${h}" rx="1"><title>${span(now - Date.parse(r.at))} ago: ${r.ok ? 'ok' : 'failed'} in ${took(r.duration_ms)}${r.ok ? '' : ` — ${r.message}`}</title></rect>`;
  });
  const empty = Array.from({ length: offset }, (_v, i) => html`<rect class="base" x="${i * (BAR_W + GAP)}" y="${STRIP_H - 2}" width="${BAR_W}" height="2"></rect>`);
  const ok = history.filter((r) => r.ok);
  const durations = ok.map((r) => r.duration_ms).sort((a, b) => a - b);
  const median = durations.length ? durations[Math.floor((durations.length - 1) / 2)]! : undefined;
  const words = history.length === 0 ? 'no results yet' : `${ok.length} of ${history.length} ok${median !== undefined ? ` · median ${took(median)}` : ''}`;
  return html`<svg class="strip" width="${width}" height="${STRIP_H}" viewBox="0 0 ${width} ${STRIP_H}" role="img" aria-label="${words}">${empty}${bars}</svg><div class="sub nowrap">${words}</div>`;
}

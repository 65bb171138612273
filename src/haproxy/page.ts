// The status page of `sidekick-haproxy watch` at /: frontends, backends with their servers, and the recent
// state-change events, rendered from the /state body. Read-only: the page offers no admin action.
import { badge, count, html, renderPage, since, span, type Html, type Tone } from '../common/page';
import type { ServerState } from './status';
import type { ViewItem, WatchEvent } from './watch';

/** A frontend as /state shows it. */
export interface FrontendView {
  proxy: string;
  state: ServerState;
  status: string;
  scur?: number;
}

/** The /state body: where HAProxy was read, the current view, and the last events (newest first). */
export interface WatchStateBody {
  socket: string;
  pid?: number;
  version?: string;
  interval_ms: number;
  /** ISO time of the last poll, whether it succeeded or not. */
  polled_at?: string;
  /** Why the last poll failed; absent when it succeeded. */
  error?: string;
  items: ViewItem[];
  frontends: FrontendView[];
  events: WatchEvent[];
}

const TONE: Record<ServerState, Tone> = {
  up: 'ok',
  'no-check': 'ok',
  down: 'bad',
  'going-down': 'warn',
  'going-up': 'warn',
  drain: 'warn',
  nolb: 'warn',
  maint: 'idle',
  unknown: 'idle',
};

export function renderWatchPage(body: WatchStateBody, opts: { startedAt: number; now?: number }): string {
  const now = opts.now ?? Date.now();
  const servers = body.items.filter((i) => i.type === 'server');
  const backends = body.items.filter((i) => i.type === 'backend');
  const up = (list: { state: ServerState }[]) => list.filter((i) => TONE[i.state] === 'ok').length;
  const notUp = servers.filter((s) => TONE[s.state] !== 'ok');
  const byState = new Map<ServerState, number>();
  for (const s of notUp) byState.set(s.state, (byState.get(s.state) ?? 0) + 1);
  const reachable = body.error === undefined && body.polled_at !== undefined;
  const headline = !reachable ? 'HAProxy unreachable' : notUp.length === 0 ? 'all servers up' : [...byState].map(([st, n]) => `${n} ${st}`).join(', ');
  const sessions = body.frontends.reduce((n, f) => n + (f.scur ?? 0), 0);
  const serversTone: Tone = notUp.some((s) => s.state === 'down') ? 'bad' : notUp.length > 0 ? 'warn' : 'ok';
  const main = html`
<section class="tiles" aria-label="Overall">
  <div class="tile big ${reachable ? 'ok' : 'bad'}" id="haproxy">
    <div class="label">HAProxy</div>
    <div class="value ${reachable ? 'ok' : 'bad'}">${reachable ? 'Reachable' : body.polled_at ? 'Unreachable' : 'Not read yet'}</div>
    <div class="sub">${body.error ? html`<strong>${body.error}</strong> · ` : ''}${body.version ? `${body.version} · pid ${body.pid ?? '?'} · ` : ''}polled ${body.polled_at ? `${span(now - Date.parse(body.polled_at))} ago` : 'not yet'}, every ${span(body.interval_ms)}</div>
  </div>
  <div class="tile big ${serversTone}" id="servers">
    <div class="label">Servers up</div>
    <div class="value ${serversTone}">${up(servers)} of ${servers.length}</div>
    <div class="sub">${notUp.length === 0 ? 'none down, draining or in maintenance' : [...byState].map(([st, n]) => `${n} ${st}`).join(' · ')}</div>
  </div>
  <div class="tile">
    <div class="label">Backends up</div>
    <div class="value">${up(backends)} of ${backends.length}</div>
    <div class="sub">${body.frontends.length} frontend${body.frontends.length === 1 ? '' : 's'}</div>
  </div>
  <div class="tile">
    <div class="label">Sessions</div>
    <div class="value">${count(sessions)}</div>
    <div class="sub">current, on all frontends</div>
  </div>
</section>
<div class="cols">
<div>
<h2>Backends and servers <span class="muted">as HAProxy's show stat reports them; read-only</span></h2>
${backends.length === 0 ? html`<div class="card"><div class="empty">No backends seen yet.</div></div>` : backends.map((b) => backendCard(b, servers.filter((s) => s.proxy === b.proxy), now))}
</div>
<div>
<h2>Frontends</h2>
<div class="card">${body.frontends.length === 0 ? html`<div class="empty">No frontends.</div>` : frontendTable(body.frontends)}</div>
<h2>Recent events <span class="muted">newest first, since the watcher started</span></h2>
<div class="card" id="events">${body.events.length === 0 ? html`<div class="empty">No state change since the watcher started.</div>` : html`<ol class="events">${body.events.map((e) => eventItem(e, now))}</ol>`}</div>
</div>
</div>`;
  return renderPage({
    program: 'sidekick-haproxy',
    headline,
    refreshMs: Math.min(5000, Math.max(1000, body.interval_ms)),
    links: ['/state', '/healthz', '/metrics'],
    about: html`<span class="about mono">${body.socket}</span>`,
    startedAt: opts.startedAt,
    main,
  });
}

function backendCard(b: ViewItem, servers: ViewItem[], now: number): Html {
  const tone = TONE[b.state];
  return html`<section class="card backend" data-backend="${b.proxy}">
<div class="card-head"><h3>${b.proxy} ${badge(tone, b.state, b.status)}</h3><span class="muted">${servers.filter((s) => TONE[s.state] === 'ok').length} of ${servers.length} servers up${b.scur !== undefined ? ` · ${count(b.scur)} sessions` : ''}${b.lastchg !== undefined ? ` · last change ${span(b.lastchg * 1000)} ago` : ''}</span></div>
${servers.length === 0
  ? html`<div class="empty">No servers.</div>`
  : html`<div class="scroll"><table>
<thead><tr><th>Server</th><th>State</th><th>Check</th><th class="num">Weight</th><th class="num">Sessions</th><th>Last change</th></tr></thead>
<tbody>${servers.map((s) => serverRow(s, now))}</tbody>
</table></div>`}
</section>`;
}

function serverRow(s: ViewItem, now: number): Html {
  const tone = TONE[s.state];
  const failing = tone === 'bad';
  return html`<tr class="${tone === 'ok' || tone === 'idle' ? '' : tone}" data-server="${s.server ?? ''}">
<td class="name">${s.server}</td>
<td class="state nowrap">${badge(tone, s.state)}${statusNote(s)}</td>
<td class="${failing ? 'msg bad' : 'msg'}">${s.check_status ? html`<span class="mono">${s.check_status}</span>${s.check_duration !== undefined ? ` · ${s.check_duration} ms` : ''}${s.check_desc ? html`<div class="sub">${s.check_desc}</div>` : ''}` : html`<span class="muted">no check</span>`}</td>
<td class="num">${s.weight ?? ''}</td>
<td class="num">${s.scur !== undefined ? count(s.scur) : ''}</td>
<td class="nowrap">${s.lastchg !== undefined ? `${span(s.lastchg * 1000)} ago` : since(s.since, now)}</td>
</tr>`;
}

/** HAProxy's own status text where it says more than the state word (UP 1/3, DOWN (agent), OPEN). */
function statusNote(x: { state: ServerState; status: string }): Html | '' {
  return x.status.toLowerCase().replace(/ /g, '-') === x.state ? '' : html` <span class="muted">${x.status}</span>`;
}

function frontendTable(frontends: FrontendView[]): Html {
  return html`<table>
<thead><tr><th>Frontend</th><th>State</th><th class="num">Sessions</th></tr></thead>
<tbody>${frontends.map((f) => html`<tr><td class="name">${f.proxy}</td><td class="nowrap">${badge(TONE[f.state], f.state)}${statusNote(f)}</td><td class="num">${f.scur !== undefined ? count(f.scur) : ''}</td></tr>`)}</tbody>
</table>`;
}

function eventItem(e: WatchEvent, now: number): Html {
  const when = html`<time datetime="${e.at}" title="${e.at}">${span(now - Date.parse(e.at))} ago</time>`;
  if (e.event === 'haproxy.reload') {
    return html`<li class="reload">${when}<span><strong>HAProxy reloaded</strong> <span class="muted">pid ${e.from_pid ?? '?'} → ${e.to_pid ?? '?'}${e.version ? ` · ${e.version}` : ''}</span></span></li>`;
  }
  const who = e.event === 'server.state' ? `${e.proxy}/${e.server}` : `${e.proxy} (backend)`;
  return html`<li class="${e.event}">${when}<span><strong>${who}</strong> ${badge(TONE[e.from], e.from)} <span class="arrow">→</span> ${badge(TONE[e.to], e.to)}${e.event === 'server.state' && e.check_status ? html` <span class="muted mono">${e.check_status}</span>${e.check_desc ? html` <span class="muted">${e.check_desc}</span>` : ''}` : ''}</span></li>`;
}

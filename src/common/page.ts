// What every status page shares: HTML that escapes by default, the page frame, the response headers (a strict
// Content-Security-Policy), and the stylesheet, icon and live-update script served from the package.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { HttpReply, Route } from './http';
import { formatSize } from './units';
import { VERSION } from './version';

/** A piece of markup that is already safe: html`` results and nothing else. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** What may be put into html``: markup, text (escaped), numbers, lists of these; null, undefined and false print nothing. */
export type Part = Html | string | number | boolean | null | undefined | readonly Part[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const SPECIAL = /[&<>"']/;
const SPECIALS = /[&<>"']/g;

/** Text made safe for HTML content and quoted attribute values. */
export function escapeHtml(text: string): string {
  // Most text has nothing to escape: testing first is several times faster than replacing (a page of 1,000 checks).
  return SPECIAL.test(text) ? text.replace(SPECIALS, (c) => ESCAPES[c]!) : text;
}

function render(part: Part): string {
  if (typeof part === 'string') return escapeHtml(part);
  if (typeof part === 'number') return String(part);
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return part.map(render).join('');
  if (part === null || part === undefined || part === false) return '';
  return escapeHtml(String(part));
}

/** Tagged template: every interpolated value is escaped unless it is itself Html. Attribute values must be quoted. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** How a state is coloured; the words are always printed next to the colour. */
export type Tone = 'ok' | 'warn' | 'bad' | 'idle';

/** A coloured state label: a dot, then the state in words. */
export function badge(tone: Tone, words: string, title?: string): Html {
  return html`<span class="badge ${tone}"${title ? html` title="${title}"` : ''}>${words}</span>`;
}

/** A short span of time for people: 840ms, 42s, 3m 12s, 2h 05m, 3d 4h. */
export function span(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** How long ago an ISO time was, with the exact time on hover and for machines. */
export function since(iso: string | undefined, now = Date.now()): Html {
  if (!iso) return html`<span class="muted">—</span>`;
  return html`<time datetime="${iso}" title="${iso}">${span(now - Date.parse(iso))}</time>`;
}

/** A count with thousands separators. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A byte count: 512B, 1.5KiB, 5MiB. */
export function bytes(n: number): string {
  return formatSize(n);
}

interface Asset {
  body: string;
  contentType: string;
  /** Path with a content hash, so a browser may keep it for good and still gets a changed one after an upgrade. */
  href: string;
}

const ASSET_TYPES: Record<string, string> = {
  'page.css': 'text/css; charset=utf-8',
  'live.js': 'text/javascript; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

let assets: Record<string, Asset> | undefined;

/** The files under assets/ (copied next to the compiled module by scripts/postbuild.mjs), read once. */
function loadAssets(): Record<string, Asset> {
  assets ??= Object.fromEntries(
    Object.entries(ASSET_TYPES).map(([name, contentType]) => {
      const body = readFileSync(join(__dirname, 'assets', name), 'utf8');
      const hash = createHash('sha256').update(body).digest('hex').slice(0, 10);
      return [name, { body, contentType, href: `/assets/${name}?v=${hash}` }];
    }),
  );
  return assets;
}

/**
 * Scripts and styles only from the program itself, no inline code, no frames, no forms, and fetches only back
 * to the same origin: a page that is rendered from a program's state cannot be made to load anything else.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export interface PageFrame {
  /** "sidekick-probe" */
  program: string;
  /** The state in a few words, first in the window title: "1 unhealthy", "all healthy". */
  headline: string;
  /** How often the live layer fetches the page again. */
  refreshMs: number;
  /** The program's JSON and metrics paths, linked in the header. */
  links: string[];
  /** Extra facts in the header, after the program's name (the socket, the engine). */
  about?: Html;
  /** When the program started (epoch ms): shown, and a change tells the live layer the program restarted. */
  startedAt: number;
  main: Html;
}

/** A whole page: the header, a connection banner the live layer fills, the main part, a footer. */
export function renderPage(f: PageFrame): string {
  const a = loadAssets();
  const now = Date.now();
  const host = hostname();
  return html`<!doctype html>
<html lang="en" data-refresh="${f.refreshMs}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${f.headline} · ${f.program} on ${host}</title>
<link rel="icon" href="${a['icon.svg']!.href}">
<link rel="stylesheet" href="${a['page.css']!.href}">
<script src="${a['live.js']!.href}" defer></script>
<noscript><meta http-equiv="refresh" content="10"></noscript>
</head>
<body>
<header class="top">
<div class="brand"><img src="${a['icon.svg']!.href}" alt="" width="22" height="22"><strong>${f.program}</strong><span class="muted">on ${host}</span>${f.about ?? ''}</div>
<nav aria-label="Data"><span class="muted">JSON and metrics:</span>${f.links.map((l) => html`<a href="${l}">${l}</a>`)}</nav>
</header>
<div id="conn" class="conn" role="status" hidden></div>
<main id="main" data-live data-started="${f.startedAt}">
${f.main}
</main>
<footer id="foot" data-live>${f.program} ${VERSION} · up ${span(now - f.startedAt)} · rendered <time datetime="${new Date(now).toISOString()}">${new Date(now).toISOString().slice(11, 19)} UTC</time> · updates every ${span(f.refreshMs)} (with scripts off: every 10s)</footer>
</body>
</html>
`.text;
}

/** Pages larger than this go gzipped to a browser that accepts it (a page of 1,000 checks: 1.7 MB, 26 KB gzipped). */
const GZIP_OVER = 16 * 1024;

/** A page as an HTTP reply, with the security headers; gzipped when large and the client accepts gzip. */
export function pageReply(body: string, acceptEncoding = ''): HttpReply {
  const reply: HttpReply = { status: 200, body, contentType: 'text/html; charset=utf-8', headers: { ...PAGE_HEADERS, vary: 'accept-encoding' } };
  if (body.length > GZIP_OVER && /\bgzip\b/.test(acceptEncoding)) {
    reply.body = gzipSync(body, { level: 1 });
    reply.headers!['content-encoding'] = 'gzip';
  }
  return reply;
}

/** Routes for a program's page at `/` and the assets it loads. */
export function pageRoutes(page: () => string | Promise<string>): Record<string, Route> {
  const routes: Record<string, Route> = { '/': async (req) => pageReply(await page(), String(req.headers['accept-encoding'] ?? '')) };
  for (const [name, asset] of Object.entries(loadAssets())) {
    routes[`/assets/${name}`] = () => ({
      status: 200,
      body: asset.body,
      contentType: asset.contentType,
      headers: { 'cache-control': 'public, max-age=31536000, immutable', 'x-content-type-options': 'nosniff' },
    });
  }
  return routes;
}

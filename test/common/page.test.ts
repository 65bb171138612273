// The pages' shared parts: escaping by default, the frame and its headers, and the assets served from the package.
import { PassThrough } from 'node:stream';
import { startHttp } from '../../src/common/http';
import { createLogger } from '../../src/common/log';
import { CONTENT_SECURITY_POLICY, escapeHtml, html, pageRoutes, renderPage, span } from '../../src/common/page';

describe('html``', () => {
  it('escapes every interpolated value, in text and in attributes, unless it is html itself', () => {
    const name = `<script>alert("x")</script> & 'y'`;
    const out = html`<td title="${name}">${name}${html`<b>${name}</b>`}</td>`.text;
    expect(out).toBe(
      '<td title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;' +
        '<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;</b></td>',
    );
  });

  it('joins lists and prints nothing for null, undefined and false', () => {
    expect(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>${null}${undefined}${false}${0}`.text).toBe('<ul><li>a&lt;</li><li>b</li></ul>0');
    expect(escapeHtml('"&')).toBe('&quot;&amp;');
  });
});

describe('span', () => {
  it.each([
    [840, '840ms'],
    [42_000, '42s'],
    [192_000, '3m 12s'],
    [2 * 3600_000 + 5 * 60_000, '2h 05m'],
    [3 * 86400_000 + 4 * 3600_000, '3d 4h'],
    [-1, '—'],
  ])('%d ms reads %s', (ms, text) => expect(span(ms)).toBe(text));
});

describe('renderPage and pageRoutes', () => {
  const logger = createLogger({ name: 't', destination: new PassThrough(), format: 'json' });

  it('serves the page with a strict policy and the assets it links, nothing inline', async () => {
    const page = renderPage({ program: 'sidekick-test', headline: '1 <down>', refreshMs: 1000, links: ['/state'], startedAt: Date.now(), main: html`<p>${'<hi>'}</p>` });
    expect(page).toContain('<title>1 &lt;down&gt; · sidekick-test on ');
    expect(page).not.toMatch(/<script>|<style|style="|\son[a-z]+="/);
    const http = await startHttp({ listen: '127.0.0.1:0', logger, routes: pageRoutes(() => page) });
    try {
      const res = await fetch(`${http.url}/`);
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const body = await res.text();
      const linked = [...body.matchAll(/(?:href|src)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
      expect(new Set(linked.map((l) => l.split('?')[0]))).toEqual(new Set(['/assets/icon.svg', '/assets/page.css', '/assets/live.js']));
      let total = 0;
      for (const href of new Set(linked)) {
        const asset = await fetch(`${http.url}${href}`);
        expect(asset.status).toBe(200);
        expect(asset.headers.get('content-type')).toMatch(/^(text\/css|text\/javascript|image\/svg\+xml)/);
        total += (await asset.text()).length;
      }
      // Small: the three assets together stay under 16 KiB.
      expect(total).toBeLessThan(16 * 1024);
    } finally {
      await http.close();
    }
  });

  it('sends a large page gzipped to a client that accepts it, and plain to one that does not', async () => {
    const rows = Array.from({ length: 2000 }, (_v, i) => html`<p>row ${i}</p>`);
    const page = renderPage({ program: 'sidekick-test', headline: 'big', refreshMs: 1000, links: [], startedAt: Date.now(), main: html`${rows}` });
    const http = await startHttp({ listen: '127.0.0.1:0', logger, routes: pageRoutes(() => page) });
    try {
      const zipped = await fetch(`${http.url}/`, { headers: { 'accept-encoding': 'gzip' } });
      expect(zipped.headers.get('content-encoding')).toBe('gzip');
      expect(Number(zipped.headers.get('content-length'))).toBeLessThan(page.length / 4);
      expect(await zipped.text()).toBe(page);
      const plain = await fetch(`${http.url}/`, { headers: { 'accept-encoding': 'identity' } });
      expect(plain.headers.get('content-encoding')).toBeNull();
      expect(await plain.text()).toBe(page);
    } finally {
      await http.close();
    }
  });
});

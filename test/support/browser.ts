/**
 * A real browser for the status-page tests: Debian's Chromium driven by playwright-core (which downloads no
 * browser). Every page records the requests it makes and the Content-Security-Policy violations it reports, and
 * any request to somewhere other than 127.0.0.1 is refused, so a test can assert that nothing left the machine.
 *
 *   const b = await openBrowser();
 *   const res = await b.page.goto(url);
 *   await shows(b.page, '#liveness', /Not live/);
 *   expect(b.offHost()).toEqual([]);
 *   await b.close();
 *
 * Without Chromium, describeWithBrowser() skips its tests with the reason locally and fails them under CI=true.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { sleep } from './wait';

export const CHROMIUM = process.env.SIDEKICK_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Flags that keep a headless Chromium quiet and local (no sync, updates, QUIC or background requests). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

export function describeWithBrowser(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM) || isCi()) describe(name, fn);
  else describe.skip(`${name} (skipped: no Chromium at ${CHROMIUM}; apt-get install chromium)`, fn);
}

/** Launches Chromium (playwright gives each launch a fresh profile directory). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Every URL the page asked for. */
  requests: string[];
  /** Console errors and page errors, Content-Security-Policy violations among them. */
  errors: string[];
  /** Requests that went (or tried to go) anywhere but 127.0.0.1. */
  offHost(): string[];
  close(): Promise<void>;
}

const LOCAL = /^http:\/\/127\.0\.0\.1(:\d+)?\//;

export async function openBrowser(opts: { javaScriptEnabled?: boolean; width?: number; height?: number } = {}): Promise<BrowserSession> {
  const browser = await launchChromium();
  const context = await browser.newContext({
    javaScriptEnabled: opts.javaScriptEnabled ?? true,
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
  });
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  await context.route(/.*/, (route) => (LOCAL.test(route.request().url()) ? route.continue() : route.abort()));
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return {
    browser,
    context,
    page,
    requests,
    errors,
    offHost: () => requests.filter((u) => !LOCAL.test(u)),
    close: () => browser.close(),
  };
}

/** Waits until the element's visible text matches; fails with what it showed instead. */
export async function shows(page: Page, selector: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    last = await page
      .locator(selector)
      .first()
      .innerText({ timeout: 1000 })
      .catch((err: Error) => `(not found: ${err.message.split('\n')[0]})`);
    if (pattern.test(last)) return last;
    if (Date.now() > deadline) throw new Error(`${selector} did not show ${pattern} within ${timeoutMs} ms; it shows: ${last.slice(0, 500)}`);
    await sleep(100);
  }
}

/** Marks the loaded document; stillSameDocument() is true only if the page was never reloaded since. */
export async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => ((globalThis as unknown as { sidekickMark: boolean }).sidekickMark = true));
}

export async function stillSameDocument(page: Page): Promise<boolean> {
  return page.evaluate(() => (globalThis as unknown as { sidekickMark?: boolean }).sidekickMark === true);
}

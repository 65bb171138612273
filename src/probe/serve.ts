// `sidekick-probe serve`: runs the checks and publishes their state: an HTTP API (/healthz /readyz /checks
// /metrics), an HAProxy agent-check port, state-change events on stdout and to webhooks, and heartbeat pushes.
import { setFlagsFromString } from 'node:v8';
import { Counter, Gauge } from 'prom-client';
import { startHttp, type HttpListener, type HttpReply } from '../common/http';
import { pageRoutes } from '../common/page';
import type { WebhookStats } from '../common/webhooks';
import type { Logger } from '../common/log';
import { newRegistry } from '../common/metrics';
import { startAgent, agentReply, type AgentListener } from './agent';
import type { ProbeSettings } from './config';
import { enableTcpFastPath, releaseProbes } from './kinds';
import { Scheduler, history, type CheckRuntime } from './scheduler';
import { isLive, isReady, type Health } from './state';
import { describeTarget } from './types';
import { Webhooks, where } from '../common/webhooks';
import { fillPushUrl, pushHeartbeat } from './push';
import { renderProbePage } from './page';

export interface StateEvent {
  check: string;
  from: Health;
  to: Health;
  at: string;
  message: string;
}

export interface Server {
  scheduler: Scheduler;
  http: HttpListener;
  agent?: AgentListener;
  webhooks: Webhooks;
  stop(): Promise<void>;
}

export interface ServeOptions {
  logger: Logger;
  /** Where state-change events go as JSON lines; default stdout. */
  events?: (line: string) => void;
}

/**
 * Keeps V8's young generation at its initial size. Every probe result is kept for a while (history), so enough
 * survives each scavenge that V8 would grow the young generation to its 32 MiB maximum; at a steady thousand
 * probes a second a small one costs no measurable CPU and saves about 40 MiB of RSS. The flag is read each time
 * V8 considers growing, so setting it at run time works (unlike --max-semi-space-size).
 */
export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

export async function serve(settings: ProbeSettings, opts: ServeOptions): Promise<Server> {
  keepYoungGenerationSmall();
  const { logger } = opts;
  const emit = opts.events ?? ((line: string) => process.stdout.write(line));
  const registry = newRegistry('sidekick-probe');
  const webhooks = new Webhooks({
    targets: settings.webhooks.map((w) => ({ url: w.url, headers: w.headers, timeoutMs: w.timeout, secret: settings.webhook_secret })),
    maxQueue: settings.webhook_queue,
    maxAttempts: settings.webhook_attempts,
    backoffMs: 250,
    logger,
  });
  const pushing = new Set<CheckRuntime>();

  const changes = new Counter({ name: 'probe_state_changes_total', help: 'Health state changes of a check', labelNames: ['check', 'from', 'to'], registers: [registry] });

  const scheduler = new Scheduler(settings.checks, settings.history, {
    onTransition: (rt, from, to, r) => {
      const event: StateEvent = { check: rt.config.name, from, to, at: new Date(r.at).toISOString(), message: r.message };
      changes.inc({ check: rt.config.name, from, to });
      emit(JSON.stringify(event) + '\n');
      logger.info({ check: event.check, from, to, why: r.message }, 'check state changed');
      webhooks.send(event);
    },
    onResult: (rt, r) => {
      const push = rt.config.push;
      if (!push || rt.state.health !== 'healthy' || pushing.has(rt)) return;
      pushing.add(rt);
      const url = fillPushUrl(push.url, { check: rt.config.name, status: 'up', message: r.message, duration_ms: Math.round(r.duration_ms) });
      void pushHeartbeat(url, push.method, Math.max(rt.config.timeout, 2000)).then((failure) => {
        pushing.delete(rt);
        if (failure) logger.warn({ check: rt.config.name, push: where(push.url), why: failure }, 'heartbeat push failed');
      });
    },
  });
  const checks = scheduler.checks;

  // Gauges are filled when scraped, so a thousand checks a second cost nothing between scrapes.
  const gauge = (name: string, help: string, value: (rt: CheckRuntime) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['check', 'kind'],
      registers: [registry],
      collect() {
        this.reset();
        for (const rt of checks) {
          const v = value(rt);
          if (v !== undefined) this.set({ check: rt.config.name, kind: rt.config.target.kind }, v);
        }
      },
    });
  };
  gauge('probe_success', 'Whether the last probe of the check succeeded', (rt) => (rt.last ? (rt.last.ok ? 1 : 0) : undefined));
  gauge('probe_duration_seconds', 'Duration of the last probe', (rt) => (rt.last ? rt.last.duration_ms / 1000 : undefined));
  gauge('probe_healthy', 'Health of the check after rise/fall: 1 healthy, 0 starting or unhealthy', (rt) => (rt.state.health === 'healthy' ? 1 : 0));
  const counter = (name: string, help: string, value: (rt: CheckRuntime) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['check', 'kind'],
      registers: [registry],
      collect() {
        this.reset();
        for (const rt of checks) this.inc({ check: rt.config.name, kind: rt.config.target.kind }, value(rt));
      },
    });
  };
  counter('probe_runs_total', 'Probes run since start', (rt) => rt.runs);
  counter('probe_failures_total', 'Failed probes since start', (rt) => rt.failures);
  new Gauge({
    name: 'probe_webhook_events',
    help: 'Webhook events by outcome (delivered, failed, dropped, retries, queued)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      for (const [k, v] of Object.entries(webhooks.stats)) this.set({ outcome: k }, v);
    },
  });

  const view = (role: 'liveness' | 'readiness'): { ok: boolean; checks: object[] } => {
    const judged = checks.filter((c) => c.config.role === role || c.config.role === 'both');
    const pass = role === 'liveness' ? isLive : isReady;
    return {
      ok: judged.every((c) => pass(c.state.health)),
      checks: judged.map((c) => ({ check: c.config.name, state: c.state.health, ok: pass(c.state.health), message: c.last?.message ?? 'not run yet' })),
    };
  };
  const roleReply = (role: 'liveness' | 'readiness'): HttpReply => {
    const v = view(role);
    return { status: v.ok ? 200 : 503, body: { status: v.ok ? 'ok' : 'unhealthy', checks: v.checks } };
  };

  const checksBody = (): ChecksBody => ({ live: view('liveness').ok, ready: view('readiness').ok, checks: checks.map(describeCheck), webhooks: webhooks.stats });
  const startedAt = Date.now();
  const http = await startHttp({
    listen: settings.http,
    logger,
    registry,
    health: () => {
      const v = view('liveness');
      return { ok: v.ok, detail: v.checks };
    },
    routes: {
      '/readyz': () => roleReply('readiness'),
      '/livez': () => roleReply('liveness'),
      '/checks': () => ({ status: 200, body: checksBody() }),
      ...pageRoutes(() => renderProbePage(checksBody(), { historySize: settings.history, webhooks: settings.webhooks.length, startedAt })),
    },
  });

  let agent: AgentListener | undefined;
  try {
    if (settings.agent) {
      const replies = settings.agent;
      agent = await startAgent(replies, () => agentReply(checks, replies), logger);
    }
  } catch (err) {
    await http.close();
    throw err;
  }
  if (settings.tcp_fastpath && settings.checks.some((c) => c.target.kind === 'tcp')) {
    const off = await enableTcpFastPath();
    if (off) logger.info({ why: off }, 'tcp checks use net.connect: the fast path is not available');
    else logger.debug('tcp connect checks use the fast path (tcp_fastpath: false or SIDEKICK_PROBE_TCP_FASTPATH=0 turns it off)');
  }
  scheduler.start();
  logger.info({ checks: checks.length }, 'checks started');

  return {
    scheduler,
    http,
    agent,
    webhooks,
    async stop() {
      await scheduler.stop();
      await Promise.all([http.close(), agent?.close()]);
      await webhooks.close(settings.grace / 2);
      releaseProbes();
    },
  };
}

/** One check as /checks shows it (and the page renders it). */
export interface CheckView {
  check: string;
  kind: string;
  target: string;
  role: 'liveness' | 'readiness' | 'both';
  interval_ms: number;
  timeout_ms: number;
  rise: number;
  fall: number;
  start_period_ms: number;
  state: Health;
  /** ISO time the state began. */
  since: string;
  /** Consecutive results counting toward rise (successes) or fall (failures). */
  consecutive: { successes: number; failures: number };
  counters: { runs: number; successes: number; failures: number; state_changes: number };
  last: ResultView | null;
  /** The last `history` results, oldest first. */
  history: ResultView[];
}

export interface ResultView {
  at: string;
  ok: boolean;
  duration_ms: number;
  message: string;
  detail: object;
}

/** The /checks body: overall liveness and readiness (as /healthz and /readyz judge them), every check, webhook counters. */
export interface ChecksBody {
  live: boolean;
  ready: boolean;
  checks: CheckView[];
  webhooks: WebhookStats;
}

function describeCheck(rt: CheckRuntime): CheckView {
  const c = rt.config;
  return {
    check: c.name,
    kind: c.target.kind,
    target: describeTarget(c.target),
    role: c.role,
    interval_ms: c.interval,
    timeout_ms: c.timeout,
    rise: c.rise,
    fall: c.fall,
    start_period_ms: c.start_period,
    state: rt.state.health,
    since: new Date(rt.state.changed_at).toISOString(),
    consecutive: { successes: rt.state.successes, failures: rt.state.failures },
    counters: { runs: rt.runs, successes: rt.successes, failures: rt.failures, state_changes: rt.transitions },
    last: rt.last ? resultView(rt.last) : null,
    history: history(rt).map(resultView),
  };
}

function resultView(r: { at: number; ok: boolean; duration_ms: number; message: string; detail: object }): ResultView {
  return { at: new Date(r.at).toISOString(), ok: r.ok, duration_ms: r.duration_ms, message: r.message, detail: r.detail };
}

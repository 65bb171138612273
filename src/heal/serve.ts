// sidekick-heal running: checks the engine, follows it, and serves /healthz, /metrics, /state and the
// authenticated POST /events endpoint for sidekick-probe and sidekick-haproxy events.
import { Counter, Gauge } from 'prom-client';
import { startHttp, type HttpListener, type HttpReply } from '../common/http';
import type { Logger } from '../common/log';
import { newRegistry } from '../common/metrics';
import { Webhooks } from '../common/webhooks';
import { EventAuth } from './auth';
import type { HealSettings } from './config';
import { checkEngine, engineClient } from './engine';
import { Healer, type HealEvent } from './healer';
import { healMetrics } from './metrics';
import { parseIncoming } from './signals';

export interface HealServer {
  healer: Healer;
  http: HttpListener;
  webhooks: Webhooks;
  engine: { version: string; api_version: string };
  stop(): Promise<void>;
}

export interface HealServeOptions {
  logger: Logger;
  /** Where heal.* events go as JSON lines; default stdout. */
  events?: (line: string) => void;
}

/** Starts heal; throws EngineError (exit 1) when the engine cannot be reached at start, naming its address. */
export async function startHeal(settings: HealSettings, opts: HealServeOptions): Promise<HealServer> {
  const { logger } = opts;
  const write = opts.events ?? ((line: string) => process.stdout.write(line));
  const docker = engineClient(settings.docker_host);
  const engine = await checkEngine(docker, settings.docker_host);
  logger.info({ engine: settings.docker_host.url, version: engine.version, api_version: engine.api_version }, 'connected to the container engine');
  if (settings.dry_run) logger.warn('dry run: decisions are reported as events, no container is touched');

  const registry = newRegistry('sidekick-heal');
  const metrics = healMetrics(registry);
  const webhooks = new Webhooks({
    targets: settings.webhooks.map((w) => ({ url: w.url, headers: w.headers, timeoutMs: w.timeout, secret: settings.webhook_secret })),
    maxQueue: settings.webhook_queue,
    logger,
  });
  const emit = (e: HealEvent): void => {
    write(JSON.stringify(e) + '\n');
    webhooks.send(e);
  };
  const healer = new Healer({ settings, docker, logger, metrics, emit });
  new Gauge({
    name: 'sidekick_heal_engine_up',
    help: 'Whether the engine events stream is open',
    registers: [registry],
    collect() {
      this.set(healer.follower.connected ? 1 : 0);
    },
  });
  new Counter({
    name: 'sidekick_heal_engine_disconnects_total',
    help: 'Times the engine events stream was lost',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(healer.follower.disconnects);
    },
  });
  new Gauge({
    name: 'sidekick_heal_webhook_events',
    help: 'Webhook events by outcome (delivered, failed, dropped, retries, queued)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      for (const [k, v] of Object.entries(webhooks.stats)) this.set({ outcome: k }, v);
    },
  });

  const auth = new EventAuth({ secret: settings.secret, token: settings.token, replayWindowMs: settings.replay_window });
  if (!auth.enabled) logger.info('POST /events refuses everything: set SIDEKICK_HEAL_SECRET or SIDEKICK_HEAL_TOKEN (or their _FILE) to accept sidekick-probe and sidekick-haproxy events');
  const reject = (status: number, reason: string, error: string): HttpReply => {
    metrics.rejected.inc({ reason });
    logger.warn({ reason }, 'refused a POSTed event');
    return { status, body: { error, reason } };
  };

  const http = await startHttp({
    listen: settings.http,
    logger,
    registry,
    health: () => ({
      ok: healer.follower.connected,
      detail: { engine: settings.docker_host.url, connected: healer.follower.connected, ...(healer.follower.lastError ? { error: healer.follower.lastError } : {}) },
    }),
    routes: {
      '/state': () => ({
        status: 200,
        body: { engine: { url: settings.docker_host.url, connected: healer.follower.connected, version: engine.version }, dry_run: settings.dry_run, ...healer.view() },
      }),
    },
    post: {
      '/events': async (req, _url, body) => {
        const verdict = auth.check(req.headers, body);
        if (!verdict.ok) {
          const why = verdict.reason === 'disabled' ? 'events are not accepted: no secret or token is configured' : 'not authenticated';
          return reject(401, verdict.reason, why);
        }
        const event = parseIncoming(body);
        if ('error' in event) return reject(400, 'malformed', event.error);
        if ('ignored' in event) return { status: 202, body: { accepted: true, ignored: event.ignored } };
        const queued = await healer.receive(event);
        return { status: 202, body: { accepted: true, queued } };
      },
    },
  });
  healer.start();
  logger.info({ http: http.url, label: settings.label, dry_run: settings.dry_run }, 'healing opted-in containers');
  return {
    healer,
    http,
    webhooks,
    engine,
    async stop() {
      await healer.stop();
      await http.close();
      await webhooks.close(settings.grace / 2);
    },
  };
}

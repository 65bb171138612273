// Command-line interface of sidekick-haproxy: show, info, watch and set over HAProxy's runtime API.
import { Command, Option } from 'commander';
import { newCommand, parseWith, withLogOptions } from '../common/cli';
import { UsageError } from '../common/errors';
import { startHttp, type HttpListener } from '../common/http';
import { createLogger } from '../common/log';
import { newRegistry } from '../common/metrics';
import { onShutdown } from '../common/shutdown';
import { DURATION_EXPECTED, formatDuration, parseDuration } from '../common/units';
import { parseInfo } from './info';
import { registerStatMetrics, statToPrometheus } from './metrics';
import { formatAddress, parseSocketAddress, RuntimeClient, type SocketAddress, type SocketMode } from './socket';
import { parseServersState, type AdminFlag, type OpState, type ServerStateRow } from './servers-state';
import { describeMalformed, parseStat, rowToJson, type StatRow } from './stat';
import { Watcher, type TransitionalMode, type WatchEvent } from './watch';
import { renderWatchPage, type WatchStateBody } from './page';
import { pageRoutes } from '../common/page';
import { Webhooks } from '../common/webhooks';
import { readSecret } from '../common/secrets';
import { redactUrl } from '../common/redact';
import { Counter, Gauge, Histogram } from 'prom-client';

const DEFAULT_SOCKET = '/run/haproxy/admin.sock';
/** Events kept for /state and the page, newest first. */
const RECENT_EVENTS = 50;
const SOCKET_EXPECTED = 'a unix socket path such as /run/haproxy/admin.sock, or HOST:PORT';

interface SocketOpts {
  socket: SocketAddress;
  socketMode: SocketMode;
  timeout: number;
}

function withSocketOptions(cmd: Command, mode: SocketMode = 'oneshot'): Command {
  return cmd
    .addOption(
      new Option('--socket <path|host:port>', 'HAProxy runtime API: unix socket path or HOST:PORT')
        .env('SIDEKICK_HAPROXY_SOCKET')
        .default(parseSocketAddress(DEFAULT_SOCKET), DEFAULT_SOCKET)
        .argParser(parseWith('--socket', parseSocketAddress, SOCKET_EXPECTED)),
    )
    .addOption(new Option('--socket-mode <mode>', 'oneshot: a connection per command; prompt: one interactive session, reopened when closed').choices(['oneshot', 'prompt']).default(mode))
    .addOption(new Option('--timeout <duration>', 'longest wait for an answer from HAProxy').default(5000, '5s').argParser(parseWith('--timeout', positiveDuration, DURATION_EXPECTED)));
}

function positiveDuration(text: string): number | undefined {
  const ms = parseDuration(text);
  return ms !== undefined && ms > 0 ? ms : undefined;
}

function client(o: SocketOpts): RuntimeClient {
  return new RuntimeClient({ address: o.socket, mode: o.socketMode, timeoutMs: o.timeout });
}

/** Runs the commands of a one-off CLI call, then closes the session so a `prompt` connection does not keep the process alive. */
async function withClient<T>(o: SocketOpts, fn: (api: RuntimeClient) => Promise<T>): Promise<T> {
  const api = client(o);
  try {
    return await fn(api);
  } finally {
    api.close();
  }
}

export function haproxyCommand(name = 'sidekick-haproxy'): Command {
  const program = newCommand(name, "Reads HAProxy's runtime API: server states as a table, JSON or Prometheus text; a watch that emits state-change events; admin state changes.", [
    `${name} show --socket /run/haproxy/admin.sock`,
    `${name} show --backend app --servers --json`,
    `${name} show --prom --socket 127.0.0.1:9999`,
    `${name} info --json`,
    `${name} watch --interval 1s --webhook http://orchestrator:9000/haproxy-events --http :9101`,
    `${name} set app/web1 drain`,
  ]);
  program.addCommand(showCommand(name)).addCommand(infoCommand(name)).addCommand(watchCommand(name)).addCommand(setCommand(name));
  return program;
}

function showCommand(prog: string): Command {
  const cmd = newCommand('show', 'Show frontends, backends and servers with their state (from `show stat`).', [
    `${prog} show`,
    `${prog} show --backend app --servers`,
    `${prog} show --json | jq '.[] | select(.state != "up")'`,
    `${prog} show --prom > haproxy.prom`,
    `${prog} show --servers --admin     # who put a server in maintenance: the admin, a tracked server, the config or DNS`,
  ]);
  withSocketOptions(cmd)
    .option('--json', 'print a JSON array of rows: proxy, name, type, status, state, check_status and every other column, typed')
    .option('--prom', 'print Prometheus text: one gauge per state labelled proxy and server, plus weights, sessions and checks')
    .option('--backend <name>', 'only this backend (or frontend) and its servers')
    .option('--servers', 'only server rows')
    .option('--admin', 'add each server\'s admin flags and operational state from `show servers state` (column ADMIN; JSON admin, op_state)')
    .action(async (o: SocketOpts & { json?: boolean; prom?: boolean; backend?: string; servers?: boolean; admin?: boolean }) => {
      if (o.json && o.prom) throw new UsageError('--json and --prom cannot be used together; choose one output format');
      if (o.admin && o.prom) throw new UsageError('--admin adds fields to the table and to --json, not to --prom; leave one out');
      const [statText, stateText] = await withClient(o, async (api) => [await api.command('show stat'), o.admin ? await api.command('show servers state') : undefined]);
      const table = parseStat(statText);
      for (const m of table.malformed) process.stderr.write(`${prog}: warning: ${describeMalformed(m)}\n`);
      const admin = stateText === undefined ? undefined : adminByServer(parseServersState(stateText));
      table.rows = table.rows.filter((r) => (o.backend === undefined || r.proxy === o.backend) && (!o.servers || r.type === 'server'));
      if (o.backend !== undefined && table.rows.length === 0) {
        throw new UsageError(`--backend ${JSON.stringify(o.backend)}: no such proxy${o.servers ? ' with servers' : ''} in HAProxy's show stat`);
      }
      if (o.json) process.stdout.write(JSON.stringify(table.rows.map((r) => ({ ...rowToJson(r), ...admin?.get(`${r.proxy}/${r.name}`) })), null, 2) + '\n');
      else if (o.prom) process.stdout.write(await statToPrometheus(table));
      else process.stdout.write(formatTable(table.rows, admin));
    });
  return cmd;
}

interface AdminState {
  admin: AdminFlag[];
  op_state: OpState;
}

/** `show servers state` rows by "backend/server", for joining onto `show stat` rows. */
function adminByServer(rows: ServerStateRow[]): Map<string, AdminState> {
  return new Map(rows.map((r) => [`${r.backend}/${r.server}`, { admin: r.adminFlags, op_state: r.opState }]));
}

/** The readable table: one line per row, padded columns; with `admin`, an ADMIN column of admin flags. */
export function formatTable(rows: readonly StatRow[], admin?: Map<string, AdminState>): string {
  const head = ['PROXY', 'NAME', 'TYPE', 'STATE', 'STATUS', 'CHECK', 'WEIGHT', 'SESSIONS', 'LAST CHANGE', ...(admin ? ['ADMIN'] : [])];
  const lines = rows.map((r) => {
    const f = r.fields;
    const check = typeof f.check_status === 'string' ? `${f.check_status}${typeof f.check_duration === 'number' ? ` ${f.check_duration}ms` : ''}` : '';
    return [
      r.proxy,
      r.name,
      r.type,
      r.state,
      r.status,
      check,
      f.weight === undefined ? '' : String(f.weight),
      f.scur === undefined ? '' : String(f.scur),
      typeof f.lastchg === 'number' ? `${formatDuration(f.lastchg * 1000)} ago` : '',
      ...(admin ? [admin.get(`${r.proxy}/${r.name}`)?.admin.join(',') ?? ''] : []),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  return [head, ...lines].map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function infoCommand(prog: string): Command {
  const cmd = newCommand('info', 'Show the HAProxy process information (from `show info`).', [`${prog} info`, `${prog} info --json`]);
  withSocketOptions(cmd)
    .option('--json', 'print every key as a JSON object, numbers typed')
    .action(async (o: SocketOpts & { json?: boolean }) => {
      const info = parseInfo(await withClient(o, (api) => api.command('show info')));
      if (o.json) {
        process.stdout.write(JSON.stringify(info.values, null, 2) + '\n');
        return;
      }
      const keys = ['Name', 'Version', 'Release_date', 'Pid', 'Uptime', 'Nbthread', 'CurrConns', 'Maxconn', 'Idle_pct', 'Stopping', 'node'];
      const shown = keys.filter((k) => info.values[k] !== undefined);
      const w = Math.max(...shown.map((k) => k.length));
      process.stdout.write(shown.map((k) => `${(k + ':').padEnd(w + 1)} ${info.values[k]}`).join('\n') + '\n');
    });
  return cmd;
}

function watchCommand(prog: string): Command {
  const cmd = newCommand(
    'watch',
    'Poll HAProxy and print one JSON line per real state change of a server or backend (server.state, backend.state), and haproxy.reload on a reload; optionally POST them to webhooks and serve a status page, /state, /healthz and /metrics.',
    [
      `${prog} watch --socket /run/haproxy/admin.sock --interval 1s`,
      `${prog} watch --webhook http://orchestrator:9000/events --webhook http://backup:9000/events`,
      `${prog} watch --http 0.0.0.0:9101 --transitional report --settle 3s`,
    ],
  );
  withLogOptions(
    withSocketOptions(cmd, 'prompt')
      .addOption(new Option('--interval <duration>', 'time between polls').default(2000, '2s').argParser(parseWith('--interval', positiveDuration, DURATION_EXPECTED)))
      .addOption(
        new Option('--webhook <url>', 'POST each event as JSON to this URL (repeatable; retried with backoff, bounded queue; signed when SIDEKICK_HAPROXY_WEBHOOK_SECRET or SIDEKICK_HAPROXY_WEBHOOK_SECRET_FILE is set)')
          // The environment variable may hold several URLs separated by commas or spaces.
          .argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), ...v.split(/[\s,]+/).filter(Boolean).map(checkUrl)])
          .env('SIDEKICK_HAPROXY_WEBHOOKS'),
      )
      .addOption(new Option('--http <host:port>', 'serve the status page at /, /state, /healthz and /metrics here').env('SIDEKICK_HAPROXY_HTTP'))
      .addOption(new Option('--listen <host:port>', 'old name of --http').hideHelp())
      .addOption(
        new Option('--transitional <mode>', 'UP n/m and DOWN n/m: hide (count as the steady state they leave) or report (as going-down / going-up)').choices(['hide', 'report']).default('hide'),
      )
      .addOption(new Option('--settle <duration>', 'report a new state only once it has held this long (flap damping)').default(0, '0s').argParser(parseWith('--settle', parseDuration, DURATION_EXPECTED)))
      .addOption(
        new Option('--reload-grace <duration>', 'after a reload, wait this long for checks to settle before comparing states').default(5000, '5s').argParser(parseWith('--reload-grace', parseDuration, DURATION_EXPECTED)),
      )
      .addOption(new Option('--webhook-queue <n>', 'events kept per webhook while it is unreachable').default(1000).argParser(parseWith('--webhook-queue', positiveInt, 'a positive integer'))),
  ).action(async (o: SocketOpts & { interval: number; webhook?: string[]; http?: string; listen?: string; transitional: TransitionalMode; settle: number; reloadGrace: number; webhookQueue: number; logLevel: string; logFormat: 'json' | 'text' | 'auto' }, self: Command) => {
    // --listen is the old name of --http; as flags they conflict, and either flag overrides SIDEKICK_HAPROXY_HTTP.
    const httpFlag = self.getOptionValueSource('http') === 'cli';
    if (httpFlag && o.listen !== undefined) throw new UsageError('--listen is the old name of --http; give only --http');
    const httpAddress = httpFlag ? o.http : (o.listen ?? o.http);
    const logger = createLogger({ name: 'sidekick-haproxy', level: o.logLevel, format: o.logFormat });
    const webhooks = o.webhook ?? [];
    const env = process.env;
    const secret = readSecret('SIDEKICK_HAPROXY_WEBHOOK_SECRET_FILE', env.SIDEKICK_HAPROXY_WEBHOOK_SECRET, env.SIDEKICK_HAPROXY_WEBHOOK_SECRET_FILE);
    const sender = webhooks.length > 0 ? new Webhooks({ targets: webhooks.map((url) => ({ url, secret })), logger, maxQueue: o.webhookQueue }) : undefined;
    const registry = newRegistry('sidekick-haproxy');
    const events = new Counter({ name: 'sidekick_haproxy_events_total', help: 'Events emitted', labelNames: ['event'], registers: [registry] });
    const polls = new Counter({ name: 'sidekick_haproxy_polls_total', help: 'Polls of the runtime API', labelNames: ['result'], registers: [registry] });
    const pollSeconds = new Histogram({ name: 'sidekick_haproxy_poll_duration_seconds', help: 'Time to read and diff one snapshot', registers: [registry], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
    const up = new Gauge({ name: 'haproxy_up', help: 'Whether the last poll of the runtime API succeeded', registers: [registry] });
    new Gauge({
      name: 'sidekick_haproxy_webhook_queue',
      help: 'Events waiting for webhook delivery',
      registers: [registry],
      collect() {
        this.set(sender?.stats.queued ?? 0);
      },
    });
    new Gauge({
      name: 'sidekick_haproxy_webhook_events',
      help: 'Webhook deliveries by outcome (since start)',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        for (const k of ['delivered', 'failed', 'dropped', 'retries'] as const) this.set({ outcome: k }, sender?.stats[k] ?? 0);
      },
    });
    const recent: WatchEvent[] = [];
    const emit = (e: WatchEvent): void => {
      recent.unshift(e);
      if (recent.length > RECENT_EVENTS) recent.pop();
      process.stdout.write(JSON.stringify(e) + '\n');
      events.inc({ event: e.event });
      sender?.send(e);
      if (e.event === 'haproxy.reload') logger.info({ from_pid: e.from_pid, to_pid: e.to_pid }, 'HAProxy reloaded; re-baselining');
    };
    const watcher = new Watcher({
      client: client(o),
      intervalMs: o.interval,
      transitional: o.transitional,
      settleMs: o.settle,
      reloadGraceMs: o.reloadGrace,
      logger,
      onEvent: emit,
      onPoll: (r) => {
        polls.inc({ result: r.ok ? 'ok' : 'error' });
        up.set(r.ok ? 1 : 0);
        if (r.ok) pollSeconds.observe(r.durationMs / 1000);
      },
    });
    registerStatMetrics(registry, () => watcher.table);
    new Counter({
      name: 'sidekick_haproxy_malformed_rows_total',
      help: 'show stat rows skipped because their field count did not match the header',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(watcher.malformedRows);
      },
    });
    const startedAt = Date.now();
    const state = (): WatchStateBody => ({
      socket: formatAddress(o.socket),
      pid: watcher.info?.pid,
      version: watcher.info?.version,
      interval_ms: o.interval,
      polled_at: watcher.lastPollAt ? new Date(watcher.lastPollAt).toISOString() : undefined,
      error: watcher.lastError,
      items: watcher.tracker.view(),
      frontends: (watcher.table?.rows ?? []).filter((r) => r.type === 'frontend').map((r) => ({ proxy: r.proxy, state: r.state, status: r.status, ...(typeof r.fields.scur === 'number' ? { scur: r.fields.scur } : {}) })),
      events: recent,
    });
    let http: HttpListener | undefined;
    if (httpAddress !== undefined) {
      http = await startHttp({
        listen: httpAddress,
        logger,
        registry,
        health: () => ({ ok: watcher.lastError === undefined && watcher.table !== undefined, detail: { socket: formatAddress(o.socket), ...(watcher.lastError ? { error: watcher.lastError } : {}) } }),
        routes: {
          '/state': () => ({ status: watcher.table ? 200 : 503, body: state() }),
          ...pageRoutes(() => renderWatchPage(state(), { startedAt })),
        },
      });
    }
    logger.info({ socket: formatAddress(o.socket), interval_ms: o.interval, webhooks: webhooks.length, transitional: o.transitional }, 'watching HAProxy');
    watcher.start();
    onShutdown({
      logger,
      graceMs: 10000,
      stop: async () => {
        await watcher.stop();
        await sender?.close(5000);
        await http?.close();
      },
    });
    // The action never resolves: the process runs until a signal.
    await new Promise<never>(() => undefined);
  });
  return cmd;
}

function positiveInt(text: string): number | undefined {
  return /^\d+$/.test(text) && Number(text) > 0 ? Number(text) : undefined;
}

function checkUrl(v: string): string {
  try {
    const u = new URL(v);
    if (u.protocol === 'http:' || u.protocol === 'https:') return v;
  } catch {
    // fall through to the usage error
  }
  throw new UsageError(`flag --webhook: ${JSON.stringify(redactUrl(v))} is not valid; expected an http:// or https:// URL`);
}

const SET_STATES = ['ready', 'drain', 'maint'] as const;

function setCommand(prog: string): Command {
  const cmd = newCommand('set', "Set a server's admin state: ready (back in rotation), drain (no new sessions) or maint (out). Needs a socket with level admin.", [
    `${prog} set app/web1 drain`,
    `${prog} set app/web1 ready --socket 127.0.0.1:9999`,
  ]);
  withSocketOptions(cmd)
    .argument('<backend/server>', 'the server, as BACKEND/SERVER')
    .argument('<state>', `one of ${SET_STATES.join(', ')}`)
    .action(async (target: string, state: string, o: SocketOpts) => {
      if (!/^[A-Za-z0-9._:-]+\/[A-Za-z0-9._:-]+$/.test(target)) {
        throw new UsageError(`BACKEND/SERVER ${JSON.stringify(target)} is not valid; expected a backend and a server name separated by "/", such as app/web1`);
      }
      if (!(SET_STATES as readonly string[]).includes(state)) throw new UsageError(`state ${JSON.stringify(state)} is not valid; expected one of ${SET_STATES.join(', ')}`);
      const reply = (await withClient(o, (api) => api.command(`set server ${target} state ${state}`))).trim();
      // HAProxy answers nothing on success and a sentence ("No such server.") on failure.
      if (reply !== '') throw new Error(`HAProxy refused to set ${target} to ${state}: ${reply}`);
      process.stdout.write(`${target}: admin state set to ${state}\n`);
    });
  return cmd;
}

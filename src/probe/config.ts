// checks.yml: the zod schema of `serve` and `run` configuration, validated once into typed CheckConfigs.
// Errors name the check (by its name and position) and the key.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../common/errors';
import { duration, hostPort, loadConfig, readYamlFile, webhookTarget, type FlagValue } from '../common/config';
import { readSecret } from '../common/secrets';
import { parseJsonPathSpec, parseStatusRanges, regexError, STATUS_EXPECTED } from './parse';
import type { CheckConfig, Kind, Role, Target } from './types';

export const DEFAULT_TIMEOUT: Record<Kind, number> = { tcp: 1000, http: 2000, exec: 5000, icmp: 1000, file: 1000 };

const regex = () =>
  z.string().superRefine((v, ctx) => {
    const err = regexError(v);
    if (err) ctx.addIssue({ code: 'custom', message: `expected a regular expression (${err})` });
  });

const caFile = () =>
  z.string().transform((file, ctx) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `cannot read CA file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      return z.NEVER;
    }
  });

const positiveInt = () => z.number().int().min(1);
const role = z.enum(['liveness', 'readiness', 'both']);

/** Schedule and thresholds: set per check, or once under `defaults` for every check. */
const timing = {
  interval: duration().optional(),
  timeout: duration().optional(),
  rise: positiveInt().optional(),
  fall: positiveInt().optional(),
  start_period: duration().optional(),
  role: role.optional(),
};

const common = {
  name: z.string().min(1).regex(/^[A-Za-z0-9_.:-]+$/, 'expected a name of letters, digits and _.:-'),
  ...timing,
  push: z
    .union([z.url(), z.strictObject({ url: z.url(), method: z.enum(['GET', 'POST', 'PUT']).default('GET') })])
    .optional(),
};

const tls = {
  insecure: z.boolean().optional(),
  ca: caFile().optional(),
  cert_expiry: duration().optional(),
  servername: z.string().optional(),
};

const tcpCheck = z.strictObject({
  ...common,
  ...tls,
  kind: z.literal('tcp'),
  target: hostPort(),
  send: z.string().optional(),
  expect: regex().optional(),
  tls: z.boolean().optional(),
});

const statusRanges = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const r = parseStatusRanges(v);
  if (!r) {
    ctx.addIssue({ code: 'custom', message: `expected ${STATUS_EXPECTED}` });
    return z.NEVER;
  }
  return r;
});

const httpCheck = z.strictObject({
  ...common,
  ...tls,
  kind: z.literal('http'),
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']).default('GET'),
  status: statusRanges.default([{ from: 200, to: 399 }]),
  headers: z.record(z.string(), z.string()).default({}),
  body: regex().optional(),
  request_body: z.string().optional(),
  json_path: z
    .union([z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), z.array(z.string())])
    .transform((v, ctx) => {
      const specs = Array.isArray(v) ? v.map((s) => parseJsonPathSpec(s)) : Object.entries(v).map(([path, value]) => ({ path, value: String(value) }));
      if (specs.some((s) => s === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'expected PATH=VALUE entries such as status=ok, or a mapping of path: value' });
        return z.NEVER;
      }
      return specs as { path: string; value: string }[];
    })
    .optional(),
  follow_redirects: z.union([z.boolean(), z.number().int().min(0).max(20)]).default(0),
});

const execCheck = z.strictObject({
  ...common,
  kind: z.literal('exec'),
  command: z.union([z.array(z.string()).min(1), z.string().min(1)]),
  shell: z.boolean().default(false),
});

const icmpCheck = z.strictObject({
  ...common,
  kind: z.literal('icmp'),
  host: z.string().min(1),
  count: positiveInt().max(100).default(1),
});

const fileCheck = z.strictObject({
  ...common,
  kind: z.literal('file'),
  path: z.string().min(1),
  max_age: duration().optional(),
});

const check = z.discriminatedUnion('kind', [tcpCheck, httpCheck, execCheck, icmpCheck, fileCheck], {
  error: 'expected kind to be one of tcp, http, exec, icmp, file',
});

const agentReplies = {
  healthy: z.string().default('up ready'),
  unhealthy: z.string().default('down'),
  starting: z.string().default('down'),
};

const defaults = z.strictObject(timing).default({});

export const probeConfigSchema = z
  .strictObject({
    http: z.string().default('0.0.0.0:8080'),
    agent: z.union([z.string(), z.strictObject({ listen: z.string(), ...agentReplies })]).optional(),
    webhooks: z.array(webhookTarget()).default([]),
    webhook_queue: positiveInt().default(1000),
    webhook_attempts: positiveInt().default(8),
    history: positiveInt().max(1000).default(10),
    grace: duration().default(10_000),
    tcp_fastpath: z.boolean().default(true),
    defaults,
    checks: z.array(check).min(1, 'expected at least one check'),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.checks.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: ['checks', i, 'name'], message: `expected a unique name; checks[${seen.get(c.name)}] has it too` });
      seen.set(c.name, i);
    });
  });

type RawConfig = z.output<typeof probeConfigSchema>;
type RawCheck = RawConfig['checks'][number];

export interface AgentOptions {
  listen: string;
  healthy: string;
  unhealthy: string;
  starting: string;
}

export interface WebhookOptions {
  url: string;
  headers: Record<string, string>;
  timeout: number;
}

export interface ProbeSettings {
  /** HTTP address: the page at /, /healthz /readyz /checks /metrics (`http:`, or its old name `listen:`). */
  http: string;
  agent?: AgentOptions;
  webhooks: WebhookOptions[];
  /** Signs every webhook request (X-Sidekick-Signature) when set; from SIDEKICK_PROBE_WEBHOOK_SECRET or its _FILE. */
  webhook_secret?: string;
  webhook_queue: number;
  webhook_attempts: number;
  history: number;
  grace: number;
  /** Plain tcp connect checks to IP addresses use Node's TCP handle directly (see kinds/tcp-fastpath.ts). */
  tcp_fastpath: boolean;
  checks: CheckConfig[];
}

/** Loads checks.yml (with env and flag overrides) into settings; throws ConfigError naming the check and key. */
export function loadProbeConfig(file: string | undefined, flags: FlagValue[] = [], env: NodeJS.ProcessEnv = process.env): ProbeSettings {
  let raw: RawConfig;
  try {
    raw = loadConfig(probeConfigSchema, {
      file,
      env,
      aliases: { listen: 'http' },
      envBindings: {
        SIDEKICK_PROBE_LISTEN: { key: 'http' },
        SIDEKICK_PROBE_HTTP: { key: 'http' },
        SIDEKICK_PROBE_AGENT: { key: 'agent' },
        SIDEKICK_PROBE_WEBHOOKS: { key: 'webhooks', kind: 'list' },
        SIDEKICK_PROBE_TCP_FASTPATH: { key: 'tcp_fastpath', kind: 'bool' },
      },
      flags,
    });
  } catch (err) {
    throw err instanceof ConfigError && file ? nameChecks(err, file) : err;
  }
  const d = raw.defaults;
  return {
    http: raw.http,
    agent:
      raw.agent === undefined
        ? undefined
        : typeof raw.agent === 'string'
          ? { listen: raw.agent, healthy: 'up ready', unhealthy: 'down', starting: 'down' }
          : raw.agent,
    webhooks: raw.webhooks,
    webhook_secret: readSecret('SIDEKICK_PROBE_WEBHOOK_SECRET_FILE', env.SIDEKICK_PROBE_WEBHOOK_SECRET, env.SIDEKICK_PROBE_WEBHOOK_SECRET_FILE),
    webhook_queue: raw.webhook_queue,
    webhook_attempts: raw.webhook_attempts,
    history: raw.history,
    grace: raw.grace,
    tcp_fastpath: raw.tcp_fastpath,
    checks: raw.checks.map((c) => ({
      name: c.name,
      target: toTarget(c),
      interval: c.interval ?? d.interval ?? 10_000,
      timeout: c.timeout ?? d.timeout ?? DEFAULT_TIMEOUT[c.kind],
      rise: c.rise ?? d.rise ?? 1,
      fall: c.fall ?? d.fall ?? 3,
      start_period: c.start_period ?? d.start_period ?? 0,
      role: (c.role ?? d.role ?? 'both') as Role,
      push: c.push === undefined ? undefined : typeof c.push === 'string' ? { url: c.push, method: 'GET' } : c.push,
    })),
  };
}

function toTarget(c: RawCheck): Target {
  switch (c.kind) {
    case 'tcp': {
      const { host, port } = c.target;
      return { kind: 'tcp', host: host === '0.0.0.0' ? '127.0.0.1' : host, port, send: c.send, expect: c.expect, tls: c.tls, insecure: c.insecure, ca: c.ca, cert_expiry: c.cert_expiry, servername: c.servername };
    }
    case 'http':
      return {
        kind: 'http',
        url: c.url,
        method: c.method,
        status: c.status,
        headers: Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k.toLowerCase(), v])),
        body: c.body,
        json_path: c.json_path,
        follow_redirects: c.follow_redirects === true ? 10 : c.follow_redirects === false ? 0 : c.follow_redirects,
        request_body: c.request_body,
        insecure: c.insecure,
        ca: c.ca,
        cert_expiry: c.cert_expiry,
        servername: c.servername,
      };
    case 'exec':
      return { kind: 'exec', command: typeof c.command === 'string' ? [c.command] : c.command, shell: c.shell || typeof c.command === 'string' };
    case 'icmp':
      return { kind: 'icmp', host: c.host, count: c.count };
    case 'file':
      return { kind: 'file', path: c.path, max_age: c.max_age };
  }
}

/** Rewrites "checks[3].url: …" as "check "api" (checks[3]) url: …" so the user finds the check by its name. */
function nameChecks(err: ConfigError, file: string): ConfigError {
  let names: unknown[] = [];
  try {
    const tree = readYamlFile(file);
    if (Array.isArray(tree.checks)) names = tree.checks.map((c: unknown) => (c && typeof c === 'object' ? (c as Record<string, unknown>).name : undefined));
  } catch {
    return err;
  }
  const issues = err.issues.map((line) =>
    line.replace(/^checks\[(\d+)\](\.|: )?/, (_m, i: string, sep: string | undefined) => {
      const name = names[Number(i)];
      const label = `check ${typeof name === 'string' ? JSON.stringify(name) + ' ' : ''}(checks[${i}])`;
      return sep === '.' ? `${label} ` : `${label}${sep ?? ''}`;
    }),
  );
  return new ConfigError(err.where, issues);
}

// sidekick-heal's configuration: YAML keys < DOCKER_HOST and SIDEKICK_HEAL_* variables < flags, validated once;
// the shared secrets come from the environment or files only.
import { z } from 'zod';
import { duration, loadConfig, parseHostPort, webhookTarget, type FlagValue } from '../common/config';
import { UsageError } from '../common/errors';
import { readSecret } from '../common/secrets';
import { parseDockerHost, type EngineAddress } from './engine';

export const ACTIONS = ['restart', 'recreate', 'none'] as const;
/** What heal does to an unhealthy container: restart it, replace it by a new one, or only report. */
export type HealAction = (typeof ACTIONS)[number];

/** Shortest shared secret or token accepted: a guessable one would let anyone restart containers. */
export const MIN_SECRET_LENGTH = 16;

const DOCKER_HOST_EXPECTED = 'unix:///path/to/docker.sock, an absolute socket path, or tcp://HOST:PORT';

const listen = () =>
  z.string().refine((v) => parseHostPort(v) !== undefined, { message: 'expected HOST:PORT, such as 127.0.0.1:5067' });

const count = (min: number) => z.number().int(`expected a whole number of at least ${min}`).min(min, `expected a whole number of at least ${min}`);

export const healConfigSchema = z
  .strictObject({
    docker_host: z.string().default('unix:///var/run/docker.sock').refine((v) => parseDockerHost(v) !== undefined, { message: `expected ${DOCKER_HOST_EXPECTED}` }),
    label: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/, 'expected a label key of lower-case letters, digits, dots, dashes and underscores, such as sidekick.heal')
      .default('sidekick.heal'),
    action: z.enum(ACTIONS).default('restart'),
    min_interval: duration().default(30_000),
    max_interval: duration().default(600_000),
    max_actions: count(1).default(3),
    window: duration().default(3_600_000),
    min_healthy: count(0).default(1),
    start_period: duration().default(0),
    stop_timeout: duration().default(10_000),
    down_grace: duration().default(10_000),
    replay_window: duration().default(300_000),
    resync: duration().default(60_000),
    http: listen().default('127.0.0.1:5067'),
    webhooks: z.array(webhookTarget()).default([]),
    webhook_queue: count(1).default(1000),
    map: z
      .strictObject({
        probe: z.record(z.string(), z.string().min(1)).default({}),
        haproxy: z.record(z.string(), z.string().min(1)).default({}),
      })
      .default({ probe: {}, haproxy: {} }),
    dry_run: z.boolean().default(false),
    grace: duration().default(10_000),
    secret_file: z.string().min(1).optional(),
    token_file: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.max_interval < c.min_interval) ctx.addIssue({ code: 'custom', path: ['max_interval'], message: `expected at least min_interval (${c.min_interval} ms)` });
    if (c.window <= 0) ctx.addIssue({ code: 'custom', path: ['window'], message: 'expected a duration longer than 0' });
    for (const key of Object.keys(c.map.haproxy)) {
      if (!/^[^/]+\/[^/]+$/.test(key)) ctx.addIssue({ code: 'custom', path: ['map', 'haproxy', key], message: 'expected the key to be BACKEND/SERVER, such as app/web1' });
    }
    if (c.resync > 0 && c.resync < 1000) ctx.addIssue({ code: 'custom', path: ['resync'], message: 'expected 0 (off) or at least 1s' });
  });

type Raw = z.output<typeof healConfigSchema>;

/** Everything heal runs with; durations in milliseconds. Secrets are present only when configured. */
export interface HealSettings extends Omit<Raw, 'docker_host' | 'secret_file' | 'token_file'> {
  docker_host: EngineAddress;
  /** HMAC secret that signed events must carry (SIDEKICK_HEAL_SECRET, SIDEKICK_HEAL_SECRET_FILE or secret_file). */
  secret?: string;
  /** Bearer token accepted instead of a signature (SIDEKICK_HEAL_TOKEN, SIDEKICK_HEAL_TOKEN_FILE or token_file). */
  token?: string;
  /** Signs heal's own webhooks (SIDEKICK_HEAL_WEBHOOK_SECRET or SIDEKICK_HEAL_WEBHOOK_SECRET_FILE). */
  webhook_secret?: string;
}

/** Environment variables and the keys they set; DOCKER_HOST is the engine's own variable. */
export const HEAL_ENV = {
  DOCKER_HOST: { key: 'docker_host' },
  SIDEKICK_HEAL_LABEL: { key: 'label' },
  SIDEKICK_HEAL_ACTION: { key: 'action' },
  SIDEKICK_HEAL_HTTP: { key: 'http' },
  SIDEKICK_HEAL_WEBHOOKS: { key: 'webhooks', kind: 'list' },
  SIDEKICK_HEAL_DRY_RUN: { key: 'dry_run', kind: 'bool' },
  SIDEKICK_HEAL_MIN_HEALTHY: { key: 'min_healthy', kind: 'int' },
  SIDEKICK_HEAL_MAX_ACTIONS: { key: 'max_actions', kind: 'int' },
} as const;

/** Loads the configuration; throws ConfigError (exit 2) naming the file, variable or flag, the key and what was expected. */
export function loadHealConfig(file: string | undefined, flags: FlagValue[] = [], env: NodeJS.ProcessEnv = process.env): HealSettings {
  const raw = loadConfig(healConfigSchema, { file, env, envBindings: HEAL_ENV, flags });
  const { docker_host, secret_file, token_file, ...rest } = raw;
  // An empty variable is unset (compose's `${SIDEKICK_HEAL_SECRET:-}` when the user set none).
  const e = (name: string): string | undefined => env[name] || undefined;
  const secret = readSecret('SIDEKICK_HEAL_SECRET_FILE', e('SIDEKICK_HEAL_SECRET'), e('SIDEKICK_HEAL_SECRET_FILE') ?? secret_file) || undefined;
  const token = readSecret('SIDEKICK_HEAL_TOKEN_FILE', e('SIDEKICK_HEAL_TOKEN'), e('SIDEKICK_HEAL_TOKEN_FILE') ?? token_file) || undefined;
  for (const [what, value] of [
    ['SIDEKICK_HEAL_SECRET', secret],
    ['SIDEKICK_HEAL_TOKEN', token],
  ] as const) {
    if (value !== undefined && value.length < MIN_SECRET_LENGTH) {
      throw new UsageError(`${what} (or its _FILE): the value is too short (${value.length} characters); expected at least ${MIN_SECRET_LENGTH}, e.g. from: openssl rand -hex 32`);
    }
  }
  return {
    ...rest,
    docker_host: parseDockerHost(docker_host)!,
    secret,
    token,
    webhook_secret: readSecret('SIDEKICK_HEAL_WEBHOOK_SECRET_FILE', e('SIDEKICK_HEAL_WEBHOOK_SECRET'), e('SIDEKICK_HEAL_WEBHOOK_SECRET_FILE')) || undefined,
  };
}

/** The labels heal reads on a container, all under the configured prefix (default `sidekick.heal`). */
export interface LabelNames {
  /** "true" opts the container in. */
  enable: string;
  /** restart | recreate | none */
  action: string;
  /** Initializing grace after a start, besides the HEALTHCHECK's start period. */
  start_period: string;
  /** Seconds or a duration the engine waits for the container to stop before killing it. */
  stop_timeout: string;
  /** Quorum group, when compose's project/service labels are not the grouping wanted. */
  service: string;
  /** Quorum: healthy peers needed before acting. */
  min_healthy: string;
  /** sidekick-probe check names (comma-separated) whose failure means this container is unhealthy. */
  probe_check: string;
  /** HAProxy servers as BACKEND/SERVER (comma-separated) whose DOWN means this container is unhealthy. */
  haproxy_server: string;
}

export function labelNames(prefix: string): LabelNames {
  return {
    enable: prefix,
    action: `${prefix}.action`,
    start_period: `${prefix}.start_period`,
    stop_timeout: `${prefix}.stop_timeout`,
    service: `${prefix}.service`,
    min_healthy: `${prefix}.min_healthy`,
    probe_check: `${prefix}.probe_check`,
    haproxy_server: `${prefix}.haproxy_server`,
  };
}

// Command-line interface of sidekick-heal; the heavy parts (dockerode, the controller) load only when it runs.
import { Command, Option } from 'commander';
import { newCommand, parseWith, withLogOptions } from '../common/cli';

const ACTION_CHOICES = ['restart', 'recreate', 'none'];

function wholeNumber(text: string): number | undefined {
  return /^\d+$/.test(text.trim()) ? Number(text) : undefined;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

interface HealFlags {
  config?: string;
  dockerHost?: string;
  http?: string;
  label?: string;
  action?: string;
  dryRun?: boolean;
  minInterval?: string;
  maxInterval?: string;
  maxActions?: number;
  window?: string;
  minHealthy?: number;
  startPeriod?: string;
  stopTimeout?: string;
  downGrace?: string;
  webhook?: string[];
  logLevel: string;
  logFormat: 'auto' | 'json' | 'text';
}

export function healCommand(name = 'sidekick-heal'): Command {
  const cmd = newCommand(
    name,
    'Restarts or recreates unhealthy containers that opted in by label (sidekick.heal=true), through the Docker Engine API: on the engine\'s HEALTHCHECK state, sidekick-probe and sidekick-haproxy events; with a start period, back-off, a cap per window, a quorum per service and --dry-run.',
    [
      `${name}`,
      `${name} --dry-run --log-level debug`,
      `${name} -c /etc/sidekick/heal.yml --http 0.0.0.0:5067`,
      `SIDEKICK_HEAL_SECRET_FILE=/run/secrets/heal ${name} --docker-host unix:///run/docker.sock`,
      `docker run -l sidekick.heal=true -l sidekick.heal.action=restart --health-cmd 'curl -f localhost:8000/ping' app`,
    ],
  )
    .option('-c, --config <file>', 'YAML configuration (see README); environment variables and flags override it')
    .option('--docker-host <url>', 'the engine: unix:///var/run/docker.sock (default) or tcp://HOST:PORT; env DOCKER_HOST')
    .option('--http <host:port>', '/healthz, /metrics, /state and POST /events; env SIDEKICK_HEAL_HTTP; default 127.0.0.1:5067')
    .option('--label <key>', 'opt-in label (value "true"); also the prefix of the per-container labels; default sidekick.heal')
    .addOption(new Option('--action <action>', 'what to do when a container has no <label>.action label; default restart').choices(ACTION_CHOICES))
    .option('--dry-run', 'decide and report as events, but touch no container; env SIDEKICK_HEAL_DRY_RUN')
    .option('--min-interval <duration>', 'back-off after the first action on a container, doubling per action; default 30s')
    .option('--max-interval <duration>', 'longest back-off; default 10m')
    .option('--max-actions <n>', 'actions per container per window, then heal.gave_up; default 3', parseWith('--max-actions', wholeNumber, 'a whole number'))
    .option('--window <duration>', 'the window max-actions counts in; default 1h')
    .option('--min-healthy <n>', 'quorum: healthy other containers of the service needed before acting; default 1', parseWith('--min-healthy', wholeNumber, 'a whole number'))
    .option('--start-period <duration>', 'leave a container alone this long after it starts (besides its HEALTHCHECK start period); default 0s')
    .option('--stop-timeout <duration>', 'how long the engine waits for a container to stop before killing it; default 10s')
    .option('--down-grace <duration>', 'an HAProxy server must be DOWN this long before heal acts; default 10s')
    .option('--webhook <url>', 'POST each heal.* event here (repeatable); env SIDEKICK_HEAL_WEBHOOKS; signed with SIDEKICK_HEAL_WEBHOOK_SECRET(_FILE)', collect);
  cmd.addHelpText(
    'after',
    '\nSecrets (never flags): SIDEKICK_HEAL_SECRET or SIDEKICK_HEAL_SECRET_FILE (HMAC of signed events), SIDEKICK_HEAL_TOKEN or SIDEKICK_HEAL_TOKEN_FILE (bearer token).\n',
  );
  withLogOptions(cmd).action(async (o: HealFlags) => {
    const { loadHealConfig } = await import('./config');
    const settings = loadHealConfig(o.config, [
      { flag: '--docker-host', key: 'docker_host', value: o.dockerHost },
      { flag: '--http', key: 'http', value: o.http },
      { flag: '--label', key: 'label', value: o.label },
      { flag: '--action', key: 'action', value: o.action },
      { flag: '--dry-run', key: 'dry_run', value: o.dryRun },
      { flag: '--min-interval', key: 'min_interval', value: o.minInterval },
      { flag: '--max-interval', key: 'max_interval', value: o.maxInterval },
      { flag: '--max-actions', key: 'max_actions', value: o.maxActions },
      { flag: '--window', key: 'window', value: o.window },
      { flag: '--min-healthy', key: 'min_healthy', value: o.minHealthy },
      { flag: '--start-period', key: 'start_period', value: o.startPeriod },
      { flag: '--stop-timeout', key: 'stop_timeout', value: o.stopTimeout },
      { flag: '--down-grace', key: 'down_grace', value: o.downGrace },
      { flag: '--webhook', key: 'webhooks', value: o.webhook },
    ]);
    const { createLogger } = await import('../common/log');
    const { onShutdown } = await import('../common/shutdown');
    const { startHeal } = await import('./serve');
    const logger = createLogger({ name: 'sidekick-heal', level: o.logLevel, format: o.logFormat });
    const server = await startHeal(settings, { logger });
    onShutdown({ logger, graceMs: settings.grace, stop: () => server.stop() });
  });
  return cmd;
}

// Command-line interface of sidekick-probe. One-shot checks must start fast (they run every few seconds in many
// containers), so this module imports only commander and tiny local modules; each action loads what it needs.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { exitWith, newCommand, parseWith, withLogOptions } from '../common/cli';
import { UsageError } from '../common/errors';
import { redactUrl } from '../common/redact';
import { DURATION_EXPECTED, parseDuration } from '../common/units';
import { formatResult, resultLine } from './output';
import { parseHeader, parseJsonPathSpec, parseStatusRanges, parseTarget, regexError, STATUS_EXPECTED } from './parse';
import type { HttpTarget, ProbeConfig, Target } from './types';

const durationArg = (flag: string) => parseWith(flag, parseDuration, DURATION_EXPECTED);
const intArg = (flag: string, min: number, max: number) =>
  parseWith(flag, (t) => (/^\d+$/.test(t) && +t >= min && +t <= max ? +t : undefined), `an integer from ${min} to ${max}`);
const regexArg = (flag: string) => (text: string) => {
  const err = regexError(text);
  if (err) throw new UsageError(`flag ${flag}: ${JSON.stringify(text)} is not a valid regular expression (${err})`);
  return text;
};
const collect = <T>(parse: (t: string) => T) => (text: string, prev: T[] | undefined) => [...(prev ?? []), parse(text)];

function readCa(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`flag --ca: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

interface CommonFlags {
  timeout: number;
  json?: boolean;
  name?: string;
}

/** Adds --timeout, --json and --name to a one-shot command. */
function oneShot(cmd: Command, defaultTimeout: string): Command {
  return cmd
    .addOption(new Option('--timeout <duration>', 'give up after this long').argParser(durationArg('--timeout')).default(parseDuration(defaultTimeout), defaultTimeout))
    .option('--json', 'print the result as one JSON object')
    .option('--name <name>', 'check name printed with the result (default: the kind)');
}

/** Runs one probe, prints its result, and returns the exit status (0 healthy, 1 unhealthy). */
async function runOnce(target: Target, flags: CommonFlags): Promise<number> {
  const { runProbe, releaseProbes } = await import('./kinds');
  const cfg = { ...target, timeout: flags.timeout } as ProbeConfig;
  const r = await runProbe(cfg);
  releaseProbes();
  process.stdout.write(formatResult(resultLine(flags.name ?? target.kind, target, r), flags.json === true) + '\n');
  return r.ok ? 0 : 1;
}

function tlsFlags(cmd: Command): Command {
  return cmd
    .option('--insecure', 'do not verify the TLS certificate')
    .option('--ca <file>', 'PEM file of CA certificates to trust')
    .option('--cert-expiry <duration>', 'fail when the certificate expires within this long (e.g. 7d)', durationArg('--cert-expiry'))
    .option('--servername <name>', 'TLS server name (SNI) to send and verify');
}

function tcpCommand(): Command {
  const cmd = newCommand('tcp', 'Check that a TCP port accepts connections (optionally TLS, send/expect).', [
    'sidekick-probe tcp db:5432',
    "sidekick-probe tcp redis:6379 --send 'PING\\r\\n' --expect '^\\+PONG'",
    'sidekick-probe tcp example.org:443 --tls --cert-expiry 14d --json',
  ]).argument('<host:port>', 'target, e.g. db:5432 or [::1]:80');
  oneShot(cmd, '1s')
    .option('--send <text>', 'text to send once connected (\\r \\n \\t are interpreted)')
    .option('--expect <regex>', 'the reply must match this regular expression', regexArg('--expect'))
    .option('--tls', 'connect with TLS (the certificate is verified)');
  tlsFlags(cmd).action(async (hostPort: string, o: CommonFlags & Record<string, string | boolean | number | undefined>) => {
    const hp = parseTarget(hostPort);
    if (!hp) throw new UsageError(`target ${JSON.stringify(hostPort)} is not valid; expected HOST:PORT such as db:5432 or [::1]:80`);
    exitWith(
      await runOnce(
        {
          kind: 'tcp',
          host: hp.host,
          port: hp.port,
          send: o.send as string | undefined,
          expect: o.expect as string | undefined,
          tls: o.tls === true,
          insecure: o.insecure === true,
          ca: readCa(o.ca as string | undefined),
          cert_expiry: o.certExpiry as number | undefined,
          servername: o.servername as string | undefined,
        },
        o,
      ),
    );
  });
  return cmd;
}

function httpCommand(): Command {
  const cmd = newCommand('http', 'Check an HTTP(S) endpoint: status, body, JSON values, certificate.', [
    'sidekick-probe http http://127.0.0.1:8000/ping',
    "sidekick-probe http https://api:8443/health --ca /etc/ssl/ca.pem --status 200 --json-path status=UP --header 'Accept: application/json'",
    'sidekick-probe http http://127.0.0.1:8000/ --status 200-299 --body ok --follow-redirects',
  ]).argument('<url>', 'http:// or https:// URL');
  oneShot(cmd, '2s')
    .option('--method <method>', 'request method', 'GET')
    .addOption(new Option('--status <ranges>', `accepted statuses: ${STATUS_EXPECTED}`).argParser(parseWith('--status', parseStatusRanges, STATUS_EXPECTED)).default([{ from: 200, to: 399 }], '200-399'))
    .option('--header <"Name: value">', 'request header (repeatable)', collect(parseWith('--header', parseHeader, 'a header such as "Accept: application/json"')))
    .option('--body <regex>', 'the response body must match this regular expression', regexArg('--body'))
    .option('--json-path <path=value>', 'a JSON body value must equal VALUE, e.g. status=UP or checks[0].state=ok (repeatable)', collect(parseWith('--json-path', parseJsonPathSpec, 'PATH=VALUE such as status=UP')))
    .option('--data <text>', 'request body to send')
    .addOption(new Option('--follow-redirects [max]', 'follow redirects (default: the redirect is the response judged)').argParser(intArg('--follow-redirects', 0, 20)).preset(10));
  tlsFlags(cmd).action(async (url: string, o: CommonFlags & Record<string, unknown>) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`URL ${JSON.stringify(redactUrl(url))} is not valid; expected http://HOST[:PORT]/PATH or https://…`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`URL ${JSON.stringify(redactUrl(url))}: expected an http:// or https:// URL`);
    const method = String(o.method).toUpperCase();
    if (!/^[A-Z]+$/.test(method)) throw new UsageError(`flag --method: ${JSON.stringify(o.method)} is not a valid method`);
    const target: HttpTarget = {
      kind: 'http',
      url,
      method,
      status: o.status as HttpTarget['status'],
      headers: Object.fromEntries((o.header as [string, string][] | undefined) ?? []),
      body: o.body as string | undefined,
      json_path: o.jsonPath as HttpTarget['json_path'],
      follow_redirects: (o.followRedirects as number | undefined) ?? 0,
      request_body: o.data as string | undefined,
      insecure: o.insecure === true,
      ca: readCa(o.ca as string | undefined),
      cert_expiry: o.certExpiry as number | undefined,
      servername: o.servername as string | undefined,
    };
    exitWith(await runOnce(target, o));
  });
  return cmd;
}

function execCommand(): Command {
  const cmd = newCommand('exec', 'Run a command; exit status 0 is healthy. No shell unless --shell; on timeout its whole process group is killed.', [
    'sidekick-probe exec -- /app/bin/check-queue --max 1000',
    "sidekick-probe exec --shell --timeout 10s -- 'pg_isready -h db | grep accepting'",
  ])
    .argument('<command...>', 'command and arguments (put them after --)')
    .passThroughOptions();
  oneShot(cmd, '5s')
    .option('--shell', 'run the command through /bin/sh -c')
    .action(async (command: string[], o: CommonFlags & { shell?: boolean }) => {
      exitWith(await runOnce({ kind: 'exec', command, shell: o.shell === true }, o));
    });
  return cmd;
}

function icmpCommand(): Command {
  const cmd = newCommand('icmp', 'Ping a host (ICMP echo; needs root or CAP_NET_RAW).', ['sidekick-probe icmp 10.0.0.5', 'sidekick-probe icmp gateway --count 3 --timeout 500ms']).argument(
    '<host>',
    'IP address or name (resolved first)',
  );
  oneShot(cmd, '1s')
    .option('--count <n>', 'echo requests to send; healthy if any is answered', intArg('--count', 1, 100), 1)
    .action(async (host: string, o: CommonFlags & { count: number }) => {
      exitWith(await runOnce({ kind: 'icmp', host, count: o.count }, o));
    });
  return cmd;
}

function fileCommand(): Command {
  const cmd = newCommand('file', 'Check that a heartbeat or log file exists and was modified recently.', [
    'sidekick-probe file /var/run/app/heartbeat --max-age 30s',
    'sidekick-probe file /var/log/app/app.log --max-age 5m --json',
  ]).argument('<path>', 'file to check');
  oneShot(cmd, '1s')
    .option('--max-age <duration>', 'unhealthy when last modified longer ago than this', durationArg('--max-age'))
    .action(async (path: string, o: CommonFlags & { maxAge?: number }) => {
      exitWith(await runOnce({ kind: 'file', path, max_age: o.maxAge }, o));
    });
  return cmd;
}

function runCommand(): Command {
  return newCommand('run', 'Run every check of a checks.yml once and exit 0 if all are healthy, 1 otherwise.', [
    'sidekick-probe run --config checks.yml',
    'sidekick-probe run --config checks.yml --check db --check api --json',
  ])
    .requiredOption('--config <file>', 'checks.yml')
    .option('--check <name>', 'run only this check (repeatable)', collect((t: string) => t))
    .option('--json', 'print one JSON object per check')
    .action(async (o: { config: string; check?: string[]; json?: boolean }) => {
      const { loadProbeConfig } = await import('./config');
      const { runProbe, releaseProbes } = await import('./kinds');
      const settings = loadProbeConfig(o.config);
      const unknown = (o.check ?? []).filter((n) => !settings.checks.some((c) => c.name === n));
      if (unknown.length) throw new UsageError(`flag --check: no check named ${unknown.map((n) => JSON.stringify(n)).join(', ')} in ${o.config}`);
      const checks = settings.checks.filter((c) => !o.check || o.check.includes(c.name));
      const results = await Promise.all(checks.map((c) => runProbe({ ...c.target, timeout: c.timeout })));
      releaseProbes();
      checks.forEach((c, i) => process.stdout.write(formatResult(resultLine(c.name, c.target, results[i]), o.json === true) + '\n'));
      exitWith(results.every((r) => r.ok) ? 0 : 1);
    });
}

function serveCommand(): Command {
  const cmd = newCommand('serve', 'Run the checks on their intervals and publish their health: HTTP API, HAProxy agent-check, events, webhooks.', [
    'sidekick-probe serve --config checks.yml',
    'sidekick-probe serve --config checks.yml --http 127.0.0.1:8080 --agent 0.0.0.0:8081 --webhook http://orchestrator:9000/health-events',
  ])
    .requiredOption('--config <file>', 'checks.yml (see README for the keys)')
    .option('--http <host:port>', 'HTTP address: the status page at /, /healthz /readyz /checks /metrics; env SIDEKICK_PROBE_HTTP; default 0.0.0.0:8080')
    .addOption(new Option('--listen <host:port>', 'old name of --http').hideHelp())
    .option('--agent <host:port>', 'HAProxy agent-check address; env SIDEKICK_PROBE_AGENT')
    .option('--webhook <url>', 'POST state changes here (repeatable); env SIDEKICK_PROBE_WEBHOOKS (comma-separated); signed when SIDEKICK_PROBE_WEBHOOK_SECRET or SIDEKICK_PROBE_WEBHOOK_SECRET_FILE is set', collect((t: string) => t));
  withLogOptions(cmd).action(async (o: { config: string; http?: string; listen?: string; agent?: string; webhook?: string[]; logLevel: string; logFormat: 'auto' | 'json' | 'text' }) => {
    // Before the configuration is parsed: parsing a large checks.yml would otherwise grow V8's young generation.
    (await import('./serve')).keepYoungGenerationSmall();
    const { loadProbeConfig } = await import('./config');
    const settings = loadProbeConfig(o.config, [
      { flag: '--listen', key: 'http', value: o.listen },
      { flag: '--http', key: 'http', value: o.http },
      { flag: '--agent', key: 'agent', value: o.agent },
      { flag: '--webhook', key: 'webhooks', value: o.webhook },
    ]);
    const { createLogger } = await import('../common/log');
    const { onShutdown } = await import('../common/shutdown');
    const { serve } = await import('./serve');
    const logger = createLogger({ name: 'sidekick-probe', level: o.logLevel, format: o.logFormat });
    const server = await serve(settings, { logger });
    onShutdown({ logger, graceMs: settings.grace, stop: () => server.stop() });
  });
  return cmd;
}

function waitCommand(): Command {
  return newCommand('wait', 'Block until every target is healthy (exit 0), or exit 1 after the timeout.', [
    'sidekick-probe wait tcp://db:5432 http://api:8000/ready --timeout 2m',
    'sidekick-probe wait file:/var/run/app/ready',
  ])
    .argument('<target...>', 'tcp://HOST:PORT, http(s)://…, or file:PATH')
    .addOption(new Option('--timeout <duration>', 'give up after this long').argParser(durationArg('--timeout')).default(60_000, '60s'))
    .addOption(new Option('--interval <duration>', 'time between attempts').argParser(durationArg('--interval')).default(1000, '1s'))
    .option('--insecure', 'do not verify TLS certificates of https targets')
    .action(async (targets: string[], o: { timeout: number; interval: number; insecure?: boolean }) => {
      const { parseWaitTarget, waitFor } = await import('./wait');
      const probes = targets.map((t) => parseWaitTarget(t, o.insecure === true));
      exitWith(await waitFor(targets, probes, { timeout: o.timeout, interval: o.interval }));
    });
}

export function probeCommand(name = 'sidekick-probe'): Command {
  return newCommand(name, 'Health probes for ported and portless services: one-shot checks (exit 0 healthy, 1 unhealthy, 2 bad usage) and a long-running sidekick.', [
    'sidekick-probe tcp db:5432',
    'sidekick-probe http http://127.0.0.1:8000/ping --status 200-299 --json',
    'sidekick-probe exec --timeout 5s -- /app/bin/check-queue',
    'sidekick-probe file /var/run/app/heartbeat --max-age 30s',
    'sidekick-probe serve --config checks.yml',
    'sidekick-probe wait tcp://db:5432 --timeout 60s',
  ])
    .enablePositionalOptions()
    .addCommand(tcpCommand())
    .addCommand(httpCommand())
    .addCommand(execCommand())
    .addCommand(icmpCommand())
    .addCommand(fileCommand())
    .addCommand(runCommand())
    .addCommand(serveCommand())
    .addCommand(waitCommand());
}

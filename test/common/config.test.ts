// Configuration precedence (file < environment < flags) and error messages that name the source, key, value and expectation.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { duration, hostPort, loadConfig, size } from '../../src/common/config';
import { ConfigError, UsageError } from '../../src/common/errors';

const schema = z.strictObject({
  auth: z.strictObject({ password: z.string().min(12), api_key: z.string().optional() }).optional(),
  es: z.strictObject({ urls: z.array(z.string().url()).default(['http://127.0.0.1:9200']), index: z.string().default('logs-sidekick-default') }).default({ urls: ['http://127.0.0.1:9200'], index: 'logs-sidekick-default' }),
  interval: duration().default(5000),
  max_line: size().default(1024 * 1024),
  listen: hostPort().optional(),
  checks: z.array(z.strictObject({ name: z.string(), interval: duration().optional() })).default([]),
});

const bindings = {
  SIDEKICK_ES_URL: { key: 'es.urls', kind: 'list' as const },
  SIDEKICK_INTERVAL: { key: 'interval' },
};

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sidekick-config-'));
  const file = join(dir, 'sidekick.yml');
  writeFileSync(file, text);
  return file;
}

function errorOf(fn: () => unknown): ConfigError | UsageError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('loadConfig precedence', () => {
  const file = yamlFile('es:\n  urls: [http://file:9200]\n  index: from-file\ninterval: 10s\nmax_line: 64KiB\n');

  it('uses defaults when nothing is given', () => {
    const cfg = loadConfig(schema, { env: {} });
    expect(cfg).toEqual({ es: { urls: ['http://127.0.0.1:9200'], index: 'logs-sidekick-default' }, interval: 5000, max_line: 1048576, checks: [] });
  });

  it('takes the file over defaults, typed', () => {
    const cfg = loadConfig(schema, { file, env: {} });
    expect(cfg.es).toEqual({ urls: ['http://file:9200'], index: 'from-file' });
    expect(cfg.interval).toBe(10_000);
    expect(cfg.max_line).toBe(65536);
  });

  it('takes the environment over the file, and keeps sibling keys from the file', () => {
    const cfg = loadConfig(schema, { file, env: { SIDEKICK_ES_URL: 'http://env-a:9200, http://env-b:9200', SIDEKICK_INTERVAL: '2m' }, envBindings: bindings });
    expect(cfg.es).toEqual({ urls: ['http://env-a:9200', 'http://env-b:9200'], index: 'from-file' });
    expect(cfg.interval).toBe(120_000);
  });

  it('takes flags over the environment; a flag not given changes nothing', () => {
    const cfg = loadConfig(schema, {
      file,
      env: { SIDEKICK_ES_URL: 'http://env:9200', SIDEKICK_INTERVAL: '2m' },
      envBindings: bindings,
      flags: [
        { flag: '--es', key: 'es.urls', value: ['http://flag:9200'] },
        { flag: '--interval', key: 'interval', value: undefined },
      ],
    });
    expect(cfg.es.urls).toEqual(['http://flag:9200']);
    expect(cfg.interval).toBe(120_000);
  });
});

describe('loadConfig errors', () => {
  it('names the file, key path, value and what was expected for a bad duration', () => {
    const file = yamlFile('checks:\n  - name: db\n    interval: 5x\n');
    const err = errorOf(() => loadConfig(schema, { file, env: {} }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(file);
    expect(err.message).toContain('checks[0].interval');
    expect(err.message).toContain('"5x"');
    expect(err.message).toMatch(/expected a duration such as 500ms, 5s/);
  });

  it('names an unknown key (a typo) and where it is', () => {
    const file = yamlFile('checks:\n  - name: db\n    intervl: 5s\n');
    const err = errorOf(() => loadConfig(schema, { file, env: {} }));
    expect(err.message).toContain(file);
    expect(err.message).toContain('checks[0]');
    expect(err.message).toContain('unknown key "intervl"');
  });

  it('names the environment variable when the bad value came from it', () => {
    const err = errorOf(() => loadConfig(schema, { env: { SIDEKICK_INTERVAL: 'soon' }, envBindings: bindings }));
    expect(err.message).toContain('environment variable SIDEKICK_INTERVAL');
    expect(err.message).toContain('"soon"');
  });

  it('names the flag when the bad value came from it', () => {
    const err = errorOf(() => loadConfig(schema, { env: {}, flags: [{ flag: '--listen', key: 'listen', value: 'nowhere' }] }));
    expect(err.message).toContain('flag --listen');
    expect(err.message).toContain('"nowhere"');
    expect(err.message).toContain('HOST:PORT');
  });

  it('names a bad size and a bad URL', () => {
    const file = yamlFile('max_line: lots\nes:\n  urls: [not a url]\n');
    const err = errorOf(() => loadConfig(schema, { file, env: {} }));
    expect(err.message).toContain('max_line');
    expect(err.message).toContain('"lots"');
    expect(err.message).toMatch(/expected a size such as 512KiB/);
    expect(err.message).toContain('es.urls[0]');
  });

  it('never shows a secret: a secret key\'s value is redacted, a URL loses its credentials', () => {
    const file = yamlFile('auth:\n  password: hunter2\nes:\n  urls: ["http://elastic:s3cret@es 9200"]\n');
    const err = errorOf(() => loadConfig(schema, { file, env: {} }));
    expect(err.message).toContain('auth.password: [redacted] is not valid');
    expect(err.message).toContain('es.urls[0]');
    expect(err.message).not.toContain('hunter2');
    expect(err.message).not.toContain('s3cret');
  });

  it('reports a YAML syntax error with the file, line and column', () => {
    const file = yamlFile('checks:\n  - name: db\n   interval: [5s\n');
    const err = errorOf(() => loadConfig(schema, { file, env: {} }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: invalid YAML`));
  });

  it('reports a missing file plainly', () => {
    const err = errorOf(() => loadConfig(schema, { file: '/nonexistent/sidekick.yml', env: {} }));
    expect(err.message).toBe('/nonexistent/sidekick.yml: cannot read configuration file: no such file');
  });

  it('rejects a file whose top level is not a mapping', () => {
    const file = yamlFile('- just\n- a list\n');
    const err = errorOf(() => loadConfig(schema, { file, env: {} }));
    expect(err.message).toContain('expected a YAML mapping');
  });
});

// Secrets never reach the log, whatever the key's depth; URLs lose their credentials.
import { PassThrough } from 'node:stream';
import { createLogger, redactSecrets, redactUrl } from '../../src/common/log';

function capture(): { stream: PassThrough; text: () => string; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const text = (): string => Buffer.concat(chunks).toString('utf8');
  return {
    stream,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('writes JSON lines with level, name and message', async () => {
    const out = capture();
    const log = createLogger({ name: 'sidekick-test', destination: out.stream, format: 'json' });
    log.info({ files: 3 }, 'started');
    log.debug('hidden at info level');
    await new Promise((r) => setImmediate(r));
    const lines = out.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', name: 'sidekick-test', msg: 'started', files: 3 });
  });

  it('redacts secret-looking keys at any of the first levels', async () => {
    const out = capture();
    const log = createLogger({ name: 't', destination: out.stream, format: 'json' });
    log.info({ password: 'hunter2', es: { api_key: 'k-123', auth: { token: 't-456' } } }, 'config');
    await new Promise((r) => setImmediate(r));
    const text = JSON.stringify(out.lines());
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('k-123');
    expect(text).not.toContain('t-456');
    expect(text).toContain('[redacted]');
  });

  it('writes readable text when asked', async () => {
    const out = capture();
    const log = createLogger({ name: 't', destination: out.stream, format: 'text' });
    log.warn({ file: '/var/log/app.log' }, 'file vanished');
    await new Promise((r) => setImmediate(r));
    expect(out.text()).toMatch(/WARN\s+file vanished {2}file=\/var\/log\/app\.log\n$/);
  });
});

describe('redactSecrets and redactUrl', () => {
  it('replaces secret values but keeps *_file paths and other keys', () => {
    expect(redactSecrets({ es: { password: 'p', password_file: '/run/secrets/es', username: 'elastic' }, api_key: 'x' })).toEqual({
      es: { password: '[redacted]', password_file: '/run/secrets/es', username: 'elastic' },
      api_key: '[redacted]',
    });
  });

  it('strips credentials from URLs', () => {
    expect(redactUrl('https://elastic:changeme@es.example:9200/')).not.toContain('changeme');
    expect(redactUrl('http://127.0.0.1:9200/')).toBe('http://127.0.0.1:9200/');
  });
});

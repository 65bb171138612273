// The ECS document and _id for a line: valid JSON with the fields Kibana and the registry depend on.
import { constantFragment, docId, makeEncoder } from '../../../src/ship/output/encoder';
import type { Line } from '../../../src/ship/types';

function line(over: Partial<Line> = {}): Line {
  return {
    file: { key: 'f3a9c0', dev: 1, ino: 2 },
    path: '/var/log/app/app.log',
    offset: 1234,
    next: 1250,
    text: 'hello world',
    truncated: false,
    ...over,
  };
}

describe('docId', () => {
  it('is the file key and the offset in base 36, the same every time', () => {
    expect(docId('f3a9c0', 1234)).toBe('f3a9c0-ya');
    expect(docId('f3a9c0', 1234)).toBe(docId('f3a9c0', 1234));
  });

  it('differs for different offsets and for different files', () => {
    expect(docId('a', 0)).not.toBe(docId('a', 1));
    expect(docId('a', 10)).not.toBe(docId('b', 10));
  });
});

describe('makeEncoder', () => {
  const encode = makeEncoder({ hostName: 'web-1', agentVersion: '0.1.0', fields: { service: { name: 'api' }, env: 'prod' } });

  it('builds an ECS document with the line, its file and offset, host, agent and configured fields', () => {
    const before = Date.now();
    const doc = encode(line());
    const src = JSON.parse(doc.source) as Record<string, unknown>;
    expect(doc.id).toBe(docId('f3a9c0', 1234));
    expect(src).toEqual({
      '@timestamp': expect.any(String),
      message: 'hello world',
      log: { file: { path: '/var/log/app/app.log' }, offset: 1234 },
      host: { name: 'web-1' },
      agent: { type: 'sidekick-ship', version: '0.1.0' },
      service: { name: 'api' },
      env: 'prod',
    });
    const ts = Date.parse(src['@timestamp'] as string);
    expect(ts).toBeGreaterThanOrEqual(before - 1);
    expect(ts).toBeLessThanOrEqual(Date.now());
    expect(doc.line.offset).toBe(1234);
  });

  it('escapes quotes, backslashes, control characters and unicode in the message and the path', () => {
    const text = 'say "hi" \\ tab\there \u0001 ünï 🎉 </script>';
    const path = '/logs/we"ird\\name.log';
    const src = JSON.parse(encode(line({ text, path })).source) as { message: string; log: { file: { path: string } } };
    expect(src.message).toBe(text);
    expect(src.log.file.path).toBe(path);
  });

  it('marks a cut line with log.flags ["truncated"]', () => {
    const src = JSON.parse(encode(line({ truncated: true })).source) as { log: { flags?: string[]; offset: number } };
    expect(src.log.flags).toEqual(['truncated']);
    expect(src.log.offset).toBe(1234);
  });

  it('follows path changes between lines of different files', () => {
    const a = JSON.parse(encode(line({ path: '/a.log' })).source) as { log: { file: { path: string } } };
    const b = JSON.parse(encode(line({ path: '/b.log' })).source) as { log: { file: { path: string } } };
    expect([a.log.file.path, b.log.file.path]).toEqual(['/a.log', '/b.log']);
  });

  it('merges configured host/agent fields without letting them rename agent.type', () => {
    const frag = JSON.parse('{' + constantFragment({ hostName: 'h', agentVersion: '1', fields: { host: { ip: '10.0.0.1' }, agent: { type: 'x', id: 'a1' } } }) + '}');
    expect(frag).toEqual({ host: { name: 'h', ip: '10.0.0.1' }, agent: { type: 'sidekick-ship', version: '1', id: 'a1' } });
  });

  it('refuses configured fields that would collide with per-line fields, naming the field', () => {
    expect(() => makeEncoder({ hostName: 'h', agentVersion: '1', fields: { message: 'x' } })).toThrow(/field "message"/);
    expect(() => makeEncoder({ hostName: 'h', agentVersion: '1', fields: { 'log.offset': 1 } })).toThrow(/field "log.offset"/);
  });
});

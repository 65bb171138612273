// Durations and sizes parse the same way everywhere.
import { formatDuration, formatSize, parseDuration, parseSize } from '../../src/common/units';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['250', 250],
    [' 10s ', 10_000],
    [42, 42],
  ])('%p is %p ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 's', '5x', '5 s', '-1s', '5s garbage', '1m30', 'ten seconds', -5])('rejects %p', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('parseSize', () => {
  it.each([
    ['512KiB', 512 * 1024],
    ['5MiB', 5 * 1024 * 1024],
    ['1GiB', 1024 ** 3],
    ['1MB', 1_000_000],
    ['1kb', 1000],
    ['100', 100],
    ['1.5KiB', 1536],
    [2048, 2048],
  ])('%p is %p bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'MiB', '5 parsecs', '-1KiB', '5XB', 1.5])('rejects %p', (text) => {
    expect(parseSize(text)).toBeUndefined();
  });
});

describe('formatting', () => {
  it('formats durations and sizes for people', () => {
    expect(formatDuration(750)).toBe('750ms');
    expect(formatDuration(5000)).toBe('5s');
    expect(formatDuration(150_000)).toBe('2m30s');
    expect(formatSize(512)).toBe('512B');
    expect(formatSize(5 * 1024 * 1024)).toBe('5MiB');
  });
});

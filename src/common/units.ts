// Durations ("500ms", "5s", "2m") and sizes ("512KiB", "5MiB") parsed the same way everywhere.

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

export const DURATION_EXPECTED = 'a duration such as 500ms, 5s, 2m, 1h or 1m30s';
export const SIZE_EXPECTED = 'a size such as 512KiB, 5MiB, 1GiB or a number of bytes';

/** Parses "1m30s", "500ms", "5s", "2m", "1h"; a bare number is milliseconds. Returns milliseconds or undefined. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined;
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = part.exec(trimmed)) !== null) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    matched = part.lastIndex;
  }
  if (matched === 0 || matched !== trimmed.length) return undefined;
  return total;
}

/** Parses "512KiB", "5MiB", "1GB", "1024"; returns bytes (an integer) or undefined. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text >= 0 ? text : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2].toLowerCase() || 'b';
  const factor = SIZE_UNITS[unit];
  if (factor === undefined) return undefined;
  return Math.round(Number(m[1]) * factor);
}

/** Short human form of a duration in milliseconds: 750ms, 5s, 2m30s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes}m${seconds}s` : `${minutes}m`;
}

/** Short human form of a byte count: 512B, 1.5KiB, 5MiB. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${+value.toFixed(i === 0 ? 0 : 1)}${units[i]}`;
}

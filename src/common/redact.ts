// Keeping secrets out of what is printed: values under secret-looking keys, and credentials in URLs.
// Separate from log.ts so configuration errors can use it without loading the logger.

const SECRET_KEY = /pass(word)?|secret|token|api_?key|authorization|credential|private_?key/i;
export const REDACTED = '[redacted]';

/** Whether a configuration key names a secret (`password`, `api_key`, …) rather than a path to one (`*_file`). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !/_file$/i.test(key);
}

/** A copy of a value with every secret-looking key's value replaced, for printing configuration. */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) && v !== undefined ? REDACTED : redactSecrets(v);
    }
    return out as T;
  }
  return value;
}

/** Removes user:password@ from a URL so it can be logged. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = u.username ? REDACTED : '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

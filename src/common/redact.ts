// Keeping secrets out of what is printed: values under secret-looking keys, credentials in URLs and command lines.
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

// Names of query parameters, headers, flags and environment variables that carry secrets. Wider than SECRET_KEY
// because outside our own configuration the names are other people's: `?key=` (Google), `?sig=` (Azure SAS),
// `X-Amz-Signature`, `X-Auth-Token`, `Cookie`, `--oauth2-bearer`. A name that only points at a secret
// (`PASSWORD_FILE`, `--token-path`) is kept, so an operator can still see where it comes from.
const SECRET_NAME = /pass|secret|token|key|auth|credential|signature|session|cookie|bearer|private|(^|[-_.])sig($|[-_.])/i;
const POINTER_NAME = /[-_.](file|path)$/i;

/** Whether a query parameter, header, flag or environment variable name looks like it carries a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !POINTER_NAME.test(name);
}

const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)(?:([^/?#]*)@)?([^?#]*)(?:\?([^#]*))?(#.*)?$/is;

/**
 * A URL as it may be printed: a password in user:password@ becomes `[redacted]` (the user name stays, as Go's
 * url.Redacted and Prometheus keep it), a user name alone (often a token, as in https://TOKEN@host) is redacted
 * whole, and the value of every query parameter whose name looks secret (`token`, `api_key`, `sig`, …) is
 * redacted. Other parameters stay, because `?check=db` is what tells an operator one URL from another.
 * The rest of the text is kept as written; a string that is not an absolute URL is returned unchanged.
 */
export function redactUrl(url: string): string {
  const m = URL_PARTS.exec(url);
  if (!m) return url;
  const [, scheme, userinfo, rest, query, fragment] = m;
  let out = scheme!;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    out += colon >= 0 ? `${userinfo.slice(0, colon)}:${REDACTED}@` : userinfo ? `${REDACTED}@` : '@';
  }
  out += rest!;
  if (query !== undefined) {
    out += '?' + query.split('&').map((p) => {
      const eq = p.indexOf('=');
      return eq >= 0 && isSecretName(decodeSafe(p.slice(0, eq))) ? `${p.slice(0, eq)}=${REDACTED}` : p;
    }).join('&');
  }
  return out + (fragment ?? '');
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

// Besides any long flag with a secret name, these take a secret in common health-check commands: curl's
// user:password (-u, --user, -U, --proxy-user; a lone user name, as pg_isready -U takes, is kept) and
// redis-cli/valkey-cli's -a.
const USER_FLAGS = new Set(['-u', '--user', '-U', '--proxy-user']);
const NEXT_IS_SECRET: Record<string, Set<string>> = { 'redis-cli': new Set(['-a']), 'valkey-cli': new Set(['-a']) };
// The MySQL clients take the password stuck to -p (`mysqladmin ping -psecret`).
const MYSQL = /^(mysql|mysqladmin|mysqlcheck|mysqldump|mariadb|mariadb-admin|mariadb-check|mariadb-dump)$/;
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi;

/** The secret flag a word is, if the word after it is the secret (`--password`, `--token`, `-a` of redis-cli, …). */
function secretFlag(word: string, program: string): boolean {
  if (NEXT_IS_SECRET[program]?.has(word)) return true;
  return /^--[a-z0-9][\w-]*$/i.test(word) && isSecretName(word.slice(2));
}

function redactWord(word: string, prev: string | undefined, program: string): string {
  if (prev !== undefined && USER_FLAGS.has(prev) && word.includes(':')) return `${word.slice(0, word.indexOf(':'))}:${REDACTED}`;
  if (prev !== undefined && secretFlag(prev, program) && !word.startsWith('-') && !word.includes('://')) return REDACTED;
  const flag = /^(--[a-z0-9][\w-]*)=(.*)$/is.exec(word);
  if (flag) return `${flag[1]}=${isSecretName(flag[1]!.slice(2)) ? REDACTED : redactWord(flag[2]!, undefined, program)}`;
  // A header as curl -H / wget --header take it: `Authorization: Bearer x`, `X-Api-Key: k`.
  const header = /^([A-Za-z0-9-]+)\s*:\s+\S/.exec(word) ?? /^([A-Za-z][A-Za-z0-9-]*):(?!\/\/)\S/.exec(word);
  if (header && isSecretName(header[1]!)) return `${header[1]}: ${REDACTED}`;
  // An environment assignment: `PGPASSWORD=x`, `env API_TOKEN=x cmd`.
  const env = /^([A-Za-z_][A-Za-z0-9_.]*)=/.exec(word);
  if (env && isSecretName(env[1]!)) return `${env[1]}=${REDACTED}`;
  if (MYSQL.test(program) && /^-p.+/.test(word)) return `-p${REDACTED}`;
  return word.replace(URL_IN_TEXT, redactUrl);
}

/** The program a command runs, looking past `env`, `sudo`, `exec` and leading VAR=value assignments. */
function programOf(args: readonly string[]): string {
  const word = args.find((a) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(a) && !/^(\S*\/)?(env|sudo|exec|nice|timeout)$/.test(a) && !/^-|^\d+s?$/.test(a));
  return word?.split('/').pop() ?? '';
}

/**
 * A command's arguments as they may be printed (an exec check's target, a log line): URLs go through redactUrl,
 * `KEY=value` with a secret-looking KEY, `--flag=value` and `--flag value` with a secret-looking flag, headers
 * such as `Authorization: Bearer x`, curl's `-u user:password`, redis-cli's `-a`, and MySQL's `-pPASSWORD`
 * lose their values. The same number of arguments comes back.
 */
export function redactArgs(args: readonly string[]): string[] {
  const program = programOf(args);
  return args.map((word, i) => redactWord(word, i > 0 ? args[i - 1] : undefined, program));
}

interface Word {
  start: number;
  end: number;
  /** The word as the shell would pass it, quotes removed. */
  value: string;
  /** The quote around the whole word, if it is quoted as one piece. */
  quote?: string;
}

/** Splits text into words as /bin/sh would (quotes and backslashes), keeping where each was in the text. */
function shellWords(text: string): Word[] {
  const words: Word[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    const start = i;
    let value = '';
    while (i < text.length && !/\s/.test(text[i]!)) {
      const c = text[i]!;
      if (c === "'" || c === '"') {
        const close = text.indexOf(c, i + 1);
        const end = close < 0 ? text.length : close;
        value += text.slice(i + 1, end).replace(c === '"' ? /\\(["\\$`])/g : /$^/, '$1');
        i = end + 1;
      } else if (c === '\\' && i + 1 < text.length) {
        value += text[i + 1];
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    const end = Math.min(i, text.length);
    const raw = text.slice(start, end);
    const q = raw[0];
    const quote = (q === "'" || q === '"') && raw.length > 1 && raw.endsWith(q) && raw.indexOf(q, 1) === raw.length - 1 ? q : undefined;
    words.push({ start, end, value, quote });
  }
  return words;
}

/**
 * Free text as it may be printed: a shell command line (an exec check with `shell`), an error message, a
 * configuration value. The text is split into words as the shell would, each word is redacted as redactArgs
 * does, and only the words that changed are rewritten; everything else stays exactly as written.
 */
export function redactText(text: string): string {
  const words = shellWords(text);
  const values = words.map((w) => w.value);
  // Each command of a pipeline or list (`a | b`, `a && b`, `a; b`) has its own program.
  let out = '';
  let last = 0;
  let first = 0;
  words.forEach((w, i) => {
    if (/^(\||&&|\|\||;)$/.test(w.value) || w.value.endsWith(';')) {
      first = i + 1;
      return;
    }
    const redacted = redactArgs(values.slice(first, i + 1))[i - first]!;
    if (redacted === w.value) return;
    const q = w.quote ?? (/[\s'"]/.test(redacted) ? "'" : '');
    out += text.slice(last, w.start) + q + redacted + q;
    last = w.end;
  });
  return out + text.slice(last);
}

/** Whether an exec check's command is a shell line (`shell`, or one word with spaces in it) rather than arguments. */
function isShellLine(command: readonly string[], shell: boolean): boolean {
  return shell || (command.length === 1 && /\s/.test(command[0]!));
}

/** How an exec check's command is printed: its arguments redacted (redactArgs), or its shell line (redactText). */
export function redactCommand(command: readonly string[], shell = false): string {
  return isShellLine(command, shell) ? redactText(command.join(' ')) : redactArgs(command).join(' ');
}

/**
 * The secret values a command carries: for each argument that redactArgs (or redactText, for a shell line)
 * changes, the text its `[redacted]` stands for. Values shorter than 4 characters are left out: replacing every
 * `ab` in a command's output would garble it and hide nothing worth hiding.
 */
export function secretValues(command: readonly string[], shell = false): string[] {
  const words = isShellLine(command, shell) ? shellWords(command.join(' ')).map((w) => w.value) : [...command];
  const redacted = redactArgs(words);
  const found = new Set<string>();
  words.forEach((word, i) => {
    const r = redacted[i]!;
    if (r === word || !r.includes(REDACTED)) return;
    // The redacted word is the original with each secret replaced: match the kept parts around each [redacted].
    const pattern = new RegExp('^' + r.split(REDACTED).map(escapeRegExp).join('(.+?)') + '$', 's');
    const m = pattern.exec(word);
    for (const v of m ? m.slice(1) : []) if (v.length >= 4) found.add(v);
  });
  return [...found];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * What a command printed, as it may be shown (an exec check's `detail.output` and the first line in its message):
 * every occurrence of a secret value of the command itself (secretValues) becomes `[redacted]`, and credentials
 * in URLs in the text go through redactUrl (a client that prints the connection string it failed to reach).
 */
export function redactOutput(output: string, command: readonly string[], shell = false): string {
  let out = output;
  // Longest first, so a value that contains another is replaced whole.
  for (const v of secretValues(command, shell).sort((a, b) => b.length - a.length)) out = out.split(v).join(REDACTED);
  return out.replace(URL_IN_TEXT, redactUrl);
}

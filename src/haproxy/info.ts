// Parser for `show info`: "Key: value" lines into typed values, plus the fields that reveal a reload.

export type InfoValue = string | number;

export interface Info {
  /** Every key as printed (e.g. "Pid", "Uptime_sec", "Build info"), numbers typed. */
  values: Record<string, InfoValue>;
  version?: string;
  pid?: number;
  /** Unix seconds the process started; with pid, it identifies one HAProxy process across reloads. */
  startTime?: number;
  uptimeSec?: number;
  nodeName?: string;
}

export class InfoParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InfoParseError';
  }
}

export function parseInfo(text: string): Info {
  const values: Record<string, InfoValue> = {};
  for (const line of text.split('\n')) {
    if (line === '') continue;
    // Split on the first ": " only: values (Uptime "0d 0h00m01s", node names) may hold colons.
    const at = line.indexOf(': ');
    if (at <= 0) {
      if (line.endsWith(':')) {
        values[line.slice(0, -1)] = '';
        continue;
      }
      throw new InfoParseError(`not a show info output: line ${JSON.stringify(line.slice(0, 80))} is not "Key: value"`);
    }
    const key = line.slice(0, at);
    const raw = line.slice(at + 2);
    values[key] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  }
  if (values.Name === undefined && values.Pid === undefined) throw new InfoParseError('not a show info output: no Name or Pid key');
  const num = (k: string): number | undefined => (typeof values[k] === 'number' ? (values[k] as number) : undefined);
  const str = (k: string): string | undefined => (values[k] === undefined ? undefined : String(values[k]));
  const info: Info = { values };
  const version = str('Version');
  if (version !== undefined) info.version = version;
  const pid = num('Pid');
  if (pid !== undefined) info.pid = pid;
  const start = num('Start_time_sec');
  if (start !== undefined) info.startTime = start;
  const uptime = num('Uptime_sec');
  if (uptime !== undefined) info.uptimeSec = uptime;
  const node = str('node');
  if (node !== undefined) info.nodeName = node;
  return info;
}

/**
 * An identity of the running HAProxy process. Start_time_sec appeared in 2.x; on older versions
 * the start is derived from Uptime_sec, rounded so that a second's jitter between polls does not look like a reload.
 */
export function processIdentity(info: Info, now = Date.now()): string {
  const start = info.startTime ?? (info.uptimeSec !== undefined ? Math.round((now / 1000 - info.uptimeSec) / 5) * 5 : undefined);
  return `${info.pid ?? '?'}@${start ?? '?'}`;
}

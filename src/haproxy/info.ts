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

/** What tells one HAProxy process from the next, sampled from one `show info` answer. */
export interface ProcessSample {
  pid?: number;
  startTime?: number;
  uptimeSec?: number;
  /** When `show info` was sent and when its answer arrived (ms since epoch): the uptime was read in between. */
  sentAt: number;
  answeredAt: number;
}

/**
 * How far (seconds) a start time derived from `Uptime_sec` must have moved, beyond what the whole-second uptime
 * and the time the answer took can explain, to mean another process.
 */
export const START_TOLERANCE_SEC = 1;

export function processSample(info: Info, sentAt: number, answeredAt = sentAt): ProcessSample {
  return { pid: info.pid, startTime: info.startTime, uptimeSec: info.uptimeSec, sentAt, answeredAt };
}

/**
 * Whether `cur` comes from another HAProxy process than `prev` (a reload or a restart): a changed Pid; a changed
 * Start_time_sec (2.x); or, where only Uptime_sec tells (1.8), an uptime that went backwards, or a start time that
 * moved later by more than START_TOLERANCE_SEC. The start is known only within bounds: the uptime was read at
 * some instant between sending and answering, and it is a difference of whole seconds (off by less than 1 s
 * either way), so the start lies in (sentAt - uptime - 1, answeredAt - uptime + 1). Two answers of one process
 * have overlapping bounds however slow they were; comparing a start derived from one instant and rounded to 5 s
 * made phantom reloads whenever the start lay near a rounding boundary.
 */
export function isNewProcess(prev: ProcessSample, cur: ProcessSample): boolean {
  if (prev.pid !== undefined && cur.pid !== undefined && prev.pid !== cur.pid) return true;
  if (prev.startTime !== undefined && cur.startTime !== undefined) return prev.startTime !== cur.startTime;
  if (prev.uptimeSec === undefined || cur.uptimeSec === undefined) return false;
  if (cur.uptimeSec < prev.uptimeSec) return true;
  const prevLatest = prev.answeredAt / 1000 - prev.uptimeSec + 1;
  const curEarliest = cur.sentAt / 1000 - cur.uptimeSec - 1;
  return curEarliest - prevLatest > START_TOLERANCE_SEC;
}

// HAProxy status strings ("UP 1/3", "DRAIN (agent)", "MAINT (via b/s)", "OPEN", ...) normalised to one state.

/** A server's, backend's or frontend's state as the orchestrator needs it. */
export type ServerState = 'up' | 'down' | 'going-down' | 'going-up' | 'drain' | 'maint' | 'nolb' | 'no-check' | 'unknown';

export const STATES: readonly ServerState[] = ['up', 'down', 'going-down', 'going-up', 'drain', 'maint', 'nolb', 'no-check', 'unknown'];

/** Progress of a transitional check state: "UP 1/3" means 1 of 3 failed checks needed to go down have happened. */
export interface Progress {
  done: number;
  needed: number;
}

export interface ParsedStatus {
  state: ServerState;
  /** The status word without progress or reason: UP, DOWN, NOLB, DRAIN, MAINT, no check, OPEN, STOP, FULL. */
  word: string;
  progress?: Progress;
  /** Why: "agent" for agent-driven states, "via b/s" for tracked maintenance, "resolution" for DNS. */
  reason?: string;
}

const cache = new Map<string, ParsedStatus>();

/**
 * Parses a status as HAProxy prints it in `show stat` (srv_hlt_st[] and the admin overrides in stats.c).
 * A server that is UP but failing checks ("UP 1/3") is going down; one that is DOWN but passing ("DOWN 1/2")
 * is going up. Anything HAProxy does not print (an empty field from a broken dump) is "unknown".
 */
export function parseStatus(status: string): ParsedStatus {
  let parsed = cache.get(status);
  if (parsed === undefined) {
    parsed = parse(status);
    // The set of distinct strings is small (n/m combinations), so caching keeps 10k-row polls cheap.
    if (cache.size < 4096) cache.set(status, parsed);
  }
  return parsed;
}

export function normaliseStatus(status: string): ServerState {
  return parseStatus(status).state;
}

function parse(raw: string): ParsedStatus {
  const text = raw.trim();
  const m = /^([A-Za-z]+(?: check)?)(?:\s*(\d+)\/(\d+))?(?:\s*\(([^)]*)\))?$/.exec(text);
  if (!m) return { state: 'unknown', word: text };
  const word = m[1]!.toLowerCase() === 'no check' ? 'no check' : m[1]!.toUpperCase();
  const progress = m[2] !== undefined ? { done: Number(m[2]), needed: Number(m[3]) } : undefined;
  const reason = m[4] !== undefined ? m[4].trim() : undefined;
  const base = { word, ...(progress ? { progress } : {}), ...(reason !== undefined ? { reason } : {}) };
  switch (word) {
    case 'UP':
      return { state: progress ? 'going-down' : 'up', ...base };
    case 'DOWN':
      return { state: progress ? 'going-up' : 'down', ...base };
    case 'NOLB':
      return { state: progress ? 'going-down' : 'nolb', ...base };
    case 'DRAIN':
      return { state: progress ? 'going-down' : 'drain', ...base };
    case 'MAINT':
      return { state: 'maint', ...base };
    case 'no check':
      return { state: 'no-check', ...base };
    case 'OPEN':
    case 'FULL': // a frontend or listener at its maxconn still accepts traffic once a slot frees
      return { state: 'up', ...base };
    case 'STOP':
    case 'STOPPED':
      return { state: 'down', ...base };
    case 'WAITING': // a listener paused for lack of resources (fd or memory)
      return { state: 'nolb', ...base };
    default:
      return { state: 'unknown', ...base };
  }
}

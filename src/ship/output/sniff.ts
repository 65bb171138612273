// Sniffing (es.sniff): the cluster's own list of its nodes' HTTP addresses (GET /_nodes/http) replaces the
// configured URLs in the rotation, and is asked again on an interval and after a connection failure, so nodes
// that join are used and nodes that leave are dropped. The configured URLs stay the fallback to ask.
import { errorMessage } from '../../common/errors';
import type { Logger } from '../../common/log';
import type { Endpoints } from './transport';

/** Only what the node list needs; filter_path keeps the answer small on a big cluster. */
export const NODES_PATH = '/_nodes/http?filter_path=nodes.*.name,nodes.*.roles,nodes.*.http.publish_address';

interface NodesInfo {
  nodes?: Record<string, { name?: string; roles?: string[]; http?: { publish_address?: string } }>;
}

/**
 * The HTTP URLs of the nodes in a GET /_nodes/http answer that take writes, as `protocol//host:port`, sorted.
 * A publish_address is `ip:port`, `[v6]:port` or `hostname/ip:port`; with a hostname, the hostname is used
 * (TLS certificates name hosts), as the official clients do. Dedicated cluster managers (a manager role and
 * no data or ingest role) are left out, as the official clients' default node filter does. Throws on a body
 * that is not such an answer.
 */
export function nodeUrls(text: string, protocol: 'http:' | 'https:'): string[] {
  const parsed = JSON.parse(text) as NodesInfo;
  if (!parsed || typeof parsed !== 'object' || !parsed.nodes || typeof parsed.nodes !== 'object') {
    throw new Error('the answer has no nodes');
  }
  const urls = new Set<string>();
  for (const node of Object.values(parsed.nodes)) {
    const address = node.http?.publish_address;
    if (typeof address !== 'string' || address.length === 0) continue;
    const roles = Array.isArray(node.roles) ? node.roles : [];
    const manager = roles.includes('master') || roles.includes('cluster_manager');
    const writes = roles.some((r) => r.startsWith('data') || r === 'ingest');
    if (manager && !writes) continue;
    const slash = address.indexOf('/');
    let host = slash > 0 ? address.slice(0, slash) : address.slice(slash + 1, address.lastIndexOf(':'));
    const port = address.slice(address.lastIndexOf(':') + 1);
    if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
    urls.add(`${protocol}//${host}:${port}`);
  }
  return [...urls].sort();
}

/** Soonest a failure triggers another sniff after the last one. */
const MIN_SNIFF_GAP_MS = 1000;

export class Sniffer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastAt = 0;
  private stopped = false;
  private readonly protocol: 'http:' | 'https:';

  constructor(
    private readonly endpoints: Endpoints,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {
    this.protocol = endpoints.seeds[0].origin.startsWith('https:') ? 'https:' : 'http:';
  }

  /** Sniffs now and then every intervalMs. */
  start(): void {
    void this.sniff();
  }

  /** A connection failed: the node may have left; ask again soon (at most once a second). */
  soon(): void {
    if (this.stopped || this.running) return;
    const wait = Math.max(0, this.lastAt + MIN_SNIFF_GAP_MS - Date.now());
    this.schedule(wait);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.sniff(), ms);
    this.timer.unref();
  }

  /** Asks the nodes in rotation, then the seeds, until one answers; keeps the rotation as it is if none does. */
  sniff(): Promise<void> {
    this.running ??= this.ask().finally(() => {
      this.running = undefined;
      this.lastAt = Date.now();
      if (!this.stopped) this.schedule(this.intervalMs);
    });
    return this.running;
  }

  private async ask(): Promise<void> {
    let lastError = 'no node to ask';
    for (const e of this.endpoints.candidates()) {
      try {
        const reply = await this.endpoints.getFrom(e, NODES_PATH, AbortSignal.timeout(10_000));
        if (reply.status !== 200) {
          lastError = `HTTP ${reply.status} from ${e.label}`;
          continue;
        }
        const urls = nodeUrls(reply.text, this.protocol);
        if (urls.length === 0) {
          lastError = `${e.label} listed no node that takes writes`;
          continue;
        }
        const { added, removed } = this.endpoints.replace(urls);
        if (added.length > 0 || removed.length > 0) this.logger.info({ added, removed, nodes: urls.length }, 'engine nodes changed (sniffed)');
        return;
      } catch (err) {
        lastError = `${e.label}: ${errorMessage(err)}`;
      }
    }
    this.logger.warn({ err: lastError }, 'could not list the engine nodes (sniff); keeping the nodes known');
  }
}

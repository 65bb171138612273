// Heartbeat/TTL pushes of `serve`: a URL called after every healthy run (Consul TTL, Uptime Kuma, Gatus style).
import { httpCall } from '../common/webhooks';

/** Fills {check}, {status}, {message}, {duration_ms} in a heartbeat URL. */
export function fillPushUrl(url: string, values: Record<string, string | number>): string {
  return url.replace(/\{(check|status|message|duration_ms)\}/g, (_m, k: string) => encodeURIComponent(String(values[k] ?? '')));
}

/** Calls a heartbeat URL once; resolves to the reason it failed, if it did. */
export async function pushHeartbeat(url: string, method: string, timeoutMs: number): Promise<string | undefined> {
  return (await httpCall(url, method, {}, undefined, timeoutMs))?.why;
}

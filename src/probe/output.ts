// How one-shot results are printed: a readable line, or with --json one JSON object per check per line.
import { describeTarget, type ProbeResult, type ResultLine, type Target } from './types';

export function resultLine(check: string, target: Target, r: ProbeResult): ResultLine {
  return { check, kind: target.kind, target: describeTarget(target), ok: r.ok, duration_ms: r.duration_ms, message: r.message, detail: r.detail };
}

export function formatResult(line: ResultLine, json: boolean): string {
  if (json) return JSON.stringify(line);
  const name = line.check === line.kind ? '' : `${line.check}: `;
  return `${line.ok ? 'OK  ' : 'FAIL'} ${name}${line.kind} ${line.target}: ${line.message} (${line.duration_ms} ms)`;
}

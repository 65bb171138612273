// file probe: a heartbeat or log file exists and, with a maximum age, was modified recently (portless services).
import { stat } from 'node:fs/promises';
import type { Detail, FileTarget, Probe } from '../types';
import { human, result } from './common';

export const fileProbe: Probe<FileTarget> = async (cfg) => {
  const start = performance.now();
  const detail: Detail = {};
  try {
    const st = await stat(cfg.path);
    const age = Math.max(0, Date.now() - st.mtimeMs);
    detail.age_ms = Math.round(age);
    detail.size = st.size;
    detail.mtime = st.mtime.toISOString();
    if (cfg.max_age !== undefined && age > cfg.max_age) {
      return result(start, false, `${cfg.path} is ${human(age)} old > ${human(cfg.max_age)}`, detail);
    }
    return result(start, true, `${cfg.path} modified ${human(age)} ago`, detail);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    return result(start, false, `${cfg.path}: ${why}`, detail);
  }
};

/** Types for engine.js (plain CommonJS so run.mjs and jest can both load it without a build). */
import type { ChildProcess } from 'node:child_process';

export declare const OPENSEARCH_VERSION: string;
export declare const ENGINE_DIR: string;

export declare class EngineToolMissingError extends Error {
  readonly code: 'ENGINE_TOOL_MISSING';
  readonly tool: 'java' | 'mvn';
  constructor(tool: 'java' | 'mvn', detail: string);
}

export interface BuildResult {
  built: boolean;
  reason: string;
  ms: number;
}

export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** HTTP port; 0 (default) lets the engine pick a free one. */
  port?: number;
  /** JVM max heap, default '768m'. */
  heap?: string;
  /** log4j root level, default env SIDEKICK_ENGINE_LOG or WARN. */
  logLevel?: string;
  timeoutMs?: number;
  log?: (line: string) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Default true: the JVM exits when this process goes away (stdin EOF). */
  exitWithParent?: boolean;
}

export interface EngineHandle {
  url: string;
  port: number;
  pid: number;
  startMs: number;
  child: ChildProcess;
  exited: Promise<EngineExit>;
  stop(graceMs?: number): Promise<EngineExit>;
}

export declare function buildEngine(options?: { force?: boolean; log?: (line: string) => void }): Promise<BuildResult>;
export declare function buildReason(): string | null;
export declare function checkJava(): number;
export declare function checkMaven(): void;
export declare function startEngine(options?: StartOptions): Promise<EngineHandle>;
export declare function waitForHealth(url: string, deadline: number, isDead?: () => boolean): Promise<unknown>;

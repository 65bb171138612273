/** Shared between global-setup.ts and global-teardown.ts (they run in the same jest parent process). */
import type { EngineHandle } from '../engine/engine';

export const ENGINE_HANDLE_KEY = '__sidekickTestEngine';

export type EngineGlobal = typeof globalThis & { [ENGINE_HANDLE_KEY]?: EngineHandle };

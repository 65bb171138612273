// Loads the shipper's Node-API bindings (native/*.c, built by scripts/build-native.mjs into native/build/<name>.node
// under the package root), each once.
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../common/version';

/** Where the built binding `name` is: native/build/<name>.node under the package root (undefined: no root found). */
export function nativePath(name: string): string | undefined {
  return PACKAGE_ROOT === undefined ? undefined : join(PACKAGE_ROOT, `native/build/${name}.node`);
}

const loaded = new Map<string, { binding: unknown; error: string | undefined }>();

/**
 * The binding `name` (native/build/<name>.node), loaded on the first call; undefined when it is not built or does not
 * load, and then nativeError(name) says why. Never throws.
 */
export function loadNative<T>(name: string): T | undefined {
  let entry = loaded.get(name);
  if (entry === undefined) {
    try {
      const file = nativePath(name);
      if (file === undefined) throw new Error('the sidekick package root was not found');
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a native addon loads only through require
      entry = { binding: require(file) as unknown, error: undefined };
    } catch (err) {
      entry = { binding: undefined, error: (err as Error).message.split('\n')[0] };
    }
    loaded.set(name, entry);
  }
  return entry.binding as T | undefined;
}

/** Why loadNative(name) found no binding (undefined when it did, or before it was called). */
export function nativeError(name: string): string | undefined {
  return loaded.get(name)?.error;
}

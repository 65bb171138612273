// Loads the libdeflate gzip binding (native/gzip-libdeflate.c, built by scripts/build-native.mjs into
// native/build/gzip-libdeflate.node under the package root), once.
import { loadNative, nativeError, nativePath } from './native';

/** A libdeflate compressor held by the binding (opaque; freed when collected). */
export type LibdeflateHandle = { readonly __libdeflate: unique symbol };

/** The binding's surface (see native/gzip-libdeflate.c). */
export interface LibdeflateBinding {
  /** libdeflate's version, e.g. `1.14`. */
  readonly version: string;
  /** A compressor at `level` (1..12; throws a RangeError outside). */
  open(level: number): LibdeflateHandle;
  /**
   * One complete gzip member of `input`, made on libuv's thread pool; one call at a time per handle (throws
   * otherwise). `input` is read in place until the promise settles: not to be written, transferred or detached before.
   */
  gzip(handle: LibdeflateHandle, input: Buffer): Promise<Buffer>;
}

/** Where the built binding is: native/build/gzip-libdeflate.node under the package root. */
export const LIBDEFLATE_BINDING = nativePath('gzip-libdeflate');

/** The binding, or undefined when it is not built or does not load (then libdeflateError() says why). */
export function loadLibdeflate(): LibdeflateBinding | undefined {
  return loadNative<LibdeflateBinding>('gzip-libdeflate');
}

/** Why loadLibdeflate() found no binding (undefined when it did, or before it is called). */
export function libdeflateError(): string | undefined {
  return nativeError('gzip-libdeflate');
}

// The bulk-lines binding (native/bulk-lines.c): frames a run of plain lines and writes their _bulk operations in one
// call; makeRunEncoder (encoder.ts) wraps it.
import { loadNative, nativeError, nativePath } from './native';

/** The binding's surface (see native/bulk-lines.c for the whole contract). */
export interface BulkLinesBinding {
  /**
   * Frames the lines of src[start, end) (pos: the file offset of src[start]) and writes the _bulk operation of each,
   * `opHead + base-36 offset + head + "line" + mid + decimal offset + tail`, into arena from `at`. Stops before a line
   * it leaves to the JS path (partial, NUL-led, empty, longer than maxLine, holding a byte to escape or a non-ASCII
   * byte, or not fitting in arena) and after maxDocs lines or maxBytes bytes of operations. Fills `out`: out[0] the
   * index in src after the last line taken, out[1] where the operations end in arena, then per line its offset, the
   * offset after its \n and where its operation ends. Returns how many lines it took. Throws a TypeError on arguments
   * of the wrong type or out of range.
   */
  writeLines(
    src: Buffer,
    start: number,
    end: number,
    pos: number,
    arena: Buffer,
    at: number,
    opHead: Buffer,
    head: Buffer,
    mid: Buffer,
    tail: Buffer,
    maxLine: number,
    maxDocs: number,
    maxBytes: number,
    out: Float64Array,
  ): number;
}

/** Where the built binding is: native/build/bulk-lines.node under the package root. */
export const BULK_LINES_BINDING = nativePath('bulk-lines');

/** The binding, or undefined when it is not built, does not load, or SIDEKICK_NATIVE is `off` (then every plain line
 * goes through the JS encoder). */
export function loadBulkLines(env: NodeJS.ProcessEnv = process.env): BulkLinesBinding | undefined {
  return env.SIDEKICK_NATIVE === 'off' ? undefined : loadNative<BulkLinesBinding>('bulk-lines');
}

/** Why loadBulkLines() found no binding (undefined when it did, was turned off, or before it is called). */
export function bulkLinesError(): string | undefined {
  return nativeError('bulk-lines');
}

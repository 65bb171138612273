// The shipper's domain types: what the input side hands the pipeline, and what flows back as acknowledgements.

/** A file's identity, stable across renames and independent of inode reuse. */
export interface FileIdentity {
  /**
   * Stable key used in the registry and in every document _id: a hash of device, inode, birth time and first line
   * (input/identity.ts). '' while it cannot be derived yet (the content has no complete first line, so no line).
   */
  key: string;
  dev: number;
  ino: number;
  /** Birth time (statx), ns as decimal text; absent where the filesystem keeps none. */
  btime?: string;
}

/** One line read from a file; offsets are byte offsets in that file. */
export interface Line {
  file: FileIdentity;
  /** The path the line was read from (log.file.path). */
  path: string;
  /** Byte offset of the line's first byte (log.offset). */
  offset: number;
  /** Byte offset just after the line's terminator: where reading resumes once this line is acknowledged. */
  next: number;
  /** Text without the terminator (no trailing \r); invalid UTF-8 replaced. */
  text: string;
  /** The line was longer than the limit and was cut. */
  truncated: boolean;
}

/**
 * Receives one line as bytes of a buffer that is written again once the call returns: buf[start, end) is the line
 * without its terminator (nor a \r before it), maybe invalid UTF-8, cut at the limit when `truncated`; the other
 * arguments mean what Line's fields of the same names mean. For consumers that copy the bytes at once (plain lines:
 * Pipeline.lineBytes), so that no string is made per line.
 */
export type LineBytesSink = (file: FileIdentity, path: string, offset: number, next: number, buf: Buffer, start: number, end: number, truncated: boolean) => void;

/**
 * Takes as many whole lines of buf[start, end) as it can at once (pos: the file offset of buf[start]), each ending in
 * \n within the range, none longer than maxLine bytes, from the first on and without a gap; returns the index just
 * after the \n of the last one taken (start when none). The framer hands the line there, and any it is not offered,
 * to its per-line sinks. buf is written again once the call returns (see LineBytesSink). For plain lines
 * (Pipeline.lineRun).
 */
export type LineRunSink = (file: FileIdentity, path: string, buf: Buffer, start: number, end: number, pos: number, maxLine: number) => number;

/** How the engine settled one document. */
export type Outcome = 'created' | 'duplicate' | 'dead-letter';

/** A document ready for _bulk: its _id and its JSON source, plus the line it came from for acks. */
export interface Doc {
  id: string;
  /** JSON text of the document source. */
  source: string;
  line: Line;
  /** The bulk action line up to the _id (`{"create":{"_index":...,"pipeline":...,"_id":`) when the document goes
   * elsewhere than the sink's index or through an ingest pipeline; absent: the sink's index, no pipeline. */
  action?: string;
  /** The document's target when it is not the sink's index (dead-letter records name it). */
  index?: string;
  /** Near the length of the _bulk operation, for documents whose `source` is built only when read (batch sizes). */
  readonly opLength?: number;
  /**
   * Writes the whole _bulk operation (action line and source, each ending in \n) as UTF-8 into buf at `at` and
   * returns where it ends, for documents that keep their parts rather than a source string. buf must have
   * opBound() bytes from `at`: the operation takes at most that, and the bytes after it up to the end of buf may
   * be used as scratch room.
   */
  writeOp?(buf: Buffer, at: number): number;
  /** For documents with writeOp: UTF-16 units of the strings they hold besides their line's text (a joined
   * message, fields as text), for the pipeline's count of memory in flight. */
  readonly heldLength?: number;
  opBound?(): number;
}

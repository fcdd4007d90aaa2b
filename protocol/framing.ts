/**
 * Framing over a byte stream (a `Deno.Conn` or anything with the same `read`/`write`):
 * a buffered {@linkcode ByteReader} that reads exactly the bytes asked for,
 * {@linkcode readFrame} that reads one frame, {@linkcode writeAll} that writes every byte,
 * and {@linkcode encodeFrame}. This layer knows frames, not messages.
 *
 * @module
 */

import { writeAll as writeEvery } from "../util/mod.ts";
import { ConnectionClosedError, ProtocolError, toConnectionError } from "./errors.ts";
import {
  ErrorCode,
  HEADER_SIZE,
  MAGIC,
  MAX_FRAME_SIZE,
  MAX_PAYLOAD_SIZE,
  toHexByte,
  UNAUTHENTICATED_VERSION,
  VERSION,
} from "./types.ts";

/** One frame as read from the wire: its type byte and a payload the caller owns. */
export interface Frame {
  /** Byte 2 of the header (a {@linkcode MessageType} code, not yet checked). */
  type: number;
  /** The payload bytes, at most {@linkcode MAX_PAYLOAD_SIZE}. */
  payload: Uint8Array;
  /** Byte 1 of the header, 1 or 2 ({@linkcode readFrame} always sets it). */
  version?: number;
}

/** What {@linkcode ByteReader} reads from: `Deno.Conn` fits. */
export interface ByteSource {
  /** Reads up to `p.length` bytes into `p`; the count read, or `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
}

/** What {@linkcode writeAll} writes to: `Deno.Conn` fits. */
export interface ByteSink {
  /** Writes some of `p` (maybe fewer than all); the count written. */
  write(p: Uint8Array): Promise<number>;
}

/** Options of {@linkcode ByteReader}. */
export interface ByteReaderOptions {
  /**
   * Initial size of the internal buffer; it grows only when one read needs more.
   * @default {65536}
   */
  bufferSize?: number;
}

/** Default size of the {@linkcode ByteReader} buffer. */
export const DEFAULT_BUFFER_SIZE = 64 * 1024;

/** After this many reads or writes in a row that move 0 bytes, the stream is deemed dead. */
const MAX_EMPTY_CALLS = 100;

const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;
// ignoreBOM: a leading U+FEFF is text like any other, not a byte order mark to drop.
const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

let readFrameOf: (reader: ByteReader, view: boolean) => Promise<Frame | null>;

/**
 * Buffered reader over a {@linkcode ByteSource}. It keeps one buffer, fills it with as
 * much as each `read` gives, and hands out copies, so a returned array is never
 * overwritten by later reads (unless `readFrame` is asked for a view). Reads loop over short reads; end of stream before the
 * bytes asked for is a {@linkcode ConnectionClosedError}. Socket errors such as
 * `ConnectionReset` become {@linkcode ConnectionClosedError} too.
 *
 * One read at a time: a call made while another is pending throws.
 *
 * @example
 * ```ts ignore
 * const reader = new ByteReader(conn);
 * for (let frame; (frame = await readFrame(reader)) !== null;) handle(frame);
 * ```
 */
export class ByteReader {
  #source: ByteSource;
  #buffer: Uint8Array;
  #start = 0;
  #end = 0;
  #eof = false;
  #busy = false;

  static {
    readFrameOf = (reader, view) => reader.#guard(() => reader.#readFrame(view));
  }

  /** Wraps `source`; RangeError when `options.bufferSize` is not a positive integer. */
  constructor(source: ByteSource, options: ByteReaderOptions = {}) {
    const size = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`Invalid bufferSize: ${size} (expected a positive integer)`);
    }
    this.#source = source;
    this.#buffer = new Uint8Array(size);
  }

  /** Bytes read from the source and not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Current size of the internal buffer. */
  get capacity(): number {
    return this.#buffer.length;
  }

  /** The next byte without consuming it; `null` at end of stream. */
  peek(): Promise<number | null> {
    return this.#guard(async () => {
      const available = this.#end - this.#start || await this.#fill(1, 1);
      return available === 0 ? null : this.#buffer[this.#start];
    });
  }

  /**
   * Exactly `n` bytes, as a new array. The buffer grows to `n` if needed, so callers
   * bound `n` first.
   * @throws {ConnectionClosedError} when the stream ends before `n` bytes
   */
  async readFull(n: number): Promise<Uint8Array> {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`Invalid byte count: ${n} (expected a non-negative integer)`);
    }
    return await this.#guard(async () => {
      let available = this.#end - this.#start;
      if (available < n) available = await this.#fill(n, n);
      if (available < n) {
        throw new ConnectionClosedError(
          `Connection closed: expected ${n} bytes, got ${available}`,
        );
      }
      const bytes = this.#buffer.slice(this.#start, this.#start + n);
      this.#consume(n);
      return bytes;
    });
  }

  /**
   * One line of text ending in `"\n"` (a `"\r"` just before it is dropped too), decoded as
   * UTF-8, without its terminator. A last line with no `"\n"` is returned as is; `null`
   * at end of stream.
   * @throws {ProtocolError} MALFORMED when the line is over `maxBytes` bytes (terminator
   *   excluded) or is not UTF-8
   */
  async readLine(maxBytes: number): Promise<string | null> {
    if (!Number.isInteger(maxBytes) || maxBytes < 0) {
      throw new RangeError(`Invalid maxBytes: ${maxBytes} (expected a non-negative integer)`);
    }
    return await this.#guard(() => this.#readLine(maxBytes));
  }

  async #readLine(maxBytes: number): Promise<string | null> {
    // The longest acceptable line with its "\r\n" terminator.
    const limit = maxBytes + 2;
    let scanned = 0;
    for (;;) {
      const available = this.#end - this.#start;
      const window = this.#buffer.subarray(this.#start, this.#start + Math.min(available, limit));
      const newline = window.indexOf(LINE_FEED, scanned);
      if (newline >= 0) {
        const end = newline > 0 && window[newline - 1] === CARRIAGE_RETURN ? newline - 1 : newline;
        const line = this.#decodeLine(window, end, maxBytes);
        this.#consume(newline + 1);
        return line;
      }
      if (available >= limit) throw lineTooLong(maxBytes);
      if (this.#eof) {
        if (available === 0) return null;
        const line = this.#decodeLine(window, available, maxBytes);
        this.#consume(available);
        return line;
      }
      scanned = window.length;
      await this.#fill(available + 1, limit);
    }
  }

  #decodeLine(window: Uint8Array, end: number, maxBytes: number): string {
    if (end > maxBytes) throw lineTooLong(maxBytes);
    try {
      return fatalDecoder.decode(window.subarray(0, end));
    } catch (error) {
      throw new ProtocolError("Invalid UTF-8 in line", { cause: error });
    }
  }

  async #readFrame(view: boolean): Promise<Frame | null> {
    let available = this.#end - this.#start;
    if (available < HEADER_SIZE) available = await this.#fill(HEADER_SIZE, HEADER_SIZE);
    if (available === 0) return null;
    let buffer = this.#buffer;
    let start = this.#start;
    const magic = buffer[start];
    if (magic !== MAGIC) {
      throw new ProtocolError(
        `Bad magic byte: ${toHexByte(magic)} (expected ${toHexByte(MAGIC)})`,
        { code: ErrorCode.MALFORMED },
      );
    }
    const version = buffer[start + 1];
    if (available >= 2 && version !== VERSION && version !== UNAUTHENTICATED_VERSION) {
      throw new ProtocolError(
        `Unsupported protocol version: ${version} ` +
          `(expected ${UNAUTHENTICATED_VERSION} or ${VERSION})`,
        { code: ErrorCode.UNSUPPORTED_VERSION },
      );
    }
    if (available < HEADER_SIZE) {
      throw new ConnectionClosedError(
        `Connection closed mid-frame: got ${available} of ${HEADER_SIZE} header bytes`,
      );
    }
    const type = buffer[start + 2];
    const length = (buffer[start + 3] << 8) | buffer[start + 4];
    if (length > MAX_PAYLOAD_SIZE) {
      throw new ProtocolError(
        `Frame too large: ${HEADER_SIZE + length} bytes (max ${MAX_FRAME_SIZE})`,
        { code: ErrorCode.MALFORMED },
      );
    }
    const total = HEADER_SIZE + length;
    if (available < total) {
      available = await this.#fill(total, total);
      if (available < total) {
        throw new ConnectionClosedError(
          `Connection closed mid-frame: got ${available - HEADER_SIZE} of ${length} ` +
            `payload bytes`,
        );
      }
      buffer = this.#buffer;
      start = this.#start;
    }
    const payload = view
      ? buffer.subarray(start + HEADER_SIZE, start + total)
      : buffer.slice(start + HEADER_SIZE, start + total);
    this.#consume(total);
    return { type, payload, version };
  }

  /**
   * Reads until at least `n` bytes are buffered or the stream ends; returns the count
   * buffered. The buffer grows to at most `limit` (>= `n`) bytes.
   */
  async #fill(n: number, limit: number): Promise<number> {
    this.#reserve(n, limit);
    let empty = 0;
    while (this.#end - this.#start < n && !this.#eof) {
      let count: number | null;
      try {
        count = await this.#source.read(this.#buffer.subarray(this.#end));
      } catch (error) {
        throw toConnectionError(error);
      }
      if (count === null) {
        this.#eof = true;
      } else if (count === 0) {
        if (++empty >= MAX_EMPTY_CALLS) {
          throw new ConnectionClosedError(
            `Connection stalled: ${MAX_EMPTY_CALLS} reads in a row returned 0 bytes`,
          );
        }
      } else {
        empty = 0;
        this.#end += count;
      }
    }
    return this.#end - this.#start;
  }

  /** Makes room for `n` bytes from `#start`: compacts, or grows the buffer (to <= `limit`). */
  #reserve(n: number, limit: number): void {
    const buffer = this.#buffer;
    if (this.#start + n <= buffer.length) return;
    const available = this.#end - this.#start;
    if (n <= buffer.length) {
      buffer.copyWithin(0, this.#start, this.#end);
    } else {
      const grown = new Uint8Array(Math.max(n, Math.min(buffer.length * 2, limit)));
      grown.set(buffer.subarray(this.#start, this.#end));
      this.#buffer = grown;
    }
    this.#start = 0;
    this.#end = available;
  }

  #consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
  }

  async #guard<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#busy) {
      throw new Error("ByteReader is busy: another read is still pending");
    }
    this.#busy = true;
    try {
      return await operation();
    } finally {
      this.#busy = false;
    }
  }
}

function lineTooLong(maxBytes: number): ProtocolError {
  return new ProtocolError(`Line too long: more than ${maxBytes} bytes`, {
    code: ErrorCode.MALFORMED,
  });
}

/** Options of {@linkcode readFrame}. */
export interface ReadFrameOptions {
  /**
   * Return the payload as a view of the reader's buffer instead of a copy: no
   * allocation a frame, but the bytes are only valid until the next read from
   * the reader. For a caller that is done with a frame before reading the next.
   * @default {false}
   */
  view?: boolean;
}

/**
 * Reads one frame: checks magic, version and length from the header before reading the
 * payload, which is returned as a new array.
 * @returns the frame, or `null` when the stream ends exactly between two frames
 * @throws {ProtocolError} MALFORMED on a bad magic byte or a length over 8187;
 *   UNSUPPORTED_VERSION on a version other than 1 or 2
 * @throws {ConnectionClosedError} when the stream ends inside a frame
 */
export function readFrame(
  reader: ByteReader,
  options: ReadFrameOptions = {},
): Promise<Frame | null> {
  return readFrameOf(reader, options.view ?? false);
}

/**
 * Writes every byte of `bytes`, calling `writer.write` again after a short write.
 * Socket errors such as `BrokenPipe`, and a writer that stalls (writes 0 bytes
 * again and again), become {@linkcode ConnectionClosedError}.
 */
export async function writeAll(writer: ByteSink, bytes: Uint8Array): Promise<void> {
  try {
    await writeEvery(writer, bytes);
  } catch (error) {
    throw toConnectionError(error);
  }
}

/**
 * Writes the header of a frame into its first {@linkcode HEADER_SIZE} bytes: magic,
 * `version` ({@linkcode VERSION} unless given), `type`, and the payload length, which is
 * the rest of `frame`.
 */
export function writeFrameHeader(frame: Uint8Array, type: number, version = VERSION): void {
  const length = frame.length - HEADER_SIZE;
  frame[0] = MAGIC;
  frame[1] = version;
  frame[2] = type;
  frame[3] = length >>> 8;
  frame[4] = length & 0xff;
}

/**
 * Builds a whole frame (header and a copy of `payload`).
 * @throws {RangeError} when `type` is not a byte or the frame would exceed 8192 bytes
 */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new RangeError(`Field out of range: type is ${type} (expected an integer 0..255)`);
  }
  if (payload.length > MAX_PAYLOAD_SIZE) {
    throw new RangeError(
      `Frame too large: ${HEADER_SIZE + payload.length} bytes (max ${MAX_FRAME_SIZE})`,
    );
  }
  const frame = new Uint8Array(HEADER_SIZE + payload.length);
  writeFrameHeader(frame, type);
  frame.set(payload, HEADER_SIZE);
  return frame;
}

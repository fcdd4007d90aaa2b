/**
 * Raw conversations with a server under test: write bytes as a hostile or
 * broken peer would, read whatever comes back until the server closes, and
 * decode it. Used by the robustness tests (fuzz, stalled peers, SIGTERM).
 *
 * @module
 */

import {
  ByteReader,
  decodeMessage,
  encodeMessage,
  type Message,
  readFrame,
  writeAll,
} from "../protocol/mod.ts";

/** What came back from one {@linkcode exchange}. */
export interface Exchange {
  /** Every byte received. */
  received: Uint8Array;
  /** The server ended the connection (end of stream or reset) before the timeout. */
  closed: boolean;
  /** Our write failed: the server had closed first (fine for hostile input). */
  writeFailed: boolean;
  /** Milliseconds from connect to close (or to the timeout). */
  elapsedMs: number;
}

/** Options of {@linkcode exchange}. */
export interface ExchangeOptions {
  /** Longest wait for the server to close. @default 5000 */
  timeoutMs?: number;
  /** Half-close our side after writing, so the server sees the end of what we send. @default true */
  halfClose?: boolean;
}

/**
 * Connects to 127.0.0.1:`port`, writes `bytes`, then reads until the server
 * closes the connection or `timeoutMs` passes. Never throws for what the
 * server does (close, reset); throws only when it cannot connect.
 */
export async function exchange(
  port: number,
  bytes: Uint8Array,
  options: ExchangeOptions = {},
): Promise<Exchange> {
  const started = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }, options.timeoutMs ?? 5000);
  let writeFailed = false;
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    try {
      if (bytes.length > 0) await writeAll(conn, bytes);
      if (options.halfClose ?? true) await conn.closeWrite();
    } catch {
      writeFailed = true;
    }
    const buffer = new Uint8Array(16 * 1024);
    for (;;) {
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch {
        break; // reset by the server, or closed by our timer
      }
      if (count === null) break;
      chunks.push(buffer.slice(0, count));
      total += count;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
  const received = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    received.set(chunk, offset);
    offset += chunk.length;
  }
  return { received, closed: !timedOut, writeFailed, elapsedMs: performance.now() - started };
}

/**
 * Decodes every whole frame of `bytes` (what a server sent) into messages.
 * @throws when the bytes are not a sequence of well-formed frames
 */
export async function decodeAll(bytes: Uint8Array): Promise<Message[]> {
  let offset = 0;
  const reader = new ByteReader({
    read(p: Uint8Array): Promise<number | null> {
      if (offset >= bytes.length) return Promise.resolve(null);
      const count = Math.min(p.length, bytes.length - offset);
      p.set(bytes.subarray(offset, offset + count));
      offset += count;
      return Promise.resolve(count);
    },
  });
  const messages: Message[] = [];
  for (let frame; (frame = await readFrame(reader)) !== null;) {
    messages.push(decodeMessage(frame));
  }
  return messages;
}

/** Several messages as one byte string, in order. */
export function frames(...messages: Message[]): Uint8Array {
  const encoded = messages.map((message) => encodeMessage(message));
  const bytes = new Uint8Array(encoded.reduce((sum, frame) => sum + frame.length, 0));
  let offset = 0;
  for (const frame of encoded) {
    bytes.set(frame, offset);
    offset += frame.length;
  }
  return bytes;
}

/** Concatenates byte strings. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

/** An open connection kept by a test (a stalled or idle peer). */
export class HeldConnection {
  readonly conn: Deno.TcpConn;
  readonly #reader: ByteReader;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.#reader = new ByteReader(conn);
  }

  /** The connection's reader (for a test that reads frames itself). */
  get reader(): ByteReader {
    return this.#reader;
  }

  /** Connects to 127.0.0.1:`port`. */
  static async open(port: number): Promise<HeldConnection> {
    return new HeldConnection(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Writes bytes as they are. */
  async write(bytes: Uint8Array): Promise<void> {
    await writeAll(this.conn, bytes);
  }

  /**
   * Reads the next message (null when the server closed). Bounded: after `timeoutMs`
   * the connection is closed, which ends the read with an error (and the test).
   */
  async next(timeoutMs = 30_000): Promise<Message | null> {
    const timer = setTimeout(() => {
      try {
        this.conn.close();
      } catch {
        // Already closed.
      }
    }, timeoutMs);
    try {
      const frame = await readFrame(this.#reader);
      return frame === null ? null : decodeMessage(frame);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Whether the server has closed the connection: reads with a short bound;
   * no end of stream within `waitMs` means still open.
   */
  async isClosed(waitMs = 50): Promise<boolean> {
    this.#probe ??= this.#reader.peek().then((byte) => byte === null, () => true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const open = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
    });
    const closed = await Promise.race([this.#probe, open]);
    clearTimeout(timer);
    return closed;
  }

  /** A pending read that tells whether the server closed (it ends when we close). */
  #probe: Promise<boolean> | undefined;

  /** Closes our side (and waits for a pending probe to end). */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    await this.#probe;
  }
}

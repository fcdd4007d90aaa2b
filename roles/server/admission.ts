/**
 * {@linkcode Admission}: turning away the connections past MAX_CONNECTIONS,
 * with BUSY to a binary client and a bounded wait, so a flood of them costs
 * the server little.
 *
 * @module
 */

import { encodeMessage, ErrorCode, MAGIC, MessageType } from "../../protocol/mod.ts";
import { writeAll } from "../../util/mod.ts";
import { log } from "../log.ts";
import { closeQuietly, drainInput, LINGER_MS, remoteIp } from "./_socket.ts";

/** Longest wait for the first byte of a refused connection (to tell binary from text). */
const REFUSE_WAIT_MS = 1000;
/** Refused connections handled at once; past it they are closed without a word. */
const MAX_REFUSING = 64;

/** Options of {@linkcode Admission}. */
export interface AdmissionOptions {
  /** Connections served at once; the next ones are refused. */
  maxConnections: number;
  /** The read timeout: a refused connection waits no longer for its first byte. */
  readTimeoutMs: number;
  /** Aborted on shutdown: every refusal in progress closes at once. */
  signal: AbortSignal;
}

/** Decides whether a new connection is served, and refuses the ones that are not. */
export class Admission {
  #options: AdmissionOptions;
  #refusals = new Set<Promise<void>>();

  /** Admission for a server with these limits. */
  constructor(options: AdmissionOptions) {
    this.#options = options;
  }

  /** Whether a connection may be served while `serving` others are. */
  admits(serving: number): boolean {
    return serving < this.#options.maxConnections;
  }

  /** Turns away a connection over MAX_CONNECTIONS: BUSY to a binary client, then close. */
  refuse(conn: Deno.TcpConn): void {
    log.warning({
      action: "connection",
      result: "fail",
      ip: remoteIp(conn),
      reason: "too many connections",
      max_connections: this.#options.maxConnections,
    });
    if (this.#refusals.size >= MAX_REFUSING) {
      closeQuietly(conn);
      return;
    }
    const waitMs = Math.min(this.#options.readTimeoutMs, REFUSE_WAIT_MS);
    const refusal = refuseConnection(conn, { waitMs, signal: this.#options.signal });
    this.#refusals.add(refusal);
    refusal.finally(() => this.#refusals.delete(refusal));
  }

  /** Resolves once every refusal in progress has closed its connection. */
  async finished(): Promise<void> {
    await Promise.allSettled([...this.#refusals]);
  }
}

/** Options of {@linkcode refuseConnection}. */
interface RefuseOptions {
  /** Longest wait for the first byte. */
  waitMs: number;
  /** Aborted on shutdown: close at once. */
  signal: AbortSignal;
}

/**
 * Reads the first byte of a refused connection: a binary client (0xB7) gets
 * an ERROR frame BUSY, a text client nothing; then the connection is closed.
 */
async function refuseConnection(conn: Deno.TcpConn, options: RefuseOptions): Promise<void> {
  const close = () => closeQuietly(conn);
  let timer = setTimeout(close, options.waitMs);
  options.signal.addEventListener("abort", close, { once: true });
  try {
    const first = new Uint8Array(1);
    const count = await conn.read(first);
    if (count === 1 && first[0] === MAGIC) {
      const reason = "Too many connections: try again later";
      await writeAll(
        conn,
        encodeMessage({ type: MessageType.ERROR, code: ErrorCode.BUSY, reason }),
      );
    }
    clearTimeout(timer);
    timer = setTimeout(close, Math.min(options.waitMs, LINGER_MS));
    await drainInput(conn);
  } catch {
    // Closed by the timer, the shutdown or the peer: nothing more to say.
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", close);
    close();
  }
}

/**
 * Reaching the server: {@linkcode connectWithRetry} (attempts with backoff
 * until a deadline) and {@linkcode Link}, the run's one connection, (re)made
 * on demand and closed when the run is aborted or ends.
 *
 * @module
 */

import { UNAUTHENTICATED_VERSION, VERSION } from "../../protocol/mod.ts";
import { describeError } from "../../util/mod.ts";
import { log } from "../log.ts";
import { firstLine } from "./_outcome.ts";
import { type Backoff, waitToRetry } from "./backoff.ts";
import { ConnectError, isRetryable } from "./errors.ts";
import { ServerTargets } from "./targets.ts";
import { Peer } from "./peer.ts";

/** A failed attempt is logged at most this often. */
const CONNECT_LOG_EVERY_MS = 1000;
/** One attempt is given at least this long, even when the deadline is nearer (or 0). */
const ATTEMPT_MIN_MS = 1000;

/** Options of {@linkcode connectWithRetry}. */
export interface ConnectWithRetryOptions {
  /** `performance.now()` after which no new attempt starts. */
  deadline: number;
  /** Aborting it stops at once (the error is the signal's reason). */
  signal?: AbortSignal;
  /** The pause between attempts. @default DEFAULT_BACKOFF (50 ms doubling up to 2 s, jittered) */
  backoff?: Backoff;
  /** The addresses to try, one after another (failover). @default those of `address` */
  targets?: ServerTargets;
}

/**
 * Connects to `host:port`, retrying with the backoff until
 * `options.deadline`; logs `action: connect | result: in_progress` at most
 * once a second meanwhile.
 *
 * @throws {ConnectError} with the last reason and the attempts made, once the
 *   deadline has passed.
 */
export async function connectWithRetry(
  address: string,
  options: ConnectWithRetryOptions,
): Promise<{ conn: Deno.TcpConn; attempts: number }> {
  const targets = options.targets ?? new ServerTargets(address);
  const signal = options.signal ?? new AbortController().signal;
  let lastLog = Number.NEGATIVE_INFINITY;
  for (let attempt = 1;; attempt++) {
    signal.throwIfAborted();
    const left = options.deadline - performance.now();
    let failure: unknown;
    try {
      const conn = await connectOnce(await targets.current(), {
        timeoutMs: Math.max(left, ATTEMPT_MIN_MS),
        signal,
      });
      return { conn, attempts: attempt };
    } catch (error) {
      signal.throwIfAborted();
      if (!isRetryableConnectError(error)) throw error;
      failure = error;
      // The next attempt goes to the next replica, if there are several.
      targets.advance();
    }
    const reason = describeConnectError(failure);
    const now = performance.now();
    if (now >= options.deadline) {
      throw new ConnectError(reason, { attempts: attempt, cause: failure });
    }
    if (now - lastLog >= CONNECT_LOG_EVERY_MS) {
      lastLog = now;
      log.info({ action: "connect", result: "in_progress", attempt, reason });
    }
    await waitToRetry(attempt, { backoff: options.backoff, deadline: options.deadline, signal });
  }
}

/** One connection attempt, given up after `timeoutMs` (TimedOut) or on abort. */
async function connectOnce(
  where: { hostname: string; port: number },
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<Deno.TcpConn> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Deno.errors.TimedOut("connection attempt timed out")),
    options.timeoutMs,
  );
  const onAbort = () => controller.abort(options.signal.reason);
  options.signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await Deno.connect({ ...where, transport: "tcp", signal: controller.signal });
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", onAbort);
  }
}

/** Whether a failed connect may succeed later (server not up yet, name not resolvable yet). */
function isRetryableConnectError(error: unknown): boolean {
  return !(error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable || error instanceof RangeError);
}

function describeConnectError(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (error instanceof Deno.errors.TimedOut) return "timed out";
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset";
  return firstLine(describeError(error));
}

/** What a {@linkcode Link} connects to, and how patiently. */
export interface LinkOptions {
  /** The server, `host:port`. */
  serverAddress: string;
  /** How long to keep trying to (re)connect, in milliseconds (0: one attempt). */
  connectDeadlineMs: number;
  /** Aborting it closes the connection at once (SIGTERM). */
  signal: AbortSignal;
  /** The pause between attempts. @default DEFAULT_BACKOFF */
  backoff?: Backoff;
  /**
   * The agency and its key: every connection, the first and each reconnect, starts with
   * the handshake (protocol version 2). None: protocol version 1, no handshake.
   */
  auth?: { agency: number; key: CryptoKey };
}

/**
 * The client's connection to the server, (re)made on demand; closed when the
 * run is aborted (SIGTERM) or ends. With a key, each connection is authenticated
 * before it is handed out, so a reconnect (or a failover) authenticates again.
 */
export class Link {
  #options: LinkOptions;
  #conn: Deno.TcpConn | undefined;
  #targets: ServerTargets;
  #onAbort = () => this.#close();

  /** A link not connected yet. */
  constructor(options: LinkOptions) {
    this.#options = options;
    this.#targets = new ServerTargets(options.serverAddress);
    options.signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Connects (retrying until connect.deadline from now) and logs it. */
  async connect(): Promise<Peer> {
    return await this.reconnect(performance.now());
  }

  /**
   * Drops the current connection and connects again, retrying until `since` +
   * deadline. The handshake is part of connecting: a connection reset or left
   * silent during it (a server that dies or restarts meanwhile) is retried like
   * a refused one, within the same deadline.
   */
  async reconnect(since: number): Promise<Peer> {
    const { serverAddress, connectDeadlineMs, signal, backoff } = this.#options;
    const deadline = since + connectDeadlineMs;
    for (let handshakes = 1;; handshakes++) {
      // A dropped connection: the next try goes to another replica, if there are several.
      if (this.#conn !== undefined) this.#targets.advance();
      this.#close();
      const { conn, attempts } = await connectWithRetry(serverAddress, {
        deadline,
        signal,
        backoff,
        targets: this.#targets,
      });
      this.#conn = conn;
      log.info({ action: "connect", result: "success", server_address: serverAddress, attempts });
      const auth = this.#options.auth;
      if (auth === undefined) return new Peer(conn, UNAUTHENTICATED_VERSION);
      const peer = new Peer(conn, VERSION);
      try {
        await peer.authenticate(auth.agency, auth.key);
      } catch (error) {
        if (signal.aborted || !isRetryable(error) || performance.now() >= deadline) throw error;
        log.warning({
          action: "auth",
          result: "in_progress",
          agency: auth.agency,
          attempt: handshakes,
          reason: firstLine(describeError(error)),
        });
        await waitToRetry(handshakes, { backoff, deadline, signal });
        continue;
      }
      log.info({ action: "auth", result: "success", agency: auth.agency });
      return peer;
    }
  }

  /** The protocol version of this link's connections: 2 with a key, 1 without. */
  get version(): number {
    return this.#options.auth === undefined ? UNAUTHENTICATED_VERSION : VERSION;
  }

  /** Closes the connection; logs it unless the run was aborted (which logs its own line). */
  dispose(): void {
    const signal = this.#options.signal;
    signal.removeEventListener("abort", this.#onAbort);
    if (this.#conn === undefined) return;
    this.#close();
    if (!signal.aborted) {
      log.info({ action: "shutdown", result: "success", resource: "connection" });
    }
  }

  #close(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * The client's errors: the server refused what we sent (an ERROR frame), or
 * it could not be reached before the connect deadline; and which failures of
 * a running conversation are worth a reconnect.
 *
 * @module
 */

import { ConnectionClosedError, ErrorCode, errorCodeName } from "../../protocol/mod.ts";

/**
 * Server error codes after which trying again on a new connection makes sense. STORAGE: the
 * server could not store (a replica that lost its database, docs/replicas.md); nothing it
 * answered so was stored, so it is sent again, to that replica or another.
 */
const RETRYABLE_CODES: ReadonlySet<number> = new Set([
  ErrorCode.BUSY,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.TIMEOUT,
  ErrorCode.STORAGE,
]);

/** The server answered with an ERROR frame (and closes the connection). */
export class ServerError extends Error {
  /** The `ErrorCode` the server sent. */
  readonly code: number;

  /** Creates the error from the frame's code and reason. */
  constructor(code: number, reason: string) {
    super(`Server error ${errorCodeName(code)}: ${reason}`);
    this.name = "ServerError";
    this.code = code;
  }
}

/**
 * The server could not prove it holds this agency's key (its AUTH_OK is wrong): it is not
 * the lottery's server, and nothing more is sent to it.
 */
export class AuthError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "AuthError";
  }
}

/** The client could not reach the server before its deadline. */
export class ConnectError extends Error {
  /** Why the last attempt failed, short and lower-case: `connection refused`. */
  readonly reason: string;
  /** Attempts made. */
  readonly attempts: number;

  /** Creates the error from the last attempt's failure. */
  constructor(reason: string, options: { attempts: number; cause?: unknown }) {
    super(`Cannot connect: ${reason} (${options.attempts} attempts)`, { cause: options.cause });
    this.name = "ConnectError";
    this.reason = reason;
    this.attempts = options.attempts;
  }
}

/**
 * Whether a failure of a running conversation is worth a reconnect: the
 * connection dropped, or the server turned us away for now (BUSY,
 * SHUTTING_DOWN, TIMEOUT, STORAGE).
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ConnectionClosedError) return true;
  if (error instanceof ServerError) return RETRYABLE_CODES.has(error.code);
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.TimedOut ||
    error instanceof Deno.errors.Interrupted;
}

/**
 * Errors of the protocol layer, and the mapping of Deno's socket errors into them.
 *
 * @module
 */

import { ErrorCode, type ErrorCodeValue } from "./types.ts";

/** Options of {@linkcode ProtocolError}. */
export interface ProtocolErrorOptions extends ErrorOptions {
  /**
   * Which {@linkcode ErrorCode} describes the problem; the server sends it back in ERROR.
   * @default {ErrorCode.MALFORMED}
   */
  code?: ErrorCodeValue;
}

/** The peer sent bytes that break the protocol: bad header, bad payload, too large. */
export class ProtocolError extends Error {
  /** The {@linkcode ErrorCode} that describes the problem. */
  readonly code: ErrorCodeValue;

  /** Makes an error with a one-line message and an {@linkcode ErrorCode} (MALFORMED if none). */
  constructor(message: string, options: ProtocolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ProtocolError";
    this.code = options.code ?? ErrorCode.MALFORMED;
  }
}

/** The connection ended where it must not: in the middle of a frame, or by a reset. */
export class ConnectionClosedError extends Error {
  /** Makes an error; the message defaults to `Connection closed by peer`. */
  constructor(message = "Connection closed by peer", options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionClosedError";
  }
}

const CLOSED_ERRORS: ReadonlyArray<new (...args: never[]) => Error> = [
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.BrokenPipe,
  Deno.errors.UnexpectedEof,
  Deno.errors.Interrupted,
  Deno.errors.WriteZero,
];

/**
 * Maps an error thrown by a socket read or write: `Deno.errors.ConnectionReset`,
 * `ConnectionAborted`, `BrokenPipe`, `UnexpectedEof` and `Interrupted` become a
 * {@linkcode ConnectionClosedError} whose `cause` is the original; anything else is
 * returned unchanged.
 */
export function toConnectionError(error: unknown): unknown {
  for (const type of CLOSED_ERRORS) {
    if (error instanceof type) {
      return new ConnectionClosedError(`Connection closed: ${error.name}: ${error.message}`, {
        cause: error,
      });
    }
  }
  return error;
}

const ERROR_CODE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(ErrorCode).map(([name, code]) => [code, name]),
);

/** Name of an {@linkcode ErrorCode} for logs, e.g. `1` -> `"INVALID_BET"`; unknown -> `"UNKNOWN(42)"`. */
export function errorCodeName(code: number): string {
  return ERROR_CODE_NAMES.get(code) ?? `UNKNOWN(${code})`;
}

/**
 * Errors of the server role.
 *
 * @module
 */

import type { ErrorCodeValue } from "../../protocol/mod.ts";

/** A request the server cannot serve (its storage failed): answered with ERROR, then closed. */
export class RequestFailed extends Error {
  /** The {@linkcode ErrorCode} sent back. */
  readonly code: ErrorCodeValue;

  /** Makes the error; `options.code` is what the client is told. */
  constructor(message: string, options: { code: ErrorCodeValue; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "RequestFailed";
    this.code = options.code;
  }
}

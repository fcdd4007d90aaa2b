/**
 * The error of the bet store, and how a caught error is shown in its message.
 *
 * @module
 */

/** A failure of the bet store: opening, writing or syncing its file, or use after close. */
export class StoreError extends Error {
  /** Creates a store error; pass the underlying error as `cause`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreError";
  }
}

/** The message of a caught error, or the value as text when it is not an Error. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

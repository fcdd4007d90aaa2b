/**
 * The one-line text of a thrown value, for log lines and error messages.
 *
 * @module
 */

/** The message of an `Error`, or the value as a string when something else was thrown. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
